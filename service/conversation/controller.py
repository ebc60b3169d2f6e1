from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.params import FromQuery, JSONBody
from twilio.twiml.messaging_response import MessagingResponse

from db.engine import database_unreachable
from service.conversation import inbound, messages, unmatched
from service.conversation.schemas import (
    ConversationOut,
    MessageIn,
    MessageList,
    MessageOut,
    UnmatchedTextList,
)
from service.conversation.spool import (
    SPOOL_KEY,
    InboundSpool,
    SpooledText,
    outage_answer,
    replay,
)
from service.errors import Forbidden
from service.http.auth import ADMIN, WARD, public, roles
from service.http.params import DEFAULT_LIMIT, Caller, ClockDep, Cursor, Db, IdPath, Limit, Res
from service.http.rate_limit import rate_limit_guard
from service.sms import outbox
from service.sms.gateway import CHANNEL_KEY, SmsChannel
from service.sms.signatures import form_params, signature_valid, signed_url

TWIML_MEDIA_TYPE = "application/xml"
log = logging.getLogger("homeward.conversation.webhook")


def _twiml(reply: str | None) -> str:
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return str(response)


async def _verified_form(request: Request[Any, Any, Any], res: Any) -> dict[str, list[str]]:
    """The form fields if Twilio signed this request; otherwise 403 before anything is written."""
    form = await request.form()
    params = form_params(form.multi_items())
    url = signed_url(
        res.settings.public_base_url,
        request.scope["path"],
        request.scope.get("query_string", b"").decode("latin-1"),
    )
    signature = request.headers.get("x-twilio-signature")
    if params is None or not signature_valid(
        res.settings.twilio_auth_token, url, params, signature
    ):
        raise Forbidden("The request signature is missing or invalid.")
    return params


async def _forget(db: Any) -> None:
    """Drop the request's broken transaction so the session's commit at the end is a no-op."""
    try:
        await db.rollback()
    except Exception:
        log.debug("rollback after a lost database connection failed")


class _BehindSpooled(Exception):
    """Older texts still wait in the spool: this one must not overtake them."""


# How long a webhook replays waiting texts before its own (Twilio gives up after 15 s).
REPLAY_BUDGET_SECONDS = 5.0


async def _replay_spool(res: Any, spool: InboundSpool, budget: float | None = None) -> bool:
    """Replay what the spool holds; True when texts still wait their turn after it."""
    try:
        async with res.sessionmaker() as session:
            return (await replay(session, spool, res.clock.now(), budget=budget)).held_up
    except Exception as exc:
        log.warning("inbound spool replay failed", extra={"exc_class": type(exc).__name__})
        return True


def _first(params: dict[str, list[str]], *names: str) -> str | None:
    for name in names:
        values = params.get(name)
        if values:
            return values[0]
    return None


WEBHOOK_LIMIT_PER_MINUTE = 600


