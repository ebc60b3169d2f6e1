"""Organization (UKCore-Organization): a partner agency. No ODS code is held, so no
identifier (UK Core requires system and value only on identifiers that are present)."""

from __future__ import annotations

from fhir.resources.R4B.organization import Organization

from service.fhir.common import Record, homeward_code, meta


def build(row: Record) -> Organization:
    telecom = [
        {"system": system, "value": value}
        for system, value in (("phone", row.phone), ("email", row.email))
        if value
    ]
    return Organization.model_validate(
        dict(
            id=str(row.id),
            meta=meta("Organization", last_updated=row.updated_at),
            active=row.active,
            name=row.name,
            type=[homeward_code("agency-kind", row.kind)],
            telecom=telecom or None,
        )
    )
