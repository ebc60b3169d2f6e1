"""All mapped models, imported here so metadata is complete for Alembic and the app."""

from db.models.accounts import RecoveryCode, UserSession
from db.models.agencies import Agency
from db.models.audit import AuditEvent
from db.models.checkins import CheckIn, CheckInSchedule
from db.models.consents import Consent
from db.models.email import StaffEmail
from db.models.escalations import Escalation, EscalationEvent
from db.models.feedback import Carer, PatientFeedback, YouSaidWeDid
from db.models.follow_ups import FollowUp, FollowUpAttempt
from db.models.goals import Goal, GoalStatusChange
from db.models.idempotency import IdempotencyKey
from db.models.jobs import JobHeartbeat, SweepItemFailure
from db.models.login_attempts import LoginAttempt, PasswordReset, RevokedToken
from db.models.message_templates import MessageTemplate, MessageTemplateLanguage
from db.models.patients import Episode, Patient
from db.models.plans import RelapsePreventionPlan
from db.models.proms import PromAnswer, PromItem, PromSurvey
from db.models.referrals import Referral, ReferralStatusChange
from db.models.replies import ReplyToRead
from db.models.rota import OnCallShift
from db.models.sms import InboundMessage, OutboxMessage, SmsNumberFlag, UnmatchedInbound
from db.models.support_actions import SupportAction
from db.models.users import User
from db.models.wards import Ward

__all__ = [
    "Agency",
    "AuditEvent",
    "Carer",
    "CheckIn",
    "CheckInSchedule",
    "Consent",
    "Episode",
    "Escalation",
    "EscalationEvent",
    "FollowUp",
    "FollowUpAttempt",
    "Goal",
    "GoalStatusChange",
    "IdempotencyKey",
    "InboundMessage",
    "JobHeartbeat",
    "LoginAttempt",
    "MessageTemplate",
    "MessageTemplateLanguage",
    "OnCallShift",
    "OutboxMessage",
    "PasswordReset",
    "Patient",
    "PatientFeedback",
    "PromAnswer",
    "PromItem",
    "PromSurvey",
    "RecoveryCode",
    "Referral",
    "ReferralStatusChange",
    "RelapsePreventionPlan",
    "ReplyToRead",
    "RevokedToken",
    "SmsNumberFlag",
    "StaffEmail",
    "SupportAction",
    "SweepItemFailure",
    "UnmatchedInbound",
    "User",
    "UserSession",
    "Ward",
    "YouSaidWeDid",
]
