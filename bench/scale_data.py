"""A trust's five years of history, written set-based (`INSERT ... SELECT generate_series`,
the server generating rows in bulk, not through the API), under the demo wards' present.

The present is the demo (`homeward seed-demo`, through the services): two wards with patients
on the ward, at home with check-ins running, open escalations and follow-ups due. Beneath it,
`factor` times a whole trust's history: 20 wards, 40,000 patients, 60,000 stays, 3 million
check-ins, about 6 million texts, 5 million audit events, and the referrals, consents, goals,
plans, support actions and escalations that go with them, all finished: the last history
discharge is `PRESENT_DAYS + TAIL_DAYS` ago, so every clock that follows a stay (50 daily
check-ins, a consent's 90 days) stopped before the present's twelve weeks, and a window over
the present (the board, a 90-day report) holds the same records at every factor. Per patient
the history is the same at every factor, so a patient page costs the same work at both sizes;
only the trust's weight changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

WARDS = 20
PATIENTS = 40_000
AUDIT_EVENTS = 5_000_000
CHECK_INS_PER_STAY = 50  # 60,000 stays x 50 = 3 million check-ins
AGENCIES = 10
HISTORY_DAYS = 5 * 365
PRESENT_DAYS = 84  # the last twelve weeks belong to the demo's present
TAIL_DAYS = 91  # the longest clock after a history discharge (a consent's 90 days), and a day


@dataclass(frozen=True)
class Shape:
    factor: float

    @property
    def patients(self) -> int:
        return max(WARDS, round(PATIENTS * self.factor))

    @property
    def audit_events(self) -> int:
        return round(AUDIT_EVENTS * self.factor)


# Statements in order; each takes :now, :n (history patients), :days, :present, :tail and
# :audit.
_STEPS: list[tuple[str, str]] = [
    (
        "wards",
        """
        INSERT INTO wards (id, name, timezone, crisis_message, escalation_policy)
        SELECT gen_random_uuid(), 'Trust ward ' || lpad(w::text, 2, '0'), 'Europe/London',
               'If you are in crisis call the ward on 020 7946 0000 or NHS 111.',
               '{"on_call_phone": "+442079460777"}'
        FROM generate_series(1, :wards - (SELECT count(*) FROM wards)) AS w
        """,
    ),
    (
        "agencies",
        """
        INSERT INTO agencies (id, name, kind, active)
        SELECT gen_random_uuid(), 'Trust agency ' || a,
               (ARRAY['housing','employment','benefits','peer_support','community_mental_health',
                      'substance_use','gp','other'])[1 + a % 8], true
        FROM generate_series(1, :agencies) AS a
        """,
    ),
    (
        "staff",
        """
        INSERT INTO users (id, email, full_name, role, ward_id, password_hash, token_version)
        SELECT gen_random_uuid(), 'history.staff.' || w.id || '@trust.example', 'History Staff',
               'ward_staff', w.id, 'not-a-hash', 0
        FROM wards w
        """,
    ),
    (
        "history patients (helper table)",
        """
        CREATE TABLE bench_history_patients AS
        SELECT k, gen_random_uuid() AS id, w.id AS ward_id, w.staff_id,
               '+447800' || lpad(k::text, 6, '0') AS mobile,
               CAST(:now AS timestamptz) - make_interval(days => CAST(:present AS int) + CAST(:tail AS int))
                    - make_interval(secs => (k::float8 / :n) * (CAST(:days AS int) - :present - :tail) * 86400)
                 AS base
        FROM generate_series(0, :n - 1) AS k
        JOIN (SELECT w.id, u.id AS staff_id, row_number() OVER (ORDER BY w.name) - 1 AS r
              FROM wards w JOIN users u ON u.ward_id = w.id AND u.email LIKE 'history.staff.%') w
          ON w.r = k % :wards
        """,
    ),
    ("index the helper table", "ALTER TABLE bench_history_patients ADD PRIMARY KEY (k)"),
    (
        "patients",
        """
        INSERT INTO patients (id, ward_id, nhs_number, given_name, family_name, date_of_birth,
                              mobile, timezone, status, sms_consent, created_at, updated_at)
        SELECT id, ward_id, '70' || lpad(k::text, 8, '0'), 'Hist', 'Patient' || k,
               DATE '1950-01-01' + (k % 18000), mobile, 'Europe/London',
               CASE WHEN k % 3 = 0 THEN 'closed' ELSE 'discharged' END, true,
               base - interval '230 days', base
        FROM bench_history_patients
        """,
    ),
    (
        "stays (every patient one, every other patient a second)",
        """
        INSERT INTO episodes (id, patient_id, admitted_at, discharged_at, suicide_risk,
                              destination, created_at)
        SELECT gen_random_uuid(), h.id,
               h.base - interval '21 days' - e.n * interval '200 days',
               h.base - e.n * interval '200 days', h.k % 5 = 0, 'home',
               h.base - interval '21 days' - e.n * interval '200 days'
        FROM bench_history_patients h CROSS JOIN generate_series(0, 1) AS e(n)
        WHERE e.n = 0 OR h.k % 2 = 0
        """,
    ),
    (
        "follow-ups (85% met; the rest breached, then completed by a late contact)",
        """
        INSERT INTO follow_ups (id, patient_id, episode_id, due_at, suicide_risk, status,
                                completed_at, method, breached_at, created_at)
        SELECT gen_random_uuid(), e.patient_id, e.id, d.due_at, e.suicide_risk, 'completed',
               CASE WHEN d.r < 0.85 THEN e.discharged_at + interval '30 hours'
                    ELSE d.due_at + interval '2 days' END,
               'phone',
               CASE WHEN d.r >= 0.85 THEN d.due_at END,
               e.discharged_at
        FROM episodes e JOIN bench_history_patients h ON h.id = e.patient_id
        CROSS JOIN LATERAL (
            SELECT e.discharged_at + CASE WHEN e.suicide_risk THEN interval '48 hours'
                                          ELSE interval '72 hours' END AS due_at,
                   -- per row (an uncorrelated random() would be drawn once for the insert)
                   (abs(hashtext(e.id::text)) % 1000) / 1000.0 AS r
        ) d
        """,
    ),
    (
        "check-ins (70% answered, 25% missed, 5% skipped)",
        """
        INSERT INTO check_ins (id, patient_id, kind, anchor_at, offset_hours, due_at, status,
                               reply_window_minutes, reminder_after_minutes, sent_at,
                               reminded_at, answered_at, closed_at, score, created_at,
                               updated_at)
        SELECT gen_random_uuid(), e.patient_id, 'scheduled', e.discharged_at, j * 24, due,
               CASE WHEN r < 0.70 THEN 'answered' WHEN r < 0.95 THEN 'missed' ELSE 'skipped' END,
               240, 120,
               CASE WHEN r < 0.95 THEN due END,
               CASE WHEN r >= 0.70 AND r < 0.95 THEN due + interval '2 hours' END,
               CASE WHEN r < 0.70 THEN due + interval '25 minutes' END,
               due + interval '4 hours',
               CASE WHEN r < 0.70 THEN 1 + (j + abs(hashtext(e.id::text))) % 5 END,
               e.discharged_at, due + interval '4 hours'
        FROM episodes e JOIN bench_history_patients h ON h.id = e.patient_id
        CROSS JOIN generate_series(1, :per_stay) AS j
        CROSS JOIN LATERAL (SELECT e.discharged_at + j * interval '24 hours' AS due,
                                   random() AS r) x
        """,
    ),
    (
        "texts out: a prompt per check-in sent",
        """
        INSERT INTO sms_outbox (id, dedupe_key, recipient_kind, patient_id, ward_id, check_in_id,
                                purpose, to_number, body, status, attempts, sid, created_at,
                                sending_started_at, sent_at, finished_at, updated_at)
        SELECT gen_random_uuid(), 'hist:prompt:' || c.id, 'patient', c.patient_id, h.ward_id,
               c.id, 'checkin_prompt', h.mobile,
               'Homeward: how are you today? Reply with a number from 1 (bad) to 5 (good).',
               'delivered', 1, 'SMp' || replace(c.id::text, '-', ''), c.due_at, c.due_at,
               c.due_at + interval '1 second', c.due_at + interval '6 seconds',
               c.due_at + interval '6 seconds'
        FROM check_ins c JOIN bench_history_patients h ON h.id = c.patient_id
        WHERE c.sent_at IS NOT NULL
        """,
    ),
    (
        "texts out: a reminder per check-in reminded",
        """
        INSERT INTO sms_outbox (id, dedupe_key, recipient_kind, patient_id, ward_id, check_in_id,
                                purpose, to_number, body, status, attempts, sid, created_at,
                                sending_started_at, sent_at, finished_at, updated_at)
        SELECT gen_random_uuid(), 'hist:reminder:' || c.id, 'patient', c.patient_id, h.ward_id,
               c.id, 'checkin_reminder', h.mobile,
               'Homeward: a reminder - how are you today? Reply 1 to 5.',
               CASE WHEN abs(hashtext(c.id::text)) % 20 = 0 THEN 'undelivered' ELSE 'delivered' END,
               1, 'SMr' || replace(c.id::text, '-', ''), c.reminded_at, c.reminded_at,
               c.reminded_at + interval '1 second', c.reminded_at + interval '6 seconds',
               c.reminded_at + interval '6 seconds'
        FROM check_ins c JOIN bench_history_patients h ON h.id = c.patient_id
        WHERE c.reminded_at IS NOT NULL
        """,
    ),
    (
        "texts in: a reply per check-in answered",
        """
        INSERT INTO sms_inbound (id, message_sid, patient_id, ward_id, from_number, to_number,
                                 body, kind, score, check_in_id, received_at, from_carer)
        SELECT gen_random_uuid(), 'SMi' || replace(c.id::text, '-', ''), c.patient_id,
               h.ward_id, h.mobile, '+447700900001', c.score::text, 'score', c.score, c.id,
               c.answered_at, false
        FROM check_ins c JOIN bench_history_patients h ON h.id = c.patient_id
        WHERE c.answered_at IS NOT NULL
        """,
    ),
    (
        "escalations (one missed check-in in seven, all resolved)",
        """
        INSERT INTO escalations (id, patient_id, ward_id, reason, severity, level, status,
                                 source_type, source_id, opened_at, ack_due_at, acknowledged_at,
                                 acknowledged_by, resolve_due_at, resolved_at, resolved_by,
                                 resolution_note, resolution_outcome, created_at, updated_at)
        SELECT gen_random_uuid(), c.patient_id, h.ward_id, 'no_reply', 'routine', 1,
               'resolved', 'check_in', c.id::text, c.closed_at, c.closed_at + interval '30 minutes',
               c.closed_at + interval '12 minutes', h.staff_id, c.closed_at + interval '24 hours',
               c.closed_at + interval '3 hours', h.staff_id, 'Phoned, safe at home.',
               'contacted_patient_safe', c.closed_at, c.closed_at + interval '3 hours'
        FROM check_ins c JOIN bench_history_patients h ON h.id = c.patient_id
        WHERE c.status = 'missed' AND abs(hashtext(c.id::text)) % 7 = 0
        """,
    ),
    (
        "goals (two per patient)",
        """
        INSERT INTO goals (id, patient_id, domain, description, status, created_by, created_at,
                           updated_at)
        SELECT gen_random_uuid(), h.id,
               (ARRAY['housing','employment_education','finances','physical_health',
                      'medication','relationships','daily_living','substance_use'])[1 + (h.k + g) % 8],
               'Goal ' || g || ' of a past stay',
               (ARRAY['achieved','not_achieved','cancelled','achieved'])[1 + (h.k + g) % 4],
               h.staff_id, h.base - interval '20 days', h.base
        FROM bench_history_patients h CROSS JOIN generate_series(1, 2) AS g
        """,
    ),
    (
        "relapse-prevention plans (one version each)",
        """
        INSERT INTO relapse_prevention_plans (id, patient_id, version, early_warning_signs,
                                              triggers, coping_strategies, crisis_contacts,
                                              check_in_question, created_at, created_by)
        SELECT gen_random_uuid(), h.id, 1, '["Sleeping badly", "Not eating"]',
               '["Money worries"]', '["Walk with a friend", "Call the ward"]',
               '[{"name": "Sam", "relationship": "sister", "phone": "+447700900123"}]',
               NULL, h.base - interval '2 days', h.staff_id
        FROM bench_history_patients h
        """,
    ),
    (
        "consents (three patients in four; all ended)",
        """
        INSERT INTO consents (id, patient_id, agency_id, scope, given_at, expires_at,
                              withdrawn_at, recorded_by_id, withdrawn_by_id, created_at)
        SELECT gen_random_uuid(), h.id, a.id, (ARRAY['contact_details','plan','full'])[1 + h.k % 3],
               h.base - interval '10 days', h.base + interval '90 days',
               CASE WHEN h.k % 8 = 0 THEN h.base + interval '30 days' END, h.staff_id,
               CASE WHEN h.k % 8 = 0 THEN h.staff_id END, h.base - interval '10 days'
        FROM bench_history_patients h
        JOIN (SELECT id, row_number() OVER (ORDER BY name) - 1 AS r FROM agencies) a
          ON a.r = h.k % (SELECT count(*) FROM agencies)
        WHERE h.k % 4 <> 3
        """,
    ),
    (
        "referrals (one per consent: completed, declined or withdrawn)",
        """
        INSERT INTO referrals (id, patient_id, agency_id, reason, status, respond_by,
                               responded_at, decline_reason, created_by_id, created_at, updated_at)
        SELECT gen_random_uuid(), c.patient_id, c.agency_id, 'Support after discharge',
               (ARRAY['completed','completed','declined','withdrawn'])[1 + abs(hashtext(c.id::text)) % 4],
               c.given_at + interval '5 days', c.given_at + interval '2 days',
               CASE WHEN 1 + abs(hashtext(c.id::text)) % 4 = 3 THEN 'No capacity in this area' END,
               c.recorded_by_id, c.given_at, c.given_at + interval '40 days'
        FROM consents c JOIN bench_history_patients h ON h.id = c.patient_id
        """,
    ),
    (
        "support actions (two per consent)",
        """
        INSERT INTO support_actions (id, patient_id, agency_id, kind, occurred_at, note,
                                     recorded_by_id, created_at)
        SELECT gen_random_uuid(), c.patient_id, c.agency_id,
               (ARRAY['visit','phone_call','appointment','peer_session'])[1 + s], c.given_at + s * interval '9 days',
               NULL, c.recorded_by_id, c.given_at + s * interval '9 days'
        FROM consents c JOIN bench_history_patients h ON h.id = c.patient_id
        CROSS JOIN generate_series(1, 2) AS s
        """,
    ),
    (
        "audit events (staff reading and changing records, spread over each patient's stays)",
        """
        INSERT INTO audit_events (occurred_at, actor_id, actor_role, action, outcome, patient_id,
                                  ward_id, object_type, object_id, request_id)
        SELECT h.base - (i / :n % 240) * interval '1 day' + (i % 86400) * interval '1 second',
               h.staff_id, 'ward_staff',
               (ARRAY['patient.read','plan.read','messages.read','checkins.read','patient.update',
                      'escalation.acknowledge','follow_up.attempt'])[1 + i % 7],
               CASE WHEN i % 500 = 0 THEN 'denied' ELSE 'allowed' END,
               h.id, h.ward_id, 'patient', h.id::text, md5(i::text)
        FROM generate_series(0, :audit - 1) AS i
        JOIN bench_history_patients h ON h.k = i % :n
        """,
    ),
    ("drop the helper table", "DROP TABLE bench_history_patients"),
]


async def build_history(
    conn: AsyncConnection, shape: Shape, now: datetime, log: Callable[[str, float], None]
) -> None:
    """Write the history; `log(step, seconds)` hears how long each step took."""
    import time

    params = {
        "now": now,
        "n": shape.patients,
        "days": HISTORY_DAYS,
        "present": PRESENT_DAYS,
        "tail": TAIL_DAYS,
        "audit": shape.audit_events,
        "per_stay": CHECK_INS_PER_STAY,
        "wards": WARDS,
        "agencies": AGENCIES,
    }
    for name, sql in _STEPS:
        started = time.perf_counter()
        used = {k: v for k, v in params.items() if f":{k}" in sql}
        await conn.execute(text(sql), used)
        await conn.commit()
        log(name, time.perf_counter() - started)
    started = time.perf_counter()
    await conn.execute(text("ANALYZE"))
    await conn.commit()
    log("analyze", time.perf_counter() - started)
