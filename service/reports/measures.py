"""Outcome measures as SQL aggregates, one statement per family, grouped by ward.

Every statement takes the same parameters: `wards` (uuid[]), `id_wards` (uuid[], the wards
whose record ids the caller may see), `start` (inclusive), `end` (exclusive), `now`. Each walks
from the ward's patients (or the ward-keyed escalations) along existing indexes and aggregates
in PostgreSQL: counts with FILTER, medians with percentile_cont, and the ids behind each figure
with array_agg. No per-record round trips.

Ids are built only for `id_wards`: every array_agg has `FILTER (WHERE <ward> = ANY(:id_wards)
...)`, so for any other ward each id column is NULL and its figures come from the counts alone
(access decided in the statement, not by dropping ids after the fetch).

Rules (also returned to callers in `rules`, so a figure can be read correctly):
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Interval, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.sql.elements import BindParameter, TextClause

from db.base import UTCDateTime
from service.reports.readmission_sql import NOT_READMITTED_BY_DUE, READMISSION_LOOKUP
from service.standards import (
    FOLLOW_UP_WITHIN,
    FOLLOW_UP_WITHIN_SUICIDE_RISK,
    READMISSION_WINDOW,
    whole_hours,
)

READMISSION_DAYS = READMISSION_WINDOW.days
READMISSION_HOURS = whole_hours(READMISSION_WINDOW)  # 720: 30 days of 24 elapsed hours

RULES: dict[str, str] = {
    "period": "Records are counted in [from, to): from inclusive, to exclusive, by the event "
    "that starts them (discharge, check-in due time, escalation opening, referral creation, "
    "goal closing, survey anchor discharge).",
    "follow_up": "Discharges in the period whose follow-up was due "
    f"({whole_hours(FOLLOW_UP_WITHIN)} elapsed hours after discharge, "
    f"{whole_hours(FOLLOW_UP_WITHIN_SUICIDE_RISK)} with suicide risk; UTC hours, so a clock change neither adds nor removes "
    "an hour) by now or is already completed. Patients readmitted at or before the due time "
    "are excluded. Met when the first successful human contact came at or before the due "
    "time. Median hours run from discharge to that contact, over follow-ups that have one.",
    "readmission": "Discharges in the period followed by an admission of the same patient at "
    f"most {READMISSION_HOURS} elapsed hours later. Day n after discharge is the n-th 24-hour "
    f"period ((n-1)*24 h, n*24 h]: an admission on day {READMISSION_DAYS} counts, on day "
    f"{READMISSION_DAYS + 1} not. A discharge counts once its {READMISSION_DAYS} days have "
    "passed or it has been followed by a readmission.",
    "check_ins": "Check-ins due in the period; response rate is answered / (answered + "
    "missed). Prompts are check-in prompt texts queued in the period (cancelled ones left "
    "out): delivered = carrier confirmed delivery; undeliverable = undelivered or failed. "
    "Opted out: patients who opted out in the period over patients prompted or opted out.",
    "escalations": "Escalations opened in the period. Minutes to acknowledge run from opening "
    "to acknowledgement, grouped by the level the escalation had reached when acknowledged. "
    "Climbed: escalations that reached level 2 or above.",
    "referrals": "Referrals created in the period. Acceptance: accepted (or later completed) "
    "over responded (accepted or declined). Hours to respond run from creation to response. "
    "Unanswered by deadline: referrals whose respond-by time has passed (leaving out those "
    "withdrawn before it) with no response by then.",
    "goals": "Goals closed in the period (achieved, not achieved or cancelled, by the time of "
    "the change to that status): achieved over closed, overall and by domain.",
    "proms": "DIALOG surveys anchored on discharges in the period: mean life-domain score "
    "(mean of the 8 life items answered) and mean treatment score (mean of the 3 treatment "
    "items answered) per time point, partial surveys included with the items they have. "
    "Change from discharge pairs each patient's time point score with the same discharge's "
    "discharge-time score.",
}


def _sql(statement: str) -> TextClause:
    types: dict[str, Any] = {
        "wards": ARRAY(PG_UUID(as_uuid=True)),
        "id_wards": ARRAY(PG_UUID(as_uuid=True)),
        "start": UTCDateTime(),
        "end": UTCDateTime(),
        "now": UTCDateTime(),
    }
    used: list[BindParameter[Any]] = [
        bindparam(name, type_=kind) for name, kind in types.items() if f":{name}" in statement
    ]
    return text(statement).bindparams(*used)


FOLLOW_UPS = _sql(
    f"""
    WITH due AS (
        SELECT p.ward_id, p.ward_id = ANY(:id_wards) AS shown,
               f.id, e.discharged_at, f.due_at, f.completed_at
        FROM episodes e
        JOIN patients p ON p.id = e.patient_id
        -- The period's discharges, each with its follow-up (one per discharge) looked up by
        -- its episode; a plain join lets the planner hash every follow-up of the trust.
        CROSS JOIN LATERAL (
            SELECT f.id, f.due_at, f.completed_at
            FROM follow_ups f
            WHERE f.episode_id = e.id
              AND (f.due_at <= :now OR f.completed_at IS NOT NULL)
            LIMIT 1
        ) f
        WHERE p.ward_id = ANY(:wards)
          AND e.discharged_at >= :start AND e.discharged_at < :end
          -- Readmitted by the due time: left out.
          AND {NOT_READMITTED_BY_DUE}
    )
    SELECT ward_id,
           count(*) AS denominator,
           count(*) FILTER (WHERE completed_at <= due_at) AS numerator,
           array_agg(id ORDER BY discharged_at, id) FILTER (WHERE shown) AS ids,
           array_agg(id ORDER BY discharged_at, id)
               FILTER (WHERE shown AND completed_at <= due_at) AS num_ids,
           count(*) FILTER (WHERE completed_at IS NOT NULL) AS contacted,
           array_agg(id ORDER BY discharged_at, id)
               FILTER (WHERE shown AND completed_at IS NOT NULL) AS contacted_ids,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM completed_at - discharged_at) / 3600.0
           ) FILTER (WHERE completed_at IS NOT NULL) AS median_hours
    FROM due
    GROUP BY ward_id
    """  # noqa: S608 (only this package's constants are put in)
)

READMISSIONS = _sql(
    f"""
    WITH discharges AS (
        SELECT p.ward_id, p.ward_id = ANY(:id_wards) AS shown, e.id, e.discharged_at,
               r.id IS NOT NULL AS readmitted
        FROM patients p
        JOIN episodes e ON e.patient_id = p.id
        {READMISSION_LOOKUP}
        WHERE p.ward_id = ANY(:wards)
          AND e.discharged_at >= :start AND e.discharged_at < :end
    )
    SELECT ward_id,
           count(*) AS denominator,
           count(*) FILTER (WHERE readmitted) AS numerator,
           array_agg(id ORDER BY discharged_at, id) FILTER (WHERE shown) AS ids,
           array_agg(id ORDER BY discharged_at, id) FILTER (WHERE shown AND readmitted)
               AS num_ids
    FROM discharges
    WHERE readmitted OR discharged_at + :readmission_window <= :now
    GROUP BY ward_id
    """  # noqa: S608 (only this package's constants are put in)
).bindparams(bindparam("readmission_window", READMISSION_WINDOW, type_=Interval()))

# Check-ins, prompts and the prompted have no ward of their own: it is their patient's. Two
# ways to it, same rows either way. Ward first: from the wards' patients, which the planner
# hashes or walks by patient as the period calls for; for one ward's report, always. Rows
# first: from the period's rows, each row's patient looked up by key (memoized, so once per
# patient). The comparison covers every ward, and ward first then hashes all the trust's
# patients, tens of thousands, even for a period with a few hundred rows: the planner, which
# overestimates a recent period's answered check-ins and live prompts several times over,
# keeps the hash. So the comparison counts the period's rows first (FEW_PERIOD_ROWS) and goes
# rows first when they are few; over a long period ward first is the better way (the prompted
# are then found by one probe per patient rather than by reading every prompt).
_WARD_FIRST = "patients p JOIN {rows} ON {alias}.patient_id = p.id"
_ROWS_FIRST = (
    "{rows} CROSS JOIN LATERAL (\n"
    "        SELECT p.ward_id FROM patients p WHERE p.id = {alias}.patient_id LIMIT 1) p"
)


def _check_ins(way: str) -> TextClause:
    return _sql(
        f"""
    SELECT p.ward_id,
           count(*) AS denominator,
           count(*) FILTER (WHERE c.status = 'answered') AS numerator,
           array_agg(c.id ORDER BY c.due_at, c.id) FILTER (WHERE p.ward_id = ANY(:id_wards))
               AS ids,
           array_agg(c.id ORDER BY c.due_at, c.id)
               FILTER (WHERE p.ward_id = ANY(:id_wards) AND c.status = 'answered') AS num_ids
    FROM {way.format(rows="check_ins c", alias="c")}
    WHERE p.ward_id = ANY(:wards)
      AND c.due_at >= :start AND c.due_at < :end
      AND c.status IN ('answered', 'missed')
    GROUP BY p.ward_id
    """  # noqa: S608 (only this module's constants are put in)
    )


def _prompts(way: str) -> TextClause:
    return _sql(
        f"""
    SELECT p.ward_id,
           count(*) AS denominator,
           count(*) FILTER (WHERE o.status = 'delivered') AS delivered,
           count(*) FILTER (WHERE o.status IN ('undelivered', 'failed')) AS undeliverable,
           array_agg(o.id ORDER BY o.created_at, o.id)
               FILTER (WHERE p.ward_id = ANY(:id_wards)) AS ids,
           array_agg(o.id ORDER BY o.created_at, o.id)
               FILTER (WHERE p.ward_id = ANY(:id_wards) AND o.status = 'delivered')
               AS delivered_ids,
           array_agg(o.id ORDER BY o.created_at, o.id)
               FILTER (WHERE p.ward_id = ANY(:id_wards)
                         AND o.status IN ('undelivered', 'failed')) AS undeliverable_ids
    FROM {way.format(rows="sms_outbox o", alias="o")}
    WHERE p.ward_id = ANY(:wards)
      AND o.created_at >= :start AND o.created_at < :end
      AND o.purpose = 'checkin_prompt' AND o.status <> 'cancelled'
    GROUP BY p.ward_id
    """  # noqa: S608 (only this module's constants are put in)
    )


# The patients prompted in the period, one row each. From the ward's patients: EXISTS, one
# prompt in the period is enough, so a patient's other prompts are not read. From the
# period's prompts: each patient once, then their ward by key.
_PROMPTED_WARD_FIRST = """
        SELECT p.ward_id, p.id
        FROM patients p
        WHERE p.ward_id = ANY(:wards)
          AND EXISTS (
              SELECT 1 FROM sms_outbox o
              WHERE o.patient_id = p.id
                AND o.created_at >= :start AND o.created_at < :end
                AND o.purpose = 'checkin_prompt')"""
_PROMPTED_ROWS_FIRST = """
        SELECT DISTINCT p.ward_id, o.patient_id AS id
        FROM sms_outbox o
        CROSS JOIN LATERAL (
            SELECT p.ward_id FROM patients p WHERE p.id = o.patient_id LIMIT 1) p
        WHERE p.ward_id = ANY(:wards)
          AND o.created_at >= :start AND o.created_at < :end
          AND o.purpose = 'checkin_prompt'"""


def _opt_outs(prompted: str) -> TextClause:
    return _sql(
        f"""
    WITH prompted AS ({prompted}
    ), opted AS (
        SELECT DISTINCT e.ward_id, e.patient_id AS id
        FROM escalations e
        WHERE e.ward_id = ANY(:wards) AND e.reason = 'opted_out'
          AND e.opened_at >= :start AND e.opened_at < :end
    ), people AS (
        SELECT ward_id, id, false AS opted FROM prompted
        WHERE NOT EXISTS (SELECT 1 FROM opted o WHERE o.id = prompted.id)
        UNION ALL
        SELECT ward_id, id, true FROM opted
    )
    SELECT ward_id,
           count(*) AS denominator,
           count(*) FILTER (WHERE opted) AS numerator,
           array_agg(id ORDER BY id) FILTER (WHERE ward_id = ANY(:id_wards)) AS ids,
           array_agg(id ORDER BY id) FILTER (WHERE ward_id = ANY(:id_wards) AND opted)
               AS num_ids
    FROM people
    GROUP BY ward_id
    """  # noqa: S608 (only this module's constants are put in)
    )


# Whether the period has fewer check-ins and fewer check-in prompts than an eighth of the
# trust's patients (as ANALYZE last counted them): each is counted only up to that many, so
# the answer costs little however long the period.
FEW_PERIOD_ROWS = _sql(
    """
    WITH cap AS (
        SELECT greatest(reltuples, 0)::bigint / 8 AS n FROM pg_class
        WHERE oid = 'patients'::regclass
    )
    SELECT (SELECT count(*) FROM (
                SELECT 1 FROM check_ins c
                WHERE c.due_at >= :start AND c.due_at < :end
                LIMIT (SELECT n FROM cap)) c) < (SELECT n FROM cap)
       AND (SELECT count(*) FROM (
                SELECT 1 FROM sms_outbox o
                WHERE o.created_at >= :start AND o.created_at < :end
                  AND o.purpose = 'checkin_prompt'
                LIMIT (SELECT n FROM cap)) o) < (SELECT n FROM cap)
    """
)

CHECK_INS = _check_ins(_WARD_FIRST)
PROMPTS = _prompts(_WARD_FIRST)
OPT_OUTS = _opt_outs(_PROMPTED_WARD_FIRST)
# The same three from the period's rows, for the comparison of every ward over a short period.
CHECK_INS_EVERY_WARD = _check_ins(_ROWS_FIRST)
PROMPTS_EVERY_WARD = _prompts(_ROWS_FIRST)
OPT_OUTS_EVERY_WARD = _opt_outs(_PROMPTED_ROWS_FIRST)

ESCALATIONS = _sql(
    """
    SELECT e.ward_id, e.reason, e.severity, e.level,
           count(*) AS n,
           array_agg(e.id ORDER BY e.opened_at, e.id) FILTER (WHERE e.ward_id = ANY(:id_wards))
               AS ids
    FROM escalations e
    WHERE e.ward_id = ANY(:wards)
      AND e.opened_at >= :start AND e.opened_at < :end
    GROUP BY e.ward_id, e.reason, e.severity, e.level
    """
)

ACK_MEDIANS = _sql(
    """
    SELECT e.ward_id, e.level,
           count(*) AS n,
           array_agg(e.id ORDER BY e.opened_at, e.id) FILTER (WHERE e.ward_id = ANY(:id_wards))
               AS ids,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM e.acknowledged_at - e.opened_at) / 60.0
           ) AS median_minutes
    FROM escalations e
    WHERE e.ward_id = ANY(:wards)
      AND e.opened_at >= :start AND e.opened_at < :end
      AND e.acknowledged_at IS NOT NULL
    GROUP BY e.ward_id, e.level
    """
)

REFERRALS = _sql(
    """
    -- MATERIALIZED: each referral's withdrawal time is read once. Inlined, the subquery ran
    -- again for every FILTER that names withdrawn_at (eight times a referral).
    WITH r AS MATERIALIZED (
        SELECT p.ward_id, p.ward_id = ANY(:id_wards) AS shown,
               r.id, r.created_at, r.status, r.respond_by, r.responded_at,
               lower(btrim(r.decline_reason)) AS decline_reason,
               (SELECT min(s.at) FROM referral_status_changes s
                WHERE s.referral_id = r.id AND s.to_status = 'withdrawn') AS withdrawn_at
        FROM patients p
        JOIN referrals r ON r.patient_id = p.id
        WHERE p.ward_id = ANY(:wards)
          AND r.created_at >= :start AND r.created_at < :end
    )
    SELECT ward_id,
           count(*) FILTER (WHERE responded_at IS NOT NULL) AS responded,
           count(*) FILTER (WHERE responded_at IS NOT NULL AND status <> 'declined')
               AS accepted,
           array_agg(id ORDER BY created_at, id)
               FILTER (WHERE shown AND responded_at IS NOT NULL) AS responded_ids,
           array_agg(id ORDER BY created_at, id)
               FILTER (WHERE shown AND responded_at IS NOT NULL AND status <> 'declined')
               AS accepted_ids,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM responded_at - created_at) / 3600.0
           ) FILTER (WHERE responded_at IS NOT NULL) AS median_hours,
           count(*) FILTER (WHERE status = 'declined') AS declined,
           array_agg(id ORDER BY created_at, id) FILTER (WHERE shown AND status = 'declined')
               AS declined_ids,
           count(*) FILTER (
               WHERE respond_by <= :now
                 AND (withdrawn_at IS NULL OR withdrawn_at > respond_by
                      OR responded_at IS NOT NULL)) AS past_deadline,
           array_agg(id ORDER BY created_at, id) FILTER (
               WHERE shown AND respond_by <= :now
                 AND (withdrawn_at IS NULL OR withdrawn_at > respond_by
                      OR responded_at IS NOT NULL)) AS past_deadline_ids,
           count(*) FILTER (
               WHERE respond_by <= :now
                 AND (withdrawn_at IS NULL OR withdrawn_at > respond_by
                      OR responded_at IS NOT NULL)
                 AND (responded_at IS NULL OR responded_at > respond_by)) AS unanswered,
           array_agg(id ORDER BY created_at, id) FILTER (
               WHERE shown AND respond_by <= :now
                 AND (withdrawn_at IS NULL OR withdrawn_at > respond_by
                      OR responded_at IS NOT NULL)
                 AND (responded_at IS NULL OR responded_at > respond_by)) AS unanswered_ids
    FROM r
    GROUP BY ward_id
    """
)

DECLINE_REASONS = _sql(
    """
    SELECT p.ward_id, left(lower(btrim(r.decline_reason)), 80) AS reason,
           count(*) AS n,
           array_agg(r.id ORDER BY r.created_at, r.id) FILTER (WHERE p.ward_id = ANY(:id_wards))
               AS ids
    FROM patients p
    JOIN referrals r ON r.patient_id = p.id
    WHERE p.ward_id = ANY(:wards)
      AND r.created_at >= :start AND r.created_at < :end
      AND r.status = 'declined'
    GROUP BY p.ward_id, 2
    """
)

# A goal closed when it last moved to its present status. Read from the status changes since
# :start (by time): a goal whose last such move is in the period has it among them, and the
# latest of them is that move, so the ward's older goals are never visited.
GOALS = _sql(
    """
    WITH closed AS (
        SELECT p.ward_id, g.id, g.domain, g.status, max(s.changed_at) AS closed_at
        FROM goal_status_changes s
        JOIN goals g ON g.id = s.goal_id AND g.status = s.to_status
        JOIN patients p ON p.id = g.patient_id
        WHERE s.changed_at >= :start
          AND s.to_status IN ('achieved', 'not_achieved', 'cancelled')
          AND p.ward_id = ANY(:wards)
        GROUP BY p.ward_id, g.id, g.domain, g.status
    )
    SELECT ward_id, domain,
           count(*) AS denominator,
           count(*) FILTER (WHERE status = 'achieved') AS numerator,
           array_agg(id ORDER BY closed_at, id) FILTER (WHERE ward_id = ANY(:id_wards)) AS ids,
           array_agg(id ORDER BY closed_at, id)
               FILTER (WHERE ward_id = ANY(:id_wards) AND status = 'achieved') AS num_ids
    FROM closed
    WHERE closed_at >= :start AND closed_at < :end
    GROUP BY ward_id, domain
    """
)

DIALOG = _sql(
    """
    WITH scores AS (
        SELECT s.ward_id, s.ward_id = ANY(:id_wards) AS shown,
               s.id, s.patient_id, s.anchor_at, s.time_point,
               avg(a.score) FILTER (WHERE i.item_group = 'life') AS life,
               avg(a.score) FILTER (WHERE i.item_group = 'treatment') AS treatment
        FROM prom_surveys s
        JOIN prom_answers a ON a.survey_id = s.id
        JOIN prom_items i ON i.key = a.item_key
        WHERE s.ward_id = ANY(:wards) AND s.instrument = 'dialog'
          AND s.anchor_at >= :start AND s.anchor_at < :end
          AND a.score IS NOT NULL
        GROUP BY s.ward_id, s.id, s.patient_id, s.anchor_at, s.time_point
    )
    SELECT t.ward_id, t.time_point,
           avg(t.life) AS life_mean,
           count(t.life) AS life_n,
           array_agg(t.id ORDER BY t.anchor_at, t.id)
               FILTER (WHERE t.shown AND t.life IS NOT NULL) AS life_ids,
           avg(t.treatment) AS treatment_mean,
           count(t.treatment) AS treatment_n,
           array_agg(t.id ORDER BY t.anchor_at, t.id)
               FILTER (WHERE t.shown AND t.treatment IS NOT NULL) AS treatment_ids,
           avg(t.life - d.life) AS life_change,
           count(t.life - d.life) AS life_change_n,
           array_agg(t.id ORDER BY t.anchor_at, t.id)
               FILTER (WHERE t.shown AND t.life - d.life IS NOT NULL) AS life_change_ids,
           avg(t.treatment - d.treatment) AS treatment_change,
           count(t.treatment - d.treatment) AS treatment_change_n,
           array_agg(t.id ORDER BY t.anchor_at, t.id)
               FILTER (WHERE t.shown AND t.treatment - d.treatment IS NOT NULL)
               AS treatment_change_ids
    FROM scores t
    LEFT JOIN scores d
      ON d.patient_id = t.patient_id AND d.anchor_at = t.anchor_at
     AND d.time_point = 'discharge' AND t.time_point <> 'discharge'
    GROUP BY t.ward_id, t.time_point
    """
)
