"""Episodes: a stay on the ward from admission to discharge.

`admit` and `discharge` are plain async functions so other domains' code (and the lead's
wiring) can call them outside HTTP. Registration opens the first episode.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Episode, Patient
from service.checkins import lifecycle as checkins
from service.checks import check_not_future, flush_or
from service.errors import Conflict
from service.escalations import service as escalations
from service.follow_ups.service import create_for_discharge
from service.pagination import decode_cursor, page_after, split_page
from service.patient_access.staff import patient_for_staff_deferred
from service.patients.schemas import DischargeIn, EpisodeOut, SuicideRiskIn
from service.principal import Principal
from service.proms import service as proms
from service.referrals import service as referrals
from service.replies import service as replies
from service.standards import READMISSION_WINDOW


def to_out(episode: Episode) -> EpisodeOut:
    return EpisodeOut(
        id=episode.id,
        patient_id=episode.patient_id,
        admitted_at=episode.admitted_at,
        discharged_at=episode.discharged_at,
        suicide_risk=episode.suicide_risk,
        destination=episode.destination,
        readmission_of_episode_id=episode.readmission_of_episode_id,
        readmitted_within_30_days=episode.readmitted_within_30_days,
    )


async def open_episode_of(
    session: AsyncSession, patient_id: uuid.UUID, *, for_update: bool = False
) -> Episode | None:
    query = select(Episode).where(Episode.patient_id == patient_id, Episode.discharged_at.is_(None))
    if for_update:
        query = query.with_for_update()
    episode: Episode | None = await session.scalar(query)
    return episode


async def last_discharged_episode(session: AsyncSession, patient_id: uuid.UUID) -> Episode | None:
    episode: Episode | None = await session.scalar(
        select(Episode)
        .where(Episode.patient_id == patient_id, Episode.discharged_at.is_not(None))
        .order_by(Episode.discharged_at.desc(), Episode.id.desc())
        .limit(1)
    )
    return episode


async def open_episode(
    session: AsyncSession, patient: Patient, admitted_at: datetime, now: datetime
) -> Episode:
    """Start a stay. An admission at most 30 days (to the second) after the previous
    discharge is a readmission: it points at that episode and the patient becomes
    `readmitted`; otherwise `inpatient`. The caller holds the patient row lock."""
    if await open_episode_of(session, patient.id) is not None:
        raise Conflict("The patient is already on the ward (an episode is open).")
    previous = await last_discharged_episode(session, patient.id)
    within = False
    if previous is not None and previous.discharged_at is not None:
        if admitted_at < previous.discharged_at:
            raise Conflict("The admission cannot come before the previous discharge.")
        within = admitted_at <= previous.discharged_at + READMISSION_WINDOW
    episode = Episode(
        patient_id=patient.id,
        admitted_at=admitted_at,
        readmission_of_episode_id=previous.id if within and previous else None,
        readmitted_within_30_days=within,
        created_at=now,
    )
    session.add(episode)
    patient.status = "readmitted" if within else "inpatient"
    patient.updated_at = now
    # The partial unique index allows one open episode per patient.
    await flush_or(
        session, lambda: Conflict("The patient is already on the ward (an episode is open).")
    )
    return episode


async def admit(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    admitted_at: datetime,
    now: datetime,
) -> Episode:
    """Admit (or readmit) a patient: 409 while an episode is open."""
    patient, event = await patient_for_staff_deferred(
        session, caller, patient_id, action="episode.admit", now=now, for_update=True
    )
    was_discharged = patient.status == "discharged"
    episode = await open_episode(
        session, patient, check_not_future(admitted_at, now, "admitted_at"), now
    )
    detail: dict[str, object] = {"readmitted_within_30_days": episode.readmitted_within_30_days}
    if was_discharged:
        # A readmission puts open agency work on hold (statuses unchanged); the next
        # discharge resumes it.
        paused = await referrals.pause_open_referrals(session, patient.id, now, caller.user_id)
        if paused:
            detail["paused_referral_ids"] = [str(r) for r in paused]
        # The community schedule and surveys stop while the patient is back on the ward.
        await checkins.pause_for_readmission(session, patient.id, now)
        await proms.cancel_surveys(session, patient.id, now)
        # Escalations about the patient at home are answered by the admission itself: the
        # ladder must not go on texting the crisis line about someone on the ward.
        closed = await escalations.resolve_all_for_patient(
            session,
            patient.id,
            now,
            "Resolved at admission: the patient is back on the ward.",
            caller,
        )
        if closed:
            detail["resolved_escalations"] = closed
    event.object_type, event.object_id = "episode", str(episode.id)
    event.detail = detail
    session.add(event)
    return episode


async def discharge(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    data: DischargeIn,
    now: datetime,
) -> Episode:
    """Close the open episode and start the follow-up clock (72 h, 48 h with suicide risk)."""
    patient, event = await patient_for_staff_deferred(
        session, caller, patient_id, action="episode.discharge", now=now, for_update=True
    )
    episode = await open_episode_of(session, patient.id, for_update=True)
    if episode is None:
        raise Conflict("The patient has no open episode to discharge.")
    discharged_at = check_not_future(data.discharged_at, now, "discharged_at")
    if discharged_at < episode.admitted_at:
        raise Conflict("The discharge cannot come before the admission.")
    episode.discharged_at = discharged_at
    episode.suicide_risk = data.suicide_risk
    destination = " ".join(data.destination.split()) if data.destination else ""
    episode.destination = destination or None
    patient.status = "discharged"
    patient.updated_at = now
    follow_up = await create_for_discharge(session, episode, now)
    detail: dict[str, object] = {"follow_up_id": str(follow_up.id)}
    resumed = await referrals.resume_paused_referrals(session, patient.id, now, caller.user_id)
    if resumed:
        detail["resumed_referral_ids"] = [str(r) for r in resumed]
    await checkins.start_schedule(session, patient.id, discharged_at, now)
    await proms.schedule_surveys(session, patient.id, discharged_at, now)
    event.object_type, event.object_id = "episode", str(episode.id)
    event.detail = detail
    session.add(event)
    return episode


async def record_suicide_risk(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    data: SuicideRiskIn,
    now: datetime,
) -> Episode:
    """Record or clear suicide risk on the last discharge (the stay at home now); the audit
    row holds who and when. 409 for a patient on the ward or never discharged: risk on the
    ward is the ward's own record, and there is no stay at home to mark. Recording risk
    makes what already waits urgent where risk would now make it so (escalations and unread
    replies); clearing it lowers nothing a person has not yet dealt with. The follow-up
    already created keeps its due time: moving a deadline after the fact would hide a
    breach of the one set at discharge."""
    patient, event = await patient_for_staff_deferred(
        session, caller, patient_id, action="patient.suicide_risk", now=now, for_update=True
    )
    if await open_episode_of(session, patient.id) is not None:
        raise Conflict("The patient is on the ward: risk after discharge needs a discharge.")
    episode = await last_discharged_episode(session, patient.id)
    if episode is None:
        raise Conflict("The patient has never been discharged.")
    previous = episode.suicide_risk
    episode.suicide_risk = data.suicide_risk
    event.object_type, event.object_id = "episode", str(episode.id)
    note = " ".join(data.note.split()) if data.note else ""
    detail: dict[str, object] = {"suicide_risk": data.suicide_risk, "previous": previous}
    if note:
        detail["note"] = note
    if data.suicide_risk:
        # What is already waiting takes the severity it would get now (HW-21).
        raised = await escalations.make_urgent_for_risk(session, patient.id, now, caller)
        await replies.make_urgent_for_risk(session, patient.id)
        if raised:
            detail["escalations_made_urgent"] = [str(e.id) for e in raised]
    event.detail = detail
    session.add(event)
    return episode


async def list_episodes(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    now: datetime,
    cursor: str | None,
    limit: int,
) -> tuple[list[Episode], str | None]:
    """Newest admission first."""
    _, event = await patient_for_staff_deferred(
        session, caller, patient_id, action="episode.list", now=now
    )
    query = select(Episode).where(Episode.patient_id == patient_id)
    query = page_after(
        query, Episode.admitted_at, Episode.id, decode_cursor(cursor), limit, newest_first=True
    )
    rows = list((await session.scalars(query)).all())
    page, next_cursor = split_page(rows, limit, lambda e: (e.admitted_at, e.id))
    event.detail = {"episode_ids": [str(e.id) for e in page]}
    session.add(event)
    return page, next_cursor
