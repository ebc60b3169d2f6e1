"""All mapped models, imported here so metadata is complete for Alembic and the app."""

from db.models.agencies import Agency
from db.models.audit import AuditEvent
from db.models.checkins import CheckIn, CheckInSchedule
from db.models.escalations import Escalation, EscalationEvent
from db.models.jobs import JobHeartbeat
from db.models.login_attempts import LoginAttempt
from db.models.patients import Episode, Patient
from db.models.sms import InboundMessage, OutboxMessage, SmsNumberFlag
from db.models.users import User
from db.models.wards import Ward

__all__ = [
    "Agency",
    "AuditEvent",
    "CheckIn",
    "CheckInSchedule",
    "Episode",
    "Escalation",
    "EscalationEvent",
    "InboundMessage",
    "JobHeartbeat",
    "LoginAttempt",
    "OutboxMessage",
    "Patient",
    "SmsNumberFlag",
    "User",
    "Ward",
]
