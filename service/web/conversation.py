"""The patient's conversation page (ward staff): the SMS history both ways as a live region,
the free-text replies waiting to be read (each with "Mark read"), the form to text the
patient, and "stop texting this patient" (the API's `sms_consent: false`)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from service.conversation.messages import list_messages, send_message
from service.conversation.schemas import MessageIn
from service.errors import InvalidInput
from service.http.auth import WARD
from service.http.params import Caller, ClockDep, Db, IdPath, Res
from service.http.state import AppResources
from service.pagination import MAX_LIMIT
from service.patient_access.texting import CANNOT_TEXT, why_not_text
from service.patients.schemas import PatientUpdate
from service.patients.service import get_patient, update_patient
from service.principal import Principal
from service.replies.service import list_replies, read_reply
from service.web.common import back_to, form_of, names_of, page, render
from service.web.forms import Form, attempt, checkbox, parse

MESSAGES_SHOWN = 100
SEND_LABELS = {"body": "Text"}
STOP_LABELS = {"confirm": "Confirmation"}
CONFIRMATIONS = {
    "sent": "Text queued: it goes within the patient's contact hours.",
    "read": "Reply marked read.",
    "stopped": "Texting stopped: the patient's SMS consent is recorded as withdrawn.",
}


def _base(patient_id: uuid.UUID) -> str:
    return f"/board/patients/{patient_id}/conversation"


class ConversationPages(Controller):
    path = "/board/patients/{patient_id:uuid}"
    include_in_schema = False

    @get("/conversation", opt=page(WARD))
    async def conversation(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        res: Res,
    ) -> Template:
        return await _conversation_view(request, res, db, caller, patient_id)

    @get("/conversation/live", opt=page(WARD))
    async def live(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        res: Res,
    ) -> Template:
        patient = await get_patient(db, caller, patient_id, res.clock.now())
        live = await _live_context(db, caller, patient_id, res)
        return await render(
            request, res, db, caller, "_conversation_live.html", patient=patient, **live
        )

    @post("/messages", opt=page(WARD), status_code=303)
    async def send(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        fields = await form_of(request, res)

        async def send() -> None:
            data = parse({"body": fields.get("body", "")}, MessageIn)
            # No Idempotency-Key: the 303 after the POST is what stops a resubmission.
            await send_message(db, caller, patient_id, data.body, clock.now(), idempotency_key=None)

        _, failed = await attempt(db, fields, send, SEND_LABELS)
        if failed is not None:
            return await _conversation_view(request, res, db, caller, patient_id, send_form=failed)
        return back_to(f"{_base(patient_id)}?done=sent")

    @post("/replies/{reply_id:uuid}/read", opt=page(WARD), status_code=303)
    async def read(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        reply_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        fields = await form_of(request, res)
        # The patient in the address first: another ward's is the audited 404.
        await get_patient(db, caller, patient_id, clock.now())

        async def mark() -> None:
            await read_reply(db, caller, reply_id, clock.now())

        _, failed = await attempt(db, fields, mark)
        if failed is not None:
            return await _conversation_view(request, res, db, caller, patient_id, read_form=failed)
        return back_to(f"{_base(patient_id)}?done=read")

    @post("/stop-texting", opt=page(WARD), status_code=303)
    async def stop_texting(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        fields = await form_of(request, res)
        fields.setdefault("confirm", "")  # an unticked box is not sent: its error sits beside it

        async def stop() -> None:
            if not checkbox(fields, "confirm"):
                # Asked on the page only: the API's PATCH is its own confirmation.
                await get_patient(db, caller, patient_id, clock.now())
                raise InvalidInput.field("confirm", "is needed: tick the box to stop texts")
            data = parse({"sms_consent": False}, PatientUpdate)
            await update_patient(db, caller, patient_id, data, clock.now())

        _, failed = await attempt(db, fields, stop, STOP_LABELS)
        if failed is not None:
            return await _conversation_view(request, res, db, caller, patient_id, stop_form=failed)
        return back_to(f"{_base(patient_id)}?done=stopped")


async def _live_context(
    db: AsyncSession, caller: Principal, patient_id: uuid.UUID, res: AppResources
) -> dict[str, Any]:
    """What changes on its own: the texts both ways and the replies waiting to be read."""
    now = res.clock.now()
    messages, more = await list_messages(
        db, caller, patient_id, now, cursor=None, limit=MESSAGES_SHOWN
    )
    waiting, _ = await list_replies(
        db, caller, now=now, cursor=None, limit=MAX_LIMIT, status="unread", patient_id=patient_id
    )
    writers = {m.sent_by for m in messages if m.sent_by is not None}
    return {
        "messages": list(reversed(messages)),  # oldest first reads like a conversation
        "more_messages": more is not None,
        "waiting": waiting,
        "names": await names_of(db, writers),
    }


async def _conversation_view(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    *,
    send_form: Form | None = None,
    read_form: Form | None = None,
    stop_form: Form | None = None,
) -> Template:
    now = res.clock.now()
    patient = await get_patient(db, caller, patient_id, now)
    live = await _live_context(db, caller, patient_id, res)
    # The one texting rule, asked before anyone types: the reason sits beside the field.
    refusal = await why_not_text(db, patient)
    cannot_text = (
        None if refusal is None else CANNOT_TEXT.get(refusal, "The patient cannot be texted now.")
    )
    forms = [f for f in (send_form, read_form, stop_form) if f is not None]
    done = request.query_params.get("done", "")
    return await render(
        request,
        res,
        db,
        caller,
        "patient_conversation.html",
        status_code=max([f.status for f in forms], default=200),
        patient=patient,
        cannot_text=cannot_text,
        send_form=send_form or Form.blank(),
        read_form=read_form or Form.blank(),
        stop_form=stop_form or Form.blank(),
        confirmation=CONFIRMATIONS.get(done, ""),
        **live,
    )
