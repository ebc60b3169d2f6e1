"""What consent lets an agency learn of a referral, in SQL (the one rule for the API, the pages
and the sweeps; service.referrals.access applies it to what a caller may read):
  * `in_force`: a consent to share with the referral's agency is in force now: everything.
  * `none`: no consent of that pair was ever given (a referral from before the send rule):
    the agency sees that a referral waits for consent, nothing more (no reason, goal, history).
  * `ended`: consents were given but none is in force now (withdrawn or expired): an open
    referral shows as `withdrawn` with `closed_reason` `consent_ended`, again nothing more.
Withdrawal closes the open referrals for good in its own transaction
(service.consents.ended); expiry has no event, so this query-time rule is the base that holds
at the very next request either way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, case, exists, literal, or_

from db.models import Consent, Referral
from db.models.referrals import OPEN_REFERRAL_STATUSES

Sharing = Literal["in_force", "none", "ended"]


def consent_in_force(now: datetime) -> ColumnElement[bool]:
    """A consent to share with the referral's agency about its patient is in force at `now`."""
    return exists().where(
        Consent.patient_id == Referral.patient_id,
        Consent.agency_id == Referral.agency_id,
        Consent.given_at <= now,
        Consent.withdrawn_at.is_(None),
        or_(Consent.expires_at.is_(None), Consent.expires_at > now),
    )


def sharing(now: datetime) -> ColumnElement[Any]:
    """'in_force', 'ended' or 'none' for each referral row (see the module's rule)."""
    ever = exists().where(
        Consent.patient_id == Referral.patient_id,
        Consent.agency_id == Referral.agency_id,
        Consent.given_at <= now,
    )
    return case(
        (consent_in_force(now), literal("in_force")), (ever, literal("ended")), else_="none"
    )


def effective_status(now: datetime) -> ColumnElement[Any]:
    """The status everyone is shown: an open referral whose consent ended reads `withdrawn`."""
    ended_open = and_(Referral.status.in_(OPEN_REFERRAL_STATUSES), sharing(now) == literal("ended"))
    return case((ended_open, literal("withdrawn")), else_=Referral.status)
