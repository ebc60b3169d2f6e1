from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.params import JSONBody

from service.http.auth import ADMIN, WARD, roles
from service.http.params import Caller, ClockDep, Db, IdPath, LanguagePath, PurposePath
from service.message_templates import service
from service.message_templates.out import to_out
from service.message_templates.schemas import (
    LanguageConfirmationOut,
    TemplateIn,
    TemplateList,
    TemplateOut,
    TemplateVersionList,
    TemplateVersionOut,
)


class MessageTemplateController(Controller):
    path = "/api/v1/wards/{ward_id:uuid}/message-templates"
    tags = ["message templates"]

    @get(
        "/",
        opt=roles(ADMIN, WARD),
        summary="Every purpose with the text in force per language, and where it comes from",
    )
    async def list_(self, ward_id: IdPath, db: Db, caller: Caller) -> TemplateList:
        entries, confirmed = await service.list_templates(db, caller, ward_id)
        return TemplateList(
            items=[to_out(e) for e in entries], confirmed_languages=sorted(confirmed)
        )

    @put(
        "/{purpose:str}/{language:str}",
        opt=roles(ADMIN, WARD),
        summary="Word a purpose in a language for this ward (admins, the ward's managers)",
        description=(
            "Saved as a new version (older versions are kept, so the text a patient was sent "
            "can always be shown). Refused with 422 naming the reason: an unknown placeholder, "
            "a missing required one, a clinical word in a discreet variant, or a body over the "
            "segment budget with the sample values. Audited."
        ),
    )
    async def put_(
        self,
        ward_id: IdPath,
        purpose: PurposePath,
        language: LanguagePath,
        data: JSONBody[TemplateIn],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> TemplateOut:
        entry = await service.put_template(
            db, caller, ward_id, purpose, language, data.body, clock.now()
        )
        return to_out(entry)

    @get(
        "/{purpose:str}/{language:str}/versions",
        opt=roles(ADMIN, WARD),
        summary="Every version the ward saved for a purpose and language, newest first",
        description=(
            "Outbound texts in the message history name the template version they came "
            "from; this shows its words. Built-in texts are in the code, version 1."
        ),
    )
    async def versions(
        self,
        ward_id: IdPath,
        purpose: PurposePath,
        language: LanguagePath,
        db: Db,
        caller: Caller,
    ) -> TemplateVersionList:
        rows = await service.versions(db, caller, ward_id, purpose, language)
        return TemplateVersionList(
            items=[
                TemplateVersionOut(
                    version=r.version, body=r.body, created_at=r.created_at, created_by=r.created_by
                )
                for r in rows
            ]
        )

    @delete(
        "/{purpose:str}/{language:str}",
        opt=roles(ADMIN, WARD),
        status_code=204,
        summary="Withdraw the ward's own wording: the built-in text applies again",
    )
    async def remove(
        self,
        ward_id: IdPath,
        purpose: PurposePath,
        language: LanguagePath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> None:
        await service.delete_template(db, caller, ward_id, purpose, language, clock.now())

    @post(
        "/languages/{language:str}/confirm",
        opt=roles(ADMIN, WARD),
        status_code=200,
        summary="Confirm a built-in language shipped for review (Welsh) for this ward",
        description=(
            "Until confirmed, the ward's patients who speak it get English. Audited; "
            "confirming again changes nothing."
        ),
    )
    async def confirm(
        self, ward_id: IdPath, language: LanguagePath, db: Db, caller: Caller, clock: ClockDep
    ) -> LanguageConfirmationOut:
        at = await service.confirm_language(db, caller, ward_id, language, clock.now())
        return LanguageConfirmationOut(
            language=service.canonical(language), confirmed=True, confirmed_at=at
        )
