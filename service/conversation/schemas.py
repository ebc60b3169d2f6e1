from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec


class MessageTemplateUsed(msgspec.Struct):
    """The template an outbound text was worded from (service.message_templates)."""

    purpose: str
    # The language of the words sent (after falling back from the patient's).
    language: str
    # `builtin` or `ward`.
    source: str
    version: int


class MessageOut(msgspec.Struct):
    id: uuid.UUID
    direction: Literal["outbound", "inbound"]
    # Queued (outbound) or received (inbound).
    at: datetime
    body: str
    # Outbound: queued, sending, sent, delivered, undelivered, failed, unknown, cancelled.
    # Inbound: received.
    status: str
    # Outbound: checkin_prompt, checkin_reminder, crisis_reply, ...
    purpose: str | None
    check_in_id: uuid.UUID | None
    sent_at: datetime | None
    error_code: int | None
    # Inbound: what the reply was read as (score, ok, help, stop, start, free_text).
    kind: str | None
    score: int | None
    # Who wrote it: for inbound, `patient` or `carer` (the patient's nominated carer, whose
    # text is never taken as the patient's answer); outbound, `ward` (Homeward or staff).
    sender: Literal["patient", "carer", "ward"]
    # Outbound: the member of staff who wrote it (a ward message); null when Homeward did.
    sent_by: uuid.UUID | None = None
    # Outbound texts worded from a template: which one, in which language and version.
    template: MessageTemplateUsed | None = None


class MessageIn(msgspec.Struct, forbid_unknown_fields=True):
    # Trimmed, then 1 to 612 characters (four SMS segments); checked by the service. The
    # schema's own bound only stops an absurd body before it is read any further.
    body: Annotated[str, msgspec.Meta(max_length=10_000)]


class MessageList(msgspec.Struct):
    items: list[MessageOut]
    next_cursor: str | None


class UnmatchedTextOut(msgspec.Struct):
    """A text from a number that is no patient's (admins only: the body is a stranger's)."""

    id: uuid.UUID
    message_sid: str
    from_number: str
    body: str
    # What it was read as: score, ok, help, stop, start, free_text.
    kind: str
    # Whether the national crisis routes were sent back (HELP or crisis language).
    crisis_routes_sent: bool
    received_at: datetime


class UnmatchedTextList(msgspec.Struct):
    items: list[UnmatchedTextOut]
    next_cursor: str | None


class OpenQuestionOut(msgspec.Struct):
    kind: Literal["check_in", "survey_item"]
    # The check-in's id, or the survey's.
    id: uuid.UUID
    asked_at: datetime
    reply_due_at: datetime
    # Survey items only: which item of the survey awaits its answer.
    item_key: str | None


class WaitingQuestionOut(msgspec.Struct):
    kind: Literal["check_in", "survey_item"]
    # The check-in's id, or the survey's (its next unanswered item waits).
    id: uuid.UUID
    due_at: datetime


class ConversationOut(msgspec.Struct):
    """The patient's one open question, if any, and what waits its turn, in asking order."""

    open_question: OpenQuestionOut | None
    waiting: list[WaitingQuestionOut]
