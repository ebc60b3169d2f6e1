"""Good practice to adopt: one ward's setting shown beside another's, and copied across in one
step through `service.update_ward` (so the same checks, the same merge and the same audit of
the changed fields apply), after a preview that changes nothing.

Adoptable settings are listed in ADOPTABLE: name -> (label, path in the ward's settings).
Message templates are being built elsewhere; when they land, add their entry here (and a
reader in `_value`) and the outcomes page offers them with no other change.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Ward
from service import audit
from service.errors import InvalidInput, NotFound
from service.principal import Principal
from service.wards.access import managed_ward
from service.wards.schemas import EscalationPolicy, EscalationPolicyChange, WardUpdate
from service.wards.service import _changed_paths, _policy, update_ward

Setting = Literal[
    "check_in_schedule", "acknowledge_deadlines", "resolve_deadlines", "reply_read_window"
]

ADOPTABLE: dict[str, tuple[str, str]] = {
    "check_in_schedule": ("Check-in schedule (hours after discharge, reply window)", "check_ins"),
    "acknowledge_deadlines": ("Acknowledge deadlines per level", "ack_minutes"),
    "resolve_deadlines": ("Resolve-by deadlines after acknowledging", "resolve_minutes"),
    "reply_read_window": ("Minutes a reply may wait unread", "read_minutes"),
    # "message_templates": hook for the templates work (not built yet).
}


class AdoptIn(msgspec.Struct, forbid_unknown_fields=True):
    from_ward_id: uuid.UUID
    setting: Setting
    # false: preview only (nothing changes); true: copy it.
    confirm: bool = False


class AdoptOut(msgspec.Struct):
    ward_id: uuid.UUID
    from_ward_id: uuid.UUID
    from_ward_name: str
    setting: str
    label: str
    current: Any
    proposed: Any
    # Dotted names of the settings that would change (or did).
    changes: list[str]
    applied: bool


def _value(ward: Ward, path: str) -> Any:
    policy: EscalationPolicy = _policy(ward.escalation_policy, "escalation_policy")
    return msgspec.to_builtins(getattr(policy, path))


def settings_side_by_side(mine: Ward, theirs: Ward) -> list[tuple[str, str, Any, Any]]:
    """(setting, label, this ward's value, the other ward's value) for every adoptable one."""
    return [
        (name, label, _value(mine, path), _value(theirs, path))
        for name, (label, path) in ADOPTABLE.items()
    ]


async def adopt_setting(
    session: AsyncSession,
    caller: Principal,
    ward_id: uuid.UUID,
    data: AdoptIn,
    now: datetime,
) -> AdoptOut:
    """Preview (confirm false) or copy (confirm true) one setting of another ward to this one.

    Only someone who may change this ward's settings may do either (another ward: 404).
    Settings carry no patient data, so any ward's may be read as a source."""
    ward = await managed_ward(session, caller, ward_id, "ward.adopt_setting", now)
    source = await session.get(Ward, data.from_ward_id)
    if source is None:
        raise NotFound("No such ward to adopt from.")
    if source.id == ward.id:
        raise InvalidInput.field("from_ward_id", "must be another ward")
    label, path = ADOPTABLE[data.setting]
    current, proposed = _value(ward, path), _value(source, path)
    changes = _changed_paths(current, proposed, f"escalation_policy.{path}")
    applied = False
    if data.confirm and changes:
        change = msgspec.convert({path: proposed}, EscalationPolicyChange)
        await update_ward(session, caller, ward.id, WardUpdate(escalation_policy=change), now)
        applied = True
    audit.record(
        session,
        caller,
        "ward.adopt_setting" if data.confirm else "ward.adopt_setting_preview",
        at=now,
        ward_id=ward.id,
        object_type="ward",
        object_id=ward.id,
        detail={
            "from_ward_id": str(source.id),
            "setting": data.setting,
            "fields": changes,
            "applied": applied,
        },
    )
    return AdoptOut(
        ward_id=ward.id,
        from_ward_id=source.id,
        from_ward_name=source.name,
        setting=data.setting,
        label=label,
        current=current,
        proposed=proposed,
        changes=changes,
        applied=applied,
    )


async def side_by_side(
    session: AsyncSession,
    caller: Principal,
    ward_id: uuid.UUID,
    from_ward_id: uuid.UUID,
    now: datetime,
) -> tuple[Ward, Ward, list[tuple[str, str, Any, Any]]]:
    """This ward's adoptable settings beside another ward's, for those who may change this
    ward's settings."""
    ward = await managed_ward(session, caller, ward_id, "ward.adopt_setting", now)
    source = await session.get(Ward, from_ward_id)
    if source is None:
        raise NotFound("No such ward to adopt from.")
    return ward, source, settings_side_by_side(ward, source)
