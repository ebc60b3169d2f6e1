"""Set-based SQL that fills the swept tables with many rows, only a few of them due.

For the index tests and the sweep benchmark: `INSERT ... SELECT generate_series` writes a
hundred thousand rows in a second or two, where ORM inserts would take minutes. Rows respect
every constraint and foreign key; most are finished (outside the sweeps' partial indexes),
some wait for a future deadline, and `due` rows per table are due at `now`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

PATIENTS = 1000

_BASE = [
    """
    INSERT INTO wards (id, name, timezone, crisis_message, escalation_policy)
    VALUES (gen_random_uuid(), 'Bulk ward ' || gen_random_uuid(), 'Europe/London',
            'Call the ward.', '{"on_call_phone": "+442079460777"}')
    """,
    """
    INSERT INTO agencies (id, name, kind) VALUES (gen_random_uuid(), 'Bulk agency ' || gen_random_uuid(), 'housing')
    """,
    """
    INSERT INTO users (id, email, full_name, role, ward_id, password_hash, token_version)
    SELECT gen_random_uuid(), 'bulk-' || gen_random_uuid() || '@example.org', 'Bulk Manager',
           'ward_manager', (SELECT id FROM wards ORDER BY name LIMIT 1), 'x', 0
    """,
    """
    INSERT INTO patients (id, ward_id, nhs_number, given_name, family_name, date_of_birth,
                          mobile, timezone, status, sms_consent)
    SELECT gen_random_uuid(), (SELECT id FROM wards ORDER BY name LIMIT 1),
           lpad((9000000000 + i)::text, 10, '0'), 'Given', 'Family' || i, DATE '1980-01-01',
           '+447700' || lpad(i::text, 6, '0'), 'Europe/London', 'discharged', true
    FROM generate_series(1, :patients) AS i
    """,
    # Every patient consented to share with the agency: referrals go only with a consent.
    """
    INSERT INTO consents (id, patient_id, agency_id, scope, given_at, recorded_by_id, created_at)
    SELECT gen_random_uuid(), p.id, (SELECT id FROM agencies ORDER BY name LIMIT 1), 'plan',
           TIMESTAMPTZ '2000-01-01 00:00:00+00', (SELECT id FROM users ORDER BY email LIMIT 1),
           TIMESTAMPTZ '2000-01-01 00:00:00+00'
    FROM patients AS p
    """,
]

# Each statement takes :n (rows), :due (how many are due), :start (first series number, so
# a table can be filled in several rounds) and :now.
# Patients numbered 0.. so row i belongs to patient i % count (a hash join, not a subplan).
_PIDS = """WITH pids AS (
    SELECT id, row_number() OVER (ORDER BY id) - 1 AS k, count(*) OVER () AS total
    FROM patients)"""
_PATIENT = "pids.id"
_JOIN = "JOIN pids ON pids.k = i % pids.total"
_WARD = "(SELECT id FROM wards ORDER BY name LIMIT 1)"

TABLES: dict[str, str] = {
    # Groups: 0 open and due, 1 open and waiting, 2 acknowledged past resolve-by, 3 acknowledged
    # and waiting, 4 resolved. Acknowledged rows are as many as due and about n/20.
    "escalations": f"""
    {_PIDS}
    INSERT INTO escalations (id, patient_id, ward_id, reason, severity, level, status,
                             source_type, source_id, opened_at, ack_due_at, acknowledged_at,
                             resolve_due_at, resolved_at, created_at, updated_at)
    SELECT gen_random_uuid(), {_PATIENT}, {_WARD}, 'no_reply', 'routine', 1,
           CASE WHEN g <= 1 THEN 'open' WHEN g <= 3 THEN 'acknowledged' ELSE 'resolved' END,
           'bulk', i::text, :now - interval '1 day',
           CASE WHEN g = 0 THEN :now - interval '1 minute' - i * interval '1 ms'
                WHEN g = 1 THEN :now + interval '1 hour' + i * interval '1 ms'
                ELSE :now - interval '20 hours' - i * interval '1 ms' END,
           CASE WHEN g IN (2, 3) THEN :now - interval '21 hours' END,
           CASE WHEN g = 2 THEN :now - interval '1 minute' - i * interval '1 ms'
                WHEN g = 3 THEN :now + interval '1 hour' + i * interval '1 ms'
                WHEN g = 4 THEN :now - interval '20 hours' END,
           CASE WHEN g = 4 THEN :now - interval '19 hours' END,
           :now - interval '1 day', :now - interval '1 day'
    FROM generate_series(:start, :start + :n - 1) AS i {_JOIN}
    CROSS JOIN LATERAL (
        SELECT CASE WHEN i < :start + :due THEN 0
                    WHEN i < :start + :due + :n / 20 THEN 1
                    WHEN i < :start + 2 * :due + :n / 20 THEN 2
                    WHEN i < :start + 2 * :due + :n / 10 THEN 3
                    ELSE 4 END
    ) AS grp(g)
    """,
    "check_ins": f"""
    {_PIDS}
    INSERT INTO check_ins (id, patient_id, kind, due_at, next_action_at, status,
                           reply_window_minutes, reminder_after_minutes, closed_at,
                           answered_at, score, created_at, updated_at)
    SELECT gen_random_uuid(), {_PATIENT}, 'extra', :now - i * interval '1 s',
           CASE WHEN i < :start + :due THEN :now - interval '1 minute'
                WHEN i < :start + :due + :n / 20 THEN :now + interval '1 hour' + i * interval '1 ms'
                ELSE NULL END,
           CASE WHEN i < :start + :due + :n / 20 THEN 'scheduled' ELSE 'answered' END,
           240, 120,
           CASE WHEN i < :start + :due + :n / 20 THEN NULL ELSE :now - i * interval '1 s' END,
           CASE WHEN i < :start + :due + :n / 20 THEN NULL ELSE :now - i * interval '1 s' END,
           CASE WHEN i < :start + :due + :n / 20 THEN NULL ELSE 4 END,
           :now - interval '2 days', :now - interval '2 days'
    FROM generate_series(:start, :start + :n - 1) AS i {_JOIN}
    """,
    # One episode per follow-up (the follow-up's episode is unique), then the follow-ups:
    # `due` past due, `due` due within a day (the warning), n/20 later, the rest completed.
    "follow_ups": f"""
    {_PIDS},
    eps AS (
        INSERT INTO episodes (id, patient_id, admitted_at, discharged_at, suicide_risk)
        SELECT gen_random_uuid(), {_PATIENT}, :now - interval '30 days',
               :now - interval '29 days', false
        FROM generate_series(:start, :start + :n - 1) AS i {_JOIN}
        RETURNING id, patient_id
    ),
    numbered AS (SELECT id, patient_id, :start - 1 + row_number() OVER () AS i FROM eps)
    INSERT INTO follow_ups (id, patient_id, episode_id, due_at, suicide_risk, status,
                            completed_at, method, created_at)
    SELECT gen_random_uuid(), patient_id, id,
           CASE WHEN i < :start + :due THEN :now - interval '1 hour'
                WHEN i < :start + 2 * :due THEN :now + interval '2 hours'
                WHEN i < :start + 2 * :due + :n / 20 THEN :now + interval '2 days' + i * interval '1 ms'
                ELSE :now - interval '26 days' END,
           false,
           CASE WHEN i < :start + 2 * :due + :n / 20 THEN 'pending' ELSE 'completed' END,
           CASE WHEN i < :start + 2 * :due + :n / 20 THEN NULL ELSE :now - interval '27 days' END,
           CASE WHEN i < :start + 2 * :due + :n / 20 THEN NULL ELSE 'phone' END,
           :now - interval '29 days'
    FROM numbered
    """,
    "referrals": f"""
    {_PIDS}
    INSERT INTO referrals (id, patient_id, agency_id, reason, status, respond_by, responded_at,
                           created_by_id, created_at, updated_at)
    SELECT gen_random_uuid(), {_PATIENT}, (SELECT id FROM agencies ORDER BY name LIMIT 1),
           'Needs support',
           CASE WHEN i < :start + :due + :n / 20 THEN 'pending' ELSE 'completed' END,
           CASE WHEN i < :start + :due THEN :now - interval '1 hour'
                WHEN i < :start + :due + :n / 20 THEN :now + interval '1 day' + i * interval '1 ms'
                ELSE :now - interval '10 days' END,
           CASE WHEN i < :start + :due + :n / 20 THEN NULL ELSE :now - interval '11 days' END,
           (SELECT id FROM users ORDER BY email LIMIT 1), :now - interval '12 days',
           :now - interval '12 days'
    FROM generate_series(:start, :start + :n - 1) AS i {_JOIN}
    """,
    # Staff texts: `due` queued and due, n/20 queued for later, n/20 sent awaiting a delivery
    # check later, the rest delivered.
    "sms_outbox": f"""
    INSERT INTO sms_outbox (id, dedupe_key, recipient_kind, ward_id, purpose, to_number, body,
                            status, attempts, lookups, next_attempt_at, check_due_at,
                            created_at, sending_started_at, sent_at, finished_at, updated_at)
    SELECT gen_random_uuid(), 'bulk:' || i, 'staff', {_WARD}, 'bulk',
           '+447700' || lpad((i % 1000000)::text, 6, '0'), 'Homeward: bulk',
           CASE WHEN i < :start + :due + :n / 20 THEN 'queued'
                WHEN i < :start + :due + :n / 10 THEN 'sent'
                ELSE 'delivered' END,
           CASE WHEN i < :start + :due + :n / 20 THEN 0 ELSE 1 END, 0,
           CASE WHEN i < :start + :due THEN :now - interval '1 minute'
                WHEN i < :start + :due + :n / 20 THEN :now + interval '1 hour' + i * interval '1 ms'
                ELSE NULL END,
           CASE WHEN i >= :start + :due + :n / 20 AND i < :start + :due + :n / 10
                THEN :now + interval '20 minutes' + i * interval '1 ms' END,
           :now - interval '2 days',
           CASE WHEN i < :start + :due + :n / 20 THEN NULL ELSE :now - interval '2 days' END,
           CASE WHEN i < :start + :due + :n / 20 THEN NULL ELSE :now - interval '2 days' END,
           CASE WHEN i < :start + :due + :n / 10 THEN NULL ELSE :now - interval '2 days' END,
           :now - interval '2 days'
    FROM generate_series(:start, :start + :n - 1) AS i
    """,
    # Staff emails: `due` queued and due, n/20 queued for a retry later, the rest sent.
    "staff_email_outbox": """
    INSERT INTO staff_email_outbox (id, dedupe_key, user_id, ward_id, reason, purpose,
                                    to_address, subject, body, status, attempts,
                                    next_attempt_at, created_at, sent_at, finished_at,
                                    updated_at)
    SELECT gen_random_uuid(), 'email:bulk:' || i, (SELECT id FROM users ORDER BY email LIMIT 1),
           (SELECT id FROM wards ORDER BY name LIMIT 1), 'no_mobile', 'bulk',
           'bulk@example.org', 'Homeward staff alert', 'Homeward: bulk',
           CASE WHEN i < :start + :due + :n / 20 THEN 'queued' ELSE 'sent' END,
           CASE WHEN i < :start + :due THEN 0 ELSE 1 END,
           CASE WHEN i < :start + :due THEN :now - interval '1 minute'
                WHEN i < :start + :due + :n / 20 THEN :now + interval '1 hour' + i * interval '1 ms'
                ELSE NULL END,
           :now - interval '2 days',
           CASE WHEN i < :start + :due + :n / 20 THEN NULL ELSE :now - interval '2 days' END,
           CASE WHEN i < :start + :due + :n / 20 THEN NULL ELSE :now - interval '2 days' END,
           :now - interval '2 days'
    FROM generate_series(:start, :start + :n - 1) AS i
    """,
    # The inbound texts the replies below are held for (one each, numbered in the sid).
    "sms_inbound": f"""
    {_PIDS}
    INSERT INTO sms_inbound (id, message_sid, patient_id, ward_id, from_number, body, kind,
                             received_at, from_carer)
    SELECT gen_random_uuid(), 'SMbulk' || i, {_PATIENT}, {_WARD}, '+447700000000',
           'Bulk text', 'free_text', :now - interval '2 days', false
    FROM generate_series(:start, :start + :n - 1) AS i {_JOIN}
    """,
    # `due` unread past their read-by time, n/20 unread due later, n/20 unread and already
    # escalated, the rest read. Filled after sms_inbound, in separate statements so that
    # neither outlasts the statement timeout on a busy machine.
    "replies_to_read": """
    WITH numbered AS (
        SELECT id, patient_id, ward_id, substr(message_sid, 7)::int AS i
        FROM sms_inbound
        WHERE message_sid LIKE 'SMbulk%'
          AND substr(message_sid, 7)::int BETWEEN :start AND :start + :n - 1
    )
    INSERT INTO replies_to_read (id, inbound_id, patient_id, ward_id, from_carer, severity,
                                 received_at, status, read_due_at, read_by, read_at,
                                 escalated_at, created_at)
    SELECT gen_random_uuid(), id, patient_id, ward_id, false, 'routine',
           :now - interval '2 days',
           CASE WHEN i < :start + :due + :n / 10 THEN 'unread' ELSE 'read' END,
           CASE WHEN i < :start + :due THEN :now - interval '1 minute'
                WHEN i < :start + :due + :n / 20 THEN :now + interval '1 hour' + i * interval '1 ms'
                ELSE :now - interval '1 day' END,
           CASE WHEN i < :start + :due + :n / 10 THEN NULL
                ELSE (SELECT id FROM users ORDER BY email LIMIT 1) END,
           CASE WHEN i < :start + :due + :n / 10 THEN NULL ELSE :now - interval '1 day' END,
           CASE WHEN i >= :start + :due + :n / 20 AND i < :start + :due + :n / 10
                THEN :now - interval '1 day' END,
           :now - interval '2 days'
    FROM numbered
    """,
}


def _typed(statement: str) -> str:
    # Untyped binds in arithmetic are ambiguous to PostgreSQL; say what they are once here.
    for name, kind in (("now", "timestamptz"), ("start", "int"), ("due", "int"), ("n", "int")):
        statement = statement.replace(f":{name} ", f"CAST(:{name} AS {kind}) ").replace(
            f":{name},", f"CAST(:{name} AS {kind}),"
        )
    return statement


TABLES = {name: _typed(sql) for name, sql in TABLES.items()}


async def base_rows(conn: AsyncConnection, patients: int = PATIENTS) -> None:
    """A ward (with an on-call line), an agency, a manager and `patients` discharged patients."""
    for statement in _BASE:
        await conn.execute(text(statement), {"patients": patients})


async def fill(
    conn: AsyncConnection, table: str, *, n: int, due: int, now: datetime, start: int = 1
) -> None:
    """`n` rows in `table` numbered from `start`, the first `due` of them due at `now`."""
    await conn.execute(text(TABLES[table]), {"n": n, "due": due, "now": now, "start": start})