class TwilioWebhookController(Controller):
    path = "/webhooks/twilio"
    tags = ["webhooks"]
    opt = public()
    # Twilio's own traffic stays far below this; a flood from one address is refused early.
    guards = [rate_limit_guard(WEBHOOK_LIMIT_PER_MINUTE, 60)]

    @post(
        "/sms",
        status_code=200,
        media_type=TWIML_MEDIA_TYPE,
        summary="Inbound SMS from Twilio (signed); answers with TwiML",
    )
    async def inbound_sms(
        self, request: Request[Any, Any, Any], db: Db, res: Res, clock: ClockDep
    ) -> Response[str]:
        params = await _verified_form(request, res)
        sid = _first(params, "MessageSid", "SmsSid")
        sender = _first(params, "From")
        reply: str | None = None
        spool: InboundSpool = res.extras[SPOOL_KEY]
        background: BackgroundTask | None = None
        if sid and sender:
            text = SpooledText(
                message_sid=sid[:64],
                from_number=sender,
                to_number=(_first(params, "To") or None),
                body=_first(params, "Body") or "",
                received_at=clock.now(),
                answered=None,
            )
            # Texts kept during an outage go first; any still waiting, this one joins them.
            behind = bool(spool.pending()) and await _replay_spool(
                res, spool, budget=REPLAY_BUDGET_SECONDS
            )
            try:
                if behind:
                    raise _BehindSpooled
                result = await inbound.handle_inbound(
                    db,
                    message_sid=text.message_sid,
                    from_number=text.from_number,
                    to_number=text.to_number,
                    body=text.body,
                    now=text.received_at,
                )
                # Committed here, not after the handler: a database lost at the commit is
                # an outage too, and the text is kept (a replay of a commit that did land
                # is a duplicate by MessageSid and changes nothing).
                await db.commit()
                reply = result.reply
            except Exception as exc:
                if not (isinstance(exc, _BehindSpooled) or database_unreachable(exc)):
                    raise
                # Kept on disk before Twilio hears 200; replayed once the database is back.
                await _forget(db)
                reply = outage_answer(text.body)
                spool.keep(replace(text, answered=reply))
                log.warning("inbound sms spooled")
                background = BackgroundTask(_replay_spool, res, spool)
        return Response(
            _twiml(reply), media_type=TWIML_MEDIA_TYPE, status_code=200, background=background
        )

    @post(
        "/status",
        status_code=204,
        summary="Delivery status callback from Twilio (signed)",
    )
    async def status_callback(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        res: Res,
        clock: ClockDep,
        # The row this report is about, as we wrote it into the callback URL. Taken as plain
        # text and parsed only after the signature check: a bad value is not ours to judge.
        outbox_id: FromQuery[str | None] = None,
    ) -> None:
        params = await _verified_form(request, res)
        status = _first(params, "MessageStatus", "SmsStatus")
        if not status:
            return
        row_id: uuid.UUID | None
        try:
            row_id = uuid.UUID(outbox_id or "")
        except ValueError:
            row_id = None
        raw_code = _first(params, "ErrorCode")
        error_code = int(raw_code) if raw_code and raw_code.isdigit() else None
        channel: SmsChannel = res.extras[CHANNEL_KEY]
        await outbox.apply_status_callback(
            db,
            channel.hooks,
            outbox_id=row_id,
            message_sid=(_first(params, "MessageSid", "SmsSid") or "")[:64] or None,
            message_status=status[:24],
            error_code=error_code,
            now=clock.now(),
        )


class PatientMessageController(Controller):
    path = "/api/v1/patients/{patient_id:uuid}"
    tags = ["messages"]
    opt = roles(WARD)

    @get("/messages", summary="The patient's SMS conversation, both ways, newest first")
    async def list_(
        self,
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> MessageList:
        items, next_cursor = await messages.list_messages(
            db, caller, patient_id, clock.now(), cursor=cursor, limit=limit
        )
        return MessageList(items=items, next_cursor=next_cursor)

    @get(
        "/conversation", summary="The patient's open question and the questions waiting their turn"
    )
    async def conversation(
        self, patient_id: IdPath, db: Db, caller: Caller, clock: ClockDep
    ) -> ConversationOut:
        return await messages.read_conversation(db, caller, patient_id, clock.now())

    @post(
        "/messages",
        status_code=201,
        summary="Send the patient a text from the ward (queued; the outbox sends it)",
        description=(
            "Queues the text and answers with it as the conversation lists it (`status` "
            "`queued`); 201 because the message exists from now on, in the conversation "
            "and the outbox, though it leaves later. It goes within the patient's contact "
            "window: written outside it, it waits for the next opening. `body` is trimmed, "
            "1-612 characters (four SMS segments), no NUL characters, and for a patient "
            "with discreet messages on, no words that name health services (422). 409 when "
            "the patient may not be texted (opted out, no consent, no mobile, not at home). "
            "Send an `Idempotency-Key` so a retried request is one text."
        ),
    )
    async def send(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        data: JSONBody[MessageIn],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> MessageOut:
        return await messages.send_message(
            db,
            caller,
            patient_id,
            data.body,
            clock.now(),
            idempotency_key=request.headers.get("idempotency-key"),
        )


class UnmatchedTextController(Controller):
    path = "/api/v1/admin/unmatched-texts"
    tags = ["messages"]
    opt = roles(ADMIN)

    @get("/", summary="Texts from numbers that are no patient's, newest first (admins)")
    async def list_(
        self,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> UnmatchedTextList:
        rows, next_cursor = await unmatched.list_unmatched(db, caller, clock.now(), cursor, limit)
        return UnmatchedTextList(items=[unmatched.to_out(r) for r in rows], next_cursor=next_cursor)
