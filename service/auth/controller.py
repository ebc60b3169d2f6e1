from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import JSONBody

from service.auth import service, sessions
from service.auth.schemas import (
    LoginRequest,
    LoginResponse,
    PasswordChange,
    TotpConfirm,
    TotpEnrolled,
    TotpEnrolmentOut,
)
from service.auth.sessions import describe_agent
from service.errors import Conflict
from service.http.auth import ANY_USER, public, roles
from service.http.forwarded import client_host
from service.http.idempotency import NEVER_REPLAYED
from service.http.params import Caller, ClockDep, Db, Res
from service.users.schemas import UserOut
from service.users.service import get_user, to_out


def login_response(result: service.LoginResult) -> LoginResponse:
    return LoginResponse(
        access_token=result.access_token,
        token_type="bearer",
        expires_at=result.expires_at,
        user=to_out(result.user),
        device_token=result.device_token,
        must_change_password=result.user.must_change_password,
        failed_attempts_since_last_sign_in=result.failed_attempts,
    )


class AuthController(Controller):
    path = "/api/v1"
    tags = ["auth"]

    @post(
        "/auth/login",
        opt=public(),
        status_code=200,
        summary="Exchange email and password for a token",
        description=(
            "Send back the `device_token` of an earlier answer from this device: failed "
            "guesses by others then do not lock this device out (it has its own budget). "
            "An account with two-step sign-in also needs `totp_code` (or a `recovery_code`): "
            "without one the answer is 401 with the problem type `totp-required`; a wrong or "
            "reused code is 401 too and counts as a failed attempt."
        ),
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginRequest],
        db: Db,
        clock: ClockDep,
        res: Res,
    ) -> LoginResponse:
        result = await service.login(
            db,
            service.policy_of(res.settings),
            email=data.email,
            password=data.password,
            client_address=client_host(request),
            now=clock.now(),
            device_token=data.device_token,
            totp_code=data.totp_code,
            recovery_code=data.recovery_code,
            kind="api",
            user_agent=describe_agent(request.headers.get("user-agent", "")),
        )
        return login_response(result)

    @post(
        "/auth/logout",
        opt=roles(ANY_USER, during_password_change=True, during_enrolment=True),
        status_code=204,
        summary="Sign out: the token used for this call stops working at once",
    )
    async def logout(self, db: Db, caller: Caller, clock: ClockDep) -> None:
        await service.sign_out(db, caller, clock.now())

    @get(
        "/me",
        opt=roles(ANY_USER, during_password_change=True, during_enrolment=True),
        summary="The caller's own user",
    )
    async def me(self, db: Db, caller: Caller) -> UserOut:
        return to_out(await get_user(db, caller.user_id))

    @post(
        "/me/password",
        # Its answer holds a fresh token: never kept in the idempotency table for replay.
        opt={
            **roles(ANY_USER, during_password_change=True, during_enrolment=True),
            NEVER_REPLAYED: True,
        },
        status_code=200,
        summary="Change one's own password",
        description=(
            "Ends every token issued before (this one too) and answers a fresh one; clears a "
            "forced change. The new password needs 12 characters and must not be a common one "
            "(or one padded with digits). A wrong current_password answers 422; repeated, 429."
        ),
    )
    async def change_password(
        self, data: JSONBody[PasswordChange], db: Db, caller: Caller, clock: ClockDep, res: Res
    ) -> LoginResponse:
        result = await service.change_password(
            db,
            service.policy_of(res.settings),
            caller,
            current_password=data.current_password,
            new_password=data.new_password,
            now=clock.now(),
        )
        return login_response(result)

    @post(
        "/me/totp",
        # Its answer holds the TOTP key: never kept for replay.
        opt={**roles(ANY_USER, during_enrolment=True), NEVER_REPLAYED: True},
        status_code=200,
        summary="Start setting up two-step sign-in: the key for an authenticator app",
        description=(
            "The same key until it is confirmed (POST /me/totp/confirm); 409 once two-step "
            "sign-in is on (the key is never answered again)."
        ),
    )
    async def start_totp(self, db: Db, caller: Caller) -> TotpEnrolmentOut:
        enrolment = await sessions.pending_enrolment(db, caller)
        if enrolment is None:
            raise Conflict("Two-step sign-in is already set up for this account.")
        return TotpEnrolmentOut(secret=enrolment.secret, otpauth_uri=enrolment.uri)

    @post(
        "/me/totp/confirm",
        opt={**roles(ANY_USER, during_enrolment=True), NEVER_REPLAYED: True},
        status_code=200,
        summary="Confirm two-step sign-in with a current code; answers the recovery codes once",
        description=(
            "Ends every token issued before (this one too) and answers a fresh one. A code "
            "that is not the current one answers 422."
        ),
    )
    async def confirm_totp(
        self, data: JSONBody[TotpConfirm], db: Db, caller: Caller, clock: ClockDep, res: Res
    ) -> TotpEnrolled:
        done = await sessions.confirm_enrolment(
            db, service.policy_of(res.settings), caller, data.totp_code, clock.now()
        )
        return TotpEnrolled(
            access_token=done.access_token,
            token_type="bearer",
            expires_at=done.expires_at,
            recovery_codes=done.recovery_codes,
        )
