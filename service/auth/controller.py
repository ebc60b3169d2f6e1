from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import JSONBody

from service.auth import service
from service.auth.schemas import LoginRequest, LoginResponse
from service.http.auth import ANY_USER, public, roles
from service.http.forwarded import client_host
from service.http.params import Caller, ClockDep, Db, Res
from service.users.schemas import UserOut
from service.users.service import get_user, to_out


class AuthController(Controller):
    path = "/api/v1"
    tags = ["auth"]

    @post(
        "/auth/login",
        opt=public(),
        status_code=200,
        summary="Exchange email and password for a token",
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginRequest],
        db: Db,
        clock: ClockDep,
        res: Res,
    ) -> LoginResponse:
        settings = res.settings
        policy = service.LoginPolicy(
            secret=settings.jwt_secret,
            ttl=timedelta(minutes=settings.jwt_ttl_minutes),
            max_failures=settings.login_max_failures,
            window=timedelta(minutes=settings.login_window_minutes),
        )
        result = await service.login(
            db,
            policy,
            email=data.email,
            password=data.password,
            client_address=client_host(request),
            now=clock.now(),
        )
        return LoginResponse(
            access_token=result.access_token,
            token_type="bearer",
            expires_at=result.expires_at,
            user=to_out(result.user),
        )

    @get("/me", opt=roles(ANY_USER), summary="The caller's own user")
    async def me(self, db: Db, caller: Caller) -> UserOut:
        return to_out(await get_user(db, caller.user_id))
