from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from service.users.schemas import UserOut


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(min_length=1, max_length=320)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    # The device_token an earlier sign-in answered: this client signed in as this user before,
    # so failed guesses by others on the account do not lock it out.
    device_token: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=200,
                description="from an earlier login answer on this device",
            ),
        ]
        | None
    ) = None
    # Accounts with two-step sign-in: the current code from the authenticator app, or one of
    # the recovery codes (each works once). Without either such an account answers 401
    # with the problem type totp-required.
    totp_code: (
        Annotated[
            str, msgspec.Meta(min_length=1, max_length=10, description="6 digits from the app")
        ]
        | None
    ) = None
    recovery_code: (
        Annotated[
            str, msgspec.Meta(min_length=1, max_length=40, description="a one-time recovery code")
        ]
        | None
    ) = None


class LoginResponse(msgspec.Struct):
    access_token: str
    token_type: Literal["bearer"]
    expires_at: datetime
    user: UserOut
    # Keep it and send it with the next login from this device.
    device_token: str
    # True: every route but GET /me, POST /me/password and POST /auth/logout answers 403 until
    # the password is changed.
    must_change_password: bool
    # Failed sign-in attempts on this account since its previous sign-in (tell the user).
    failed_attempts_since_last_sign_in: int


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    new_password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class TotpEnrolmentOut(msgspec.Struct):
    # The key to put in an authenticator app (or the otpauth URI, as a QR code would hold it).
    # Answered only until enrolment is confirmed; never again after.
    secret: str
    otpauth_uri: str


class TotpConfirm(msgspec.Struct, forbid_unknown_fields=True):
    totp_code: Annotated[str, msgspec.Meta(min_length=1, max_length=10)]


class TotpEnrolled(msgspec.Struct):
    # A fresh token: every other token of the user ended (this one too).
    access_token: str
    token_type: Literal["bearer"]
    expires_at: datetime
    # Shown once, never stored in the clear: each signs in once in place of a code.
    recovery_codes: list[str]
