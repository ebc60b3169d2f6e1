from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get
from litestar.openapi import ResponseSpec
from litestar.params import QueryParameter
from litestar.response import Stream

from service.fhir import bundle, export
from service.http.auth import MANAGER_AND_ADMIN, WARD, roles
from service.http.params import Caller, ClockDep, Db, IdPath

Include = Annotated[
    str | None,
    QueryParameter(
        pattern="^history$", description="history: add the plan's earlier versions as well"
    ),
]
Types = Annotated[
    str | None,
    QueryParameter(
        name="_type",
        max_length=400,
        description="Comma-separated resource types (default: every type, in a fixed order)",
    ),
]


class FhirController(Controller):
    tags = ["fhir"]

    @get(
        "/api/v1/patients/{patient_id:uuid}/fhir",
        opt=roles(WARD),
        summary="The patient's record as a FHIR R4 collection Bundle",
        media_type=bundle.MEDIA_TYPE,
        responses={
            200: ResponseSpec(
                data_container=dict[str, Any],
                generate_examples=False,
                media_type=bundle.MEDIA_TYPE,
                description="A FHIR R4 Bundle of type collection (see README, FHIR)",
            )
        },
    )
    async def patient(
        self,
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        include: Include = None,
    ) -> Response[bytes]:
        body = await bundle.patient_bundle(
            db, caller, patient_id, clock.now(), history=include == "history"
        )
        return Response(content=body, media_type=bundle.MEDIA_TYPE)

    @get(
        "/api/v1/wards/{ward_id:uuid}/fhir/$export",
        opt=roles(MANAGER_AND_ADMIN),
        summary="The ward as FHIR NDJSON (bulk export), streamed",
        media_type=export.MEDIA_TYPE,
        responses={
            200: ResponseSpec(
                data_container=str,
                generate_examples=False,
                media_type=export.MEDIA_TYPE,
                description="One FHIR resource per line, grouped by type in the order the "
                f"`{export.TYPES_HEADER}` header lists (with counts)",
            )
        },
    )
    async def ward_export(
        self,
        ward_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        type_: Types = None,
    ) -> Stream:
        started = await export.start(db, caller, ward_id, clock.now(), type_)
        return Stream(
            export.lines(db, started),
            media_type=export.MEDIA_TYPE,
            headers={export.TYPES_HEADER: started.header()},
        )
