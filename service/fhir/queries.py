"""The reads behind both exports, one statement per record kind, over a set of patients.

`patients` is a SELECT of patient ids already narrowed to what the caller may read: for one
patient's Bundle, `readable_patients(caller)` (the ward staff rule every domain's
`readable_*` statement starts from) narrowed to that patient; for a ward's bulk export the
ward's patients, once `managed_ward` has allowed the caller. The scope is part of every
statement, never a later filter. Core tables, not ORM entities: rows stream without an
identity map that grows with the ward.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Select, Table, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from db.models import (
    Agency,
    Consent,
    Episode,
    Escalation,
    FollowUp,
    Goal,
    InboundMessage,
    OutboxMessage,
    Patient,
    PromAnswer,
    PromItem,
    PromSurvey,
    Referral,
    RelapsePreventionPlan,
)

patients_t = cast(Table, Patient.__table__)
episodes_t = cast(Table, Episode.__table__)
goals_t = cast(Table, Goal.__table__)
plans_t = cast(Table, RelapsePreventionPlan.__table__)
consents_t = cast(Table, Consent.__table__)
referrals_t = cast(Table, Referral.__table__)
agencies_t = cast(Table, Agency.__table__)
follow_ups_t = cast(Table, FollowUp.__table__)
escalations_t = cast(Table, Escalation.__table__)
surveys_t = cast(Table, PromSurvey.__table__)
answers_t = cast(Table, PromAnswer.__table__)
items_t = cast(Table, PromItem.__table__)
outbox_t = cast(Table, OutboxMessage.__table__)
inbound_t = cast(Table, InboundMessage.__table__)

Ids = Select[Any]


def patients(ids: Ids) -> Select[Any]:
    return select(patients_t).where(patients_t.c.id.in_(ids)).order_by(patients_t.c.id)


def episodes(ids: Ids) -> Select[Any]:
    return (
        select(episodes_t)
        .where(episodes_t.c.patient_id.in_(ids))
        .order_by(episodes_t.c.patient_id, episodes_t.c.admitted_at, episodes_t.c.id)
    )


def goals(ids: Ids) -> Select[Any]:
    return (
        select(goals_t)
        .where(goals_t.c.patient_id.in_(ids))
        .order_by(goals_t.c.patient_id, goals_t.c.created_at, goals_t.c.id)
    )


def plan_goal_ids() -> Any:
    """Each plan row's patient's goal ids, as an array column (correlated)."""
    return (
        select(func.coalesce(func.array_agg(goals_t.c.id), literal_column("'{}'::uuid[]")))
        .where(goals_t.c.patient_id == plans_t.c.patient_id)
        .scalar_subquery()
        .label("goal_ids")
    )


def plans(ids: Ids, *, history: bool) -> Select[Any]:
    """Every version with `history`, else each patient's latest only."""
    query = select(plans_t, plan_goal_ids()).where(plans_t.c.patient_id.in_(ids))
    if not history:
        newer = plans_t.alias("newer")
        query = query.where(
            ~select(newer.c.id)
            .where(newer.c.patient_id == plans_t.c.patient_id, newer.c.version > plans_t.c.version)
            .exists()
        )
    return query.order_by(plans_t.c.patient_id, plans_t.c.version)


def consents(ids: Ids) -> Select[Any]:
    return (
        select(consents_t)
        .where(consents_t.c.patient_id.in_(ids))
        .order_by(consents_t.c.patient_id, consents_t.c.created_at, consents_t.c.id)
    )


def referrals(ids: Ids) -> Select[Any]:
    return (
        select(referrals_t)
        .where(referrals_t.c.patient_id.in_(ids))
        .order_by(referrals_t.c.patient_id, referrals_t.c.created_at, referrals_t.c.id)
    )


def agencies(ids: Ids) -> Select[Any]:
    """The agencies the patients' referrals and consents name."""
    named = (
        select(referrals_t.c.agency_id)
        .where(referrals_t.c.patient_id.in_(ids))
        .union(select(consents_t.c.agency_id).where(consents_t.c.patient_id.in_(ids)))
    )
    return select(agencies_t).where(agencies_t.c.id.in_(named)).order_by(agencies_t.c.id)


def follow_ups(ids: Ids) -> Select[Any]:
    return (
        select(follow_ups_t)
        .where(follow_ups_t.c.patient_id.in_(ids))
        .order_by(follow_ups_t.c.patient_id, follow_ups_t.c.due_at, follow_ups_t.c.id)
    )


def open_escalations(ids: Ids) -> Select[Any]:
    return (
        select(escalations_t)
        .where(escalations_t.c.patient_id.in_(ids), escalations_t.c.status != "resolved")
        .order_by(escalations_t.c.patient_id, escalations_t.c.opened_at, escalations_t.c.id)
    )


def prom_items() -> Select[Any]:
    return select(items_t).order_by(items_t.c.instrument, items_t.c.position)


def _answers() -> Any:
    """Each survey's answers as a JSON array in item order (correlated)."""
    entry = func.jsonb_build_object(
        "item_key",
        answers_t.c.item_key,
        "score",
        answers_t.c.score,
        "text",
        answers_t.c.text,
        "answered_at",
        answers_t.c.answered_at,
    )
    return (
        select(func.jsonb_agg(aggregate_order_by(entry, items_t.c.position)))
        .select_from(answers_t.join(items_t, items_t.c.key == answers_t.c.item_key))
        .where(answers_t.c.survey_id == surveys_t.c.id)
        .scalar_subquery()
        .label("answers")
    )


def surveys(ids: Ids) -> Select[Any]:
    """Surveys with at least one answer (an unanswered one has nothing to say)."""
    answered = select(answers_t.c.id).where(answers_t.c.survey_id == surveys_t.c.id).exists()
    return (
        select(surveys_t, _answers())
        .where(surveys_t.c.patient_id.in_(ids), answered)
        .order_by(surveys_t.c.patient_id, surveys_t.c.due_at, surveys_t.c.id)
    )


def outbound(ids: Ids) -> Select[Any]:
    return (
        select(outbox_t)
        .where(outbox_t.c.patient_id.in_(ids), outbox_t.c.recipient_kind == "patient")
        .order_by(outbox_t.c.patient_id, outbox_t.c.created_at, outbox_t.c.id)
    )


def _answered_text() -> Any:
    """The check-in text a reply answered: the latest text of its check-in to the patient
    sent before the reply came (correlated; NULL for a text that answered no check-in)."""
    return (
        select(outbox_t.c.id)
        .where(
            outbox_t.c.check_in_id == inbound_t.c.check_in_id,
            outbox_t.c.recipient_kind == "patient",
            outbox_t.c.sent_at <= inbound_t.c.received_at,
        )
        .order_by(outbox_t.c.sent_at.desc())
        .limit(1)
        .scalar_subquery()
        .label("in_response_to")
    )


def inbound(ids: Ids) -> Select[Any]:
    """The patient's own texts (a carer's texts are theirs, not the patient's record here)."""
    return (
        select(inbound_t, _answered_text())
        .where(inbound_t.c.patient_id.in_(ids), inbound_t.c.from_carer.is_(False))
        .order_by(inbound_t.c.patient_id, inbound_t.c.received_at, inbound_t.c.id)
    )
