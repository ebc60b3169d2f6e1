"""Headline measures as time series: one grouped statement per measure, all wards at once.

Each statement lists the measure's records in [start, end) as (ward_id, at, id, hit, value)
along the same indexes as `measures` (ward's patients -> their episodes / check-ins /
referrals by time; escalations and surveys by ward and time), then groups them by ward and
period (`date_trunc` in the zone :tz). Cost grows with the records in the months asked for,
never with the trust's whole history, and there is no per-month loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Interval, String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.sql.elements import TextClause

from db.base import UTCDateTime
from service.reports.readmission_sql import NOT_READMITTED_BY_DUE, READMISSION_LOOKUP
from service.standards import READMISSION_WINDOW

_GROUPED = """
    WITH rec AS ({records})
    SELECT ward_id,
           date_trunc(:grain, at AT TIME ZONE :tz) AS bucket,
           count(*) AS denominator,
           count(*) FILTER (WHERE hit) AS numerator,
           sum(value) AS total,
           array_agg(id ORDER BY at, id) AS ids,
           array_agg(id ORDER BY at, id) FILTER (WHERE hit) AS num_ids
    FROM rec
    GROUP BY ward_id, bucket
"""

FOLLOW_UP = f"""
    SELECT p.ward_id, e.discharged_at AS at, f.id,
           coalesce(f.completed_at <= f.due_at, false) AS hit, NULL::float AS value
    FROM patients p
    JOIN episodes e ON e.patient_id = p.id
    JOIN follow_ups f ON f.episode_id = e.id
    WHERE p.ward_id = ANY(:wards)
      AND e.discharged_at >= :start AND e.discharged_at < :end
      AND (f.due_at <= :now OR f.completed_at IS NOT NULL)
      -- Readmitted by the due time: left out.
      AND {NOT_READMITTED_BY_DUE}
"""  # noqa: S608 (only this package's constants are put in)

READMISSION = f"""
    SELECT * FROM (
        SELECT p.ward_id, e.discharged_at AS at, e.id, r.id IS NOT NULL AS hit,
               NULL::float AS value
        FROM patients p
        JOIN episodes e ON e.patient_id = p.id
        {READMISSION_LOOKUP}
        WHERE p.ward_id = ANY(:wards)
          AND e.discharged_at >= :start AND e.discharged_at < :end
    ) d
    WHERE hit OR at + :readmission_window <= :now
"""  # noqa: S608 (only this package's constants are put in)

CHECK_IN = """
    SELECT p.ward_id, c.due_at AS at, c.id, c.status = 'answered' AS hit, NULL::float AS value
    FROM patients p
    JOIN check_ins c ON c.patient_id = p.id
    WHERE p.ward_id = ANY(:wards)
      AND c.due_at >= :start AND c.due_at < :end
      AND c.status IN ('answered', 'missed')
"""

# In time: acknowledged at level 1, i.e. before the first deadline made it climb. Counted once
# acknowledged, climbed, or its first deadline has passed.
ESCALATION_ACK = """
    SELECT e.ward_id, e.opened_at AS at, e.id,
           (e.acknowledged_at IS NOT NULL AND e.level = 1) AS hit, NULL::float AS value
    FROM escalations e
    WHERE e.ward_id = ANY(:wards)
      AND e.opened_at >= :start AND e.opened_at < :end
      AND (e.acknowledged_at IS NOT NULL OR e.level > 1 OR e.ack_due_at <= :now)
"""

# Answered in time: a response at or before respond-by, over referrals whose respond-by has
# passed (leaving out those withdrawn before it), as `measures.REFERRALS` counts them.
REFERRAL_ANSWERED = """
    SELECT * FROM (
        SELECT p.ward_id, r.created_at AS at, r.id,
               coalesce(r.responded_at <= r.respond_by, false) AS hit, NULL::float AS value,
               r.respond_by, r.responded_at,
               (SELECT min(s.at) FROM referral_status_changes s
                WHERE s.referral_id = r.id AND s.to_status = 'withdrawn') AS withdrawn_at
        FROM patients p
        JOIN referrals r ON r.patient_id = p.id
        WHERE p.ward_id = ANY(:wards)
          AND r.created_at >= :start AND r.created_at < :end
    ) x
    WHERE respond_by <= :now
      AND (withdrawn_at IS NULL OR withdrawn_at > respond_by OR responded_at IS NOT NULL)
"""

# DIALOG life score change from discharge to one month, per one-month survey, dated by the
# discharge it follows.
DIALOG_CHANGE = """
    WITH scores AS (
        SELECT s.ward_id, s.id, s.patient_id, s.anchor_at, s.time_point,
               avg(a.score) FILTER (WHERE i.item_group = 'life') AS life
        FROM prom_surveys s
        JOIN prom_answers a ON a.survey_id = s.id
        JOIN prom_items i ON i.key = a.item_key
        WHERE s.ward_id = ANY(:wards) AND s.instrument = 'dialog'
          AND s.anchor_at >= :start AND s.anchor_at < :end
          AND s.time_point IN ('discharge', '1_month')
          AND a.score IS NOT NULL
        GROUP BY s.ward_id, s.id, s.patient_id, s.anchor_at, s.time_point
    )
    SELECT t.ward_id, t.anchor_at AS at, t.id, false AS hit,
           (t.life - d.life)::float AS value
    FROM scores t
    JOIN scores d
      ON d.patient_id = t.patient_id AND d.anchor_at = t.anchor_at
     AND d.time_point = 'discharge'
    WHERE t.time_point = '1_month' AND t.life IS NOT NULL AND d.life IS NOT NULL
"""

# Friends and Family Test: positive = "very good" or "good" over every answer (NHS England's
# FFT guidance counts all responses in the denominator).
FFT_POSITIVE = """
    SELECT s.ward_id, s.anchor_at AS at, s.id, a.score IN (1, 2) AS hit, NULL::float AS value
    FROM prom_surveys s
    JOIN prom_answers a ON a.survey_id = s.id AND a.item_key = 'fft.experience'
    WHERE s.ward_id = ANY(:wards) AND s.instrument = 'fft'
      AND s.anchor_at >= :start AND s.anchor_at < :end
      AND a.score IS NOT NULL
"""


Kind = Literal["proportion", "mean"]


@dataclass(frozen=True)
class SeriesMeasure:
    key: str
    label: str
    kind: Kind
    # "up": higher is better; "down": lower is better.
    direction: Literal["up", "down"]
    record_type: str
    records: str
    target: float | None = None


def grouped(measure: SeriesMeasure) -> TextClause:
    statement = _GROUPED.format(records=measure.records)
    types: dict[str, Any] = {
        "wards": ARRAY(PG_UUID(as_uuid=True)),
        "start": UTCDateTime(),
        "end": UTCDateTime(),
        "now": UTCDateTime(),
        "grain": String(),
        "tz": String(),
    }
    used = [bindparam(n, type_=t) for n, t in types.items() if f":{n}" in statement]
    clause = text(statement).bindparams(*used)
    if ":readmission_window" in statement:
        clause = clause.bindparams(
            bindparam("readmission_window", READMISSION_WINDOW, type_=Interval())
        )
    return clause
