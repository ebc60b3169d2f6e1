"""The readmission rules, written once for the outcome report (`measures`) and its series
(`series_sql`): SQL fragments over a discharge episode `e` (and its follow-up `f`).

A readmission is a later admission of the same patient at or before the discharge plus
`service.standards.READMISSION_WINDOW` (bound as :readmission_window)."""

from __future__ import annotations

# After `FROM ... episodes e`: yields `r.id`, null when `e` was not followed by a readmission.
# Joined LATERAL so it is looked up once per discharge: an EXISTS in a select list is copied
# into every place that reads it (a WHERE, each FILTER), and each copy probes again.
READMISSION_LOOKUP = """
        LEFT JOIN LATERAL (
            SELECT r.id FROM episodes r
            WHERE r.patient_id = e.patient_id AND r.id <> e.id
              AND r.admitted_at >= e.discharged_at
              AND r.admitted_at <= e.discharged_at + :readmission_window
            LIMIT 1
        ) r ON true"""

# A condition: `e`'s patient was not readmitted by the time follow-up `f` fell due (such a
# discharge is left out of the follow-up measure). A scalar subquery, per discharge through
# the patient's admissions index, not NOT EXISTS, which the planner turns into an anti join
# over every episode of the trust.
NOT_READMITTED_BY_DUE = """(SELECT r.id FROM episodes r
               WHERE r.patient_id = e.patient_id AND r.id <> e.id
                 AND r.admitted_at >= e.discharged_at AND r.admitted_at <= f.due_at
               LIMIT 1) IS NULL"""
