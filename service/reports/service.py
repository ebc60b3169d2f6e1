"""Outcome reports for one ward or every ward side by side.

Who sees what: ward staff and ward managers read their own ward's report (another ward is a
404); admins read any ward. The comparison shows every ward's figures to admins and ward
managers; record ids are given to admins for every ward and to a manager for their own ward
only. Each read is audited.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import plan_for_these_values
from db.models import Ward
from db.models.escalations import ESCALATION_REASONS, ESCALATION_SEVERITIES
from db.models.goals import GOAL_DOMAINS
from service import audit
from service.checks import check_aware
from service.errors import Forbidden, InvalidInput, NotFound
from service.principal import Principal
from service.reports import measures as m
from service.reports.schemas import Measure, OutcomesReport, Unit, WardComparison, WardOutcomes
from service.standards import (
    FOLLOW_UP_WITHIN,
    FOLLOW_UP_WITHIN_SUICIDE_RISK,
    NATIONAL_FOLLOW_UP_AMBITION,
    READMISSION_WINDOW,
    whole_hours,
)

DEFAULT_PERIOD = timedelta(days=90)
MAX_PERIOD = timedelta(days=3 * 366)
PROM_TIME_POINTS = ("discharge", "1_month", "3_months")


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _ids(value: Sequence[uuid.UUID] | None) -> list[uuid.UUID]:
    return list(value or [])


def measure(
    key: str,
    label: str,
    numerator: int | None,
    denominator: int,
    *,
    unit: Unit = "ratio",
    value: float | None = None,
    target: float | None = None,
    record_type: str | None = None,
    ids: Iterable[uuid.UUID] | None = None,
    num_ids: Iterable[uuid.UUID] | None = None,
) -> Measure:
    return Measure(
        key=key,
        label=label,
        unit=unit,
        numerator=numerator,
        denominator=denominator,
        rate=_rate(numerator, denominator) if numerator is not None else None,
        value=None if value is None else round(float(value), 2),
        target=target,
        record_type=record_type,
        record_ids=list(ids) if ids is not None else [],
        numerator_ids=list(num_ids) if num_ids is not None else None,
    )


def proportion(
    key: str, label: str, row: Any, *, record_type: str, target: float | None = None
) -> Measure:
    """A measure read straight off a query row with numerator, denominator, ids and num_ids
    (no row: nothing in the period, so 0 of 0)."""
    return measure(
        key,
        label,
        row.numerator if row else 0,
        row.denominator if row else 0,
        target=target,
        record_type=record_type,
        ids=_ids(row.ids if row else None),
        num_ids=_ids(row.num_ids if row else None),
    )


def _by_ward(rows: Iterable[Any]) -> dict[uuid.UUID, Any]:
    return {row.ward_id: row for row in rows}


async def _run(session: AsyncSession, statement: Any, params: dict[str, Any]) -> list[Any]:
    return list((await session.execute(statement, params)).all())


async def compute(
    session: AsyncSession,
    ward_ids: list[uuid.UUID],
    start: datetime,
    end: datetime,
    now: datetime,
    id_wards: list[uuid.UUID],
    *,
    every_ward: bool = False,
) -> dict[uuid.UUID, list[Measure]]:
    """Every measure for every ward in `ward_ids`; record ids for the wards in `id_wards` only.

    The statements build ids for `id_wards` alone, so another ward's ids are never read; its
    measures carry null `record_ids` and `numerator_ids`, and every count is a count(*).
    `every_ward`: `ward_ids` are all the trust's wards, so over a period with few rows the
    figures kept by patient start from the period's rows rather than from the wards' patients
    (see measures)."""
    # A generic plan guesses the period's size blind and then reads the whole trust's rows of
    # that period through the time index: planned for the real wards and period instead.
    await plan_for_these_values(session)
    params = {"wards": ward_ids, "id_wards": id_wards, "start": start, "end": end, "now": now}
    follow_ups = _by_ward(await _run(session, m.FOLLOW_UPS, params))
    readmissions = _by_ward(await _run(session, m.READMISSIONS, params))
    rows_first = every_ward and bool(await session.scalar(m.FEW_PERIOD_ROWS, params))
    check_ins = _by_ward(
        await _run(session, m.CHECK_INS_EVERY_WARD if rows_first else m.CHECK_INS, params)
    )
    prompts = _by_ward(
        await _run(session, m.PROMPTS_EVERY_WARD if rows_first else m.PROMPTS, params)
    )
    opt_outs = _by_ward(
        await _run(session, m.OPT_OUTS_EVERY_WARD if rows_first else m.OPT_OUTS, params)
    )
    escalations: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in await _run(session, m.ESCALATIONS, params):
        escalations[row.ward_id].append(row)
    ack: dict[uuid.UUID, dict[int, Any]] = defaultdict(dict)
    for row in await _run(session, m.ACK_MEDIANS, params):
        ack[row.ward_id][row.level] = row
    referrals = _by_ward(await _run(session, m.REFERRALS, params))
    declines: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in await _run(session, m.DECLINE_REASONS, params):
        declines[row.ward_id].append(row)
    goals: dict[uuid.UUID, dict[str, Any]] = defaultdict(dict)
    for row in await _run(session, m.GOALS, params):
        goals[row.ward_id][row.domain] = row
    dialog: dict[uuid.UUID, dict[str, Any]] = defaultdict(dict)
    for row in await _run(session, m.DIALOG, params):
        dialog[row.ward_id][row.time_point] = row

    out: dict[uuid.UUID, list[Measure]] = {}
    for ward_id in ward_ids:
        items: list[Measure] = []
        items += _follow_up_measures(follow_ups.get(ward_id))
        items += _readmission_measures(readmissions.get(ward_id))
        items += _check_in_measures(
            check_ins.get(ward_id), prompts.get(ward_id), opt_outs.get(ward_id)
        )
        items += _escalation_measures(escalations.get(ward_id, []), ack.get(ward_id, {}))
        items += _referral_measures(referrals.get(ward_id), declines.get(ward_id, []))
        items += _goal_measures(goals.get(ward_id, {}))
        items += _dialog_measures(dialog.get(ward_id, {}))
        out[ward_id] = items if ward_id in id_wards else _without_ids(items)
    return out


def _follow_up_measures(row: Any) -> list[Measure]:
    contacted = row.contacted if row else 0
    return [
        proportion(
            "follow_up.within_deadline",
            f"Follow-up within {whole_hours(FOLLOW_UP_WITHIN)} h "
            f"({whole_hours(FOLLOW_UP_WITHIN_SUICIDE_RISK)} h with suicide risk) of discharge",
            row,
            target=NATIONAL_FOLLOW_UP_AMBITION,
            record_type="follow_up",
        ),
        measure(
            "follow_up.median_hours_to_contact",
            "Median hours from discharge to first successful human contact",
            None,
            contacted,
            unit="hours",
            value=row.median_hours if row else None,
            record_type="follow_up",
            ids=_ids(row.contacted_ids if row else None),
        ),
    ]


def _readmission_measures(row: Any) -> list[Measure]:
    return [
        proportion(
            "readmission.within_30_days",
            f"Readmissions within {READMISSION_WINDOW.days} days of discharge",
            row,
            record_type="episode",
        )
    ]


def _check_in_measures(check_ins: Any, prompts: Any, opt_outs: Any) -> list[Measure]:
    sent = prompts.denominator if prompts else 0
    return [
        proportion(
            "check_ins.response_rate",
            "Check-ins answered (answered / answered + missed)",
            check_ins,
            record_type="check_in",
        ),
        measure(
            "check_ins.prompts_delivered",
            "Check-in prompts delivered",
            prompts.delivered if prompts else 0,
            sent,
            record_type="sms_outbox",
            ids=_ids(prompts.ids if prompts else None),
            num_ids=_ids(prompts.delivered_ids if prompts else None),
        ),
        measure(
            "check_ins.prompts_undeliverable",
            "Check-in prompts undeliverable",
            prompts.undeliverable if prompts else 0,
            sent,
            record_type="sms_outbox",
            ids=_ids(prompts.ids if prompts else None),
            num_ids=_ids(prompts.undeliverable_ids if prompts else None),
        ),
        proportion(
            "check_ins.opted_out", "Patients who opted out of SMS", opt_outs, record_type="patient"
        ),
    ]


def _escalation_measures(rows: list[Any], ack: dict[int, Any]) -> list[Measure]:
    # Counted from each group's n: a ward whose ids the caller may not see has none built.
    total = sum(r.n for r in rows)
    all_ids = [i for r in rows for i in _ids(r.ids)]
    items: list[Measure] = []
    for reason in ESCALATION_REASONS:
        ids = [i for r in rows if r.reason == reason for i in _ids(r.ids)]
        items.append(
            measure(
                f"escalations.by_reason.{reason}",
                f"Escalations for {reason.replace('_', ' ')}",
                sum(r.n for r in rows if r.reason == reason),
                total,
                record_type="escalation",
                ids=all_ids,
                num_ids=ids,
            )
        )
    for severity in ESCALATION_SEVERITIES:
        ids = [i for r in rows if r.severity == severity for i in _ids(r.ids)]
        items.append(
            measure(
                f"escalations.by_severity.{severity}",
                f"Escalations of {severity} severity",
                sum(r.n for r in rows if r.severity == severity),
                total,
                record_type="escalation",
                ids=all_ids,
                num_ids=ids,
            )
        )
    climbed = [i for r in rows if r.level > 1 for i in _ids(r.ids)]
    items.append(
        measure(
            "escalations.climbed",
            "Escalations that climbed past level 1",
            sum(r.n for r in rows if r.level > 1),
            total,
            record_type="escalation",
            ids=all_ids,
            num_ids=climbed,
        )
    )
    for level in (1, 2, 3):
        row = ack.get(level)
        items.append(
            measure(
                f"escalations.median_minutes_to_acknowledge.level_{level}",
                f"Median minutes to acknowledge, acknowledged at level {level}",
                None,
                row.n if row else 0,
                unit="minutes",
                value=row.median_minutes if row else None,
                record_type="escalation",
                ids=_ids(row.ids if row else None),
            )
        )
    return items


def _referral_measures(row: Any, declines: list[Any]) -> list[Measure]:
    responded = row.responded if row else 0
    items = [
        measure(
            "referrals.acceptance_rate",
            "Referrals accepted (of those answered)",
            row.accepted if row else 0,
            responded,
            record_type="referral",
            ids=_ids(row.responded_ids if row else None),
            num_ids=_ids(row.accepted_ids if row else None),
        ),
        measure(
            "referrals.median_hours_to_respond",
            "Median hours from referral to the agency's answer",
            None,
            responded,
            unit="hours",
            value=row.median_hours if row else None,
            record_type="referral",
            ids=_ids(row.responded_ids if row else None),
        ),
        measure(
            "referrals.unanswered_by_deadline",
            "Referrals not answered by their respond-by time",
            row.unanswered if row else 0,
            row.past_deadline if row else 0,
            record_type="referral",
            ids=_ids(row.past_deadline_ids if row else None),
            num_ids=_ids(row.unanswered_ids if row else None),
        ),
    ]
    declined = row.declined if row else 0
    declined_ids = _ids(row.declined_ids if row else None)
    for d in sorted(declines, key=lambda r: (-r.n, r.reason)):
        items.append(
            measure(
                f"referrals.declined_by_reason.{d.reason}",
                f"Referrals declined: {d.reason}",
                d.n,
                declined,
                record_type="referral",
                ids=declined_ids,
                num_ids=_ids(d.ids),
            )
        )
    return items


def _goal_measures(rows: dict[str, Any]) -> list[Measure]:
    all_ids = [i for r in rows.values() for i in _ids(r.ids)]
    achieved = [i for r in rows.values() for i in _ids(r.num_ids)]
    items = [
        measure(
            "goals.achieved",
            "Goals achieved (of goals closed)",
            sum(r.numerator for r in rows.values()),
            sum(r.denominator for r in rows.values()),
            record_type="goal",
            ids=all_ids,
            num_ids=achieved,
        )
    ]
    for domain in GOAL_DOMAINS:
        items.append(
            proportion(
                f"goals.achieved.{domain}",
                f"Goals achieved: {domain.replace('_', ' ')}",
                rows.get(domain),
                record_type="goal",
            )
        )
    return items


def _dialog_measures(rows: dict[str, Any]) -> list[Measure]:
    items: list[Measure] = []
    for point in PROM_TIME_POINTS:
        row = rows.get(point)
        for group in ("life", "treatment"):
            items.append(
                measure(
                    f"proms.dialog.{group}_mean.{point}",
                    f"DIALOG mean {group} score at {point.replace('_', ' ')} (1-7)",
                    None,
                    getattr(row, f"{group}_n") if row else 0,
                    unit="score",
                    value=getattr(row, f"{group}_mean") if row else None,
                    record_type="prom_survey",
                    ids=_ids(getattr(row, f"{group}_ids") if row else None),
                )
            )
        if point == "discharge":
            continue
        for group in ("life", "treatment"):
            items.append(
                measure(
                    f"proms.dialog.{group}_change.{point}",
                    f"DIALOG change in {group} score, discharge to {point.replace('_', ' ')}",
                    None,
                    getattr(row, f"{group}_change_n") if row else 0,
                    unit="score",
                    value=getattr(row, f"{group}_change") if row else None,
                    record_type="prom_survey",
                    ids=_ids(getattr(row, f"{group}_change_ids") if row else None),
                )
            )
    return items


def _without_ids(items: list[Measure]) -> list[Measure]:
    """A ward whose records the caller may not see: its statements built no ids (see
    measures), and its measures say so with null rather than empty lists."""
    for item in items:
        item.record_ids = None
        item.numerator_ids = None
    return items


def period(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """[from, to): `to` defaults to now, `from` to 90 days before `to`."""
    end = end or now
    start = start or end - DEFAULT_PERIOD
    # Both bounds answer on `from`: the period as a whole is what is wrong.
    check_aware(start, "from")
    check_aware(end, "from")
    if start >= end:
        raise InvalidInput.field("from", "must be before to")
    if end - start > MAX_PERIOD:
        raise InvalidInput.field("from", "the period may span at most three years")
    return start, end


async def ward_report(
    session: AsyncSession,
    caller: Principal,
    ward_id: uuid.UUID | None,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
) -> OutcomesReport:
    start, end = period(start, end, now)
    if caller.is_admin:
        if ward_id is None:
            raise InvalidInput.field("ward_id", "is required for admins")
    elif caller.staff_ward is not None:
        ward_id = ward_id or caller.staff_ward
        if ward_id != caller.staff_ward:
            raise NotFound("No such ward.")
    else:
        raise Forbidden("Only ward staff and admins read outcome reports.")
    ward = await session.get(Ward, ward_id)
    if ward is None:
        raise NotFound("No such ward.")
    figures = await compute(session, [ward.id], start, end, now, id_wards=[ward.id])
    audit.record(
        session,
        caller,
        "report.outcomes",
        at=now,
        ward_id=ward.id,
        object_type="ward",
        object_id=ward.id,
        detail={"from": start.isoformat(), "to": end.isoformat()},
    )
    return OutcomesReport(
        ward_id=ward.id,
        ward_name=ward.name,
        from_=start,
        to=end,
        generated_at=now,
        measures=figures[ward.id],
        rules=m.RULES,
    )


async def comparison(
    session: AsyncSession,
    caller: Principal,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
) -> WardComparison:
    start, end = period(start, end, now)
    if not (caller.is_admin or caller.is_ward_manager):
        raise Forbidden("Only admins and ward managers compare wards.")
    wards = list((await session.scalars(select(Ward).order_by(Ward.name, Ward.id))).all())
    # Record ids: admins every ward's, a manager their own ward's only.
    shown = [w.id for w in wards if caller.is_admin or w.id == caller.ward_id]
    figures = await compute(
        session, [w.id for w in wards], start, end, now, id_wards=shown, every_ward=True
    )
    out = [
        WardOutcomes(ward_id=ward.id, ward_name=ward.name, measures=figures[ward.id])
        for ward in wards
    ]
    audit.record(
        session,
        caller,
        "report.outcomes_by_ward",
        at=now,
        ward_id=caller.ward_id,
        object_type="report",
        detail={"from": start.isoformat(), "to": end.isoformat()},
    )
    return WardComparison(from_=start, to=end, generated_at=now, wards=out, rules=m.RULES)


CSV_HEADER = ("ward", "measure", "numerator", "denominator", "rate", "value", "unit")


def _csv_cell(value: object) -> str:
    text = "" if value is None else str(value)
    # Spreadsheet formula injection: a cell must not start with a formula trigger.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(wards: Iterable[tuple[str, list[Measure]]]) -> str:
    """One row per measure: ward, measure, numerator, denominator, rate (and value, unit)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for ward_name, items in wards:
        for item in items:
            writer.writerow(
                [
                    _csv_cell(v)
                    for v in (
                        ward_name,
                        item.key,
                        item.numerator,
                        item.denominator,
                        item.rate,
                        item.value,
                        item.unit,
                    )
                ]
            )
    return buffer.getvalue()
