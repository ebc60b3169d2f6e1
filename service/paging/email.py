"""Staff alerts by email, the second channel: queued through the email outbox.

An email is keyed by the text it stands beside ("email:" + the text's dedupe key), so one
page reaches a person by email at most once, whichever path asks: the ward wants both
channels, the person has no mobile, or their text did not go (`back_up_text`, from the
delivery hooks). The body is the text's own words: no patient name, no clinical detail.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import OutboxMessage, User, Ward
from service.email import outbox as email_outbox
from service.paging.channels import staff_channels
from service.paging.recipients import Recipient
from service.refs import escalation_ref

# The ward's choice (escalation_policy.staff_email): email only when the text cannot reach
# the person ("fallback", the default), or every alert by both channels ("always").
BOTH_CHANNELS = "always"


def email_subject(escalation_id: uuid.UUID | None) -> str:
    if escalation_id is None:
        return "Homeward staff alert"
    return f"Homeward escalation {escalation_ref(escalation_id)}"


async def emails_both_channels(session: AsyncSession, ward_id: uuid.UUID) -> bool:
    if not staff_channels().email:
        return False
    ward = await session.get(Ward, ward_id)
    return ward is not None and (ward.escalation_policy or {}).get("staff_email") == BOTH_CHANNELS


async def email_staff(
    session: AsyncSession,
    recipient: Recipient,
    *,
    text_key: str,
    subject: str,
    body: str,
    purpose: str,
    reason: str,
    now: datetime,
    ward_id: uuid.UUID | None,
    escalation_id: uuid.UUID | None = None,
    escalation_level: int | None = None,
    sms_outbox_id: uuid.UUID | None = None,
) -> uuid.UUID | None:
    """Queue the email beside the text keyed `text_key`; None when email is off, the
    recipient is no person, or it was queued before."""
    if not staff_channels().email or recipient.user_id is None or not recipient.email:
        return None
    return await email_outbox.enqueue(
        session,
        dedupe_key=f"email:{text_key}",
        user_id=recipient.user_id,
        to_address=recipient.email,
        subject=subject,
        body=body,
        purpose=purpose,
        reason=reason,
        now=now,
        ward_id=ward_id,
        escalation_id=escalation_id,
        escalation_level=escalation_level,
        sms_outbox_id=sms_outbox_id,
    )


async def back_up_text(
    session: AsyncSession, message: OutboxMessage, now: datetime
) -> uuid.UUID | None:
    """A staff text failed, is being retried, or could not be confirmed: email the same
    words to the same person (once, however many of those reports arrive)."""
    if message.recipient_kind != "staff" or message.user_id is None:
        return None
    user = await session.get(User, message.user_id)
    if user is None or not user.active:
        return None
    return await email_staff(
        session,
        Recipient(message.to_number, user.id, user.email),
        text_key=message.dedupe_key,
        subject=email_subject(message.escalation_id),
        body=message.body,
        purpose=message.purpose,
        reason="text_not_delivered",
        now=now,
        ward_id=message.ward_id,
        escalation_id=message.escalation_id,
        escalation_level=message.escalation_level,
        sms_outbox_id=message.id,
    )
