from __future__ import annotations

import uuid

from litestar import Controller, delete, get, patch, post
from litestar.params import FromQuery, JSONBody

from service.http.auth import ADMIN, roles
from service.http.idempotency import NEVER_REPLAYED
from service.http.params import DEFAULT_LIMIT, Caller, ClockDep, Cursor, Db, IdPath, Limit
from service.identity import resets
from service.principal import Role
from service.users import service
from service.users.schemas import PasswordResetOut, UserCreate, UserList, UserOut, UserUpdate


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["users"]
    opt = roles(ADMIN)

    @post("/", status_code=201, summary="Create a user")
    async def create(self, data: JSONBody[UserCreate], db: Db) -> UserOut:
        return service.to_out(await service.create_user(db, data))

    @get("/", summary="List users")
    async def list_(
        self,
        db: Db,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        role: FromQuery[Role | None] = None,
        ward_id: FromQuery[uuid.UUID | None] = None,
        agency_id: FromQuery[uuid.UUID | None] = None,
    ) -> UserList:
        rows, next_cursor = await service.list_users(
            db, cursor, limit, role=role, ward_id=ward_id, agency_id=agency_id
        )
        return UserList(items=[service.to_out(u) for u in rows], next_cursor=next_cursor)

    @get("/{user_id:uuid}", summary="Read a user")
    async def read(self, user_id: IdPath, db: Db) -> UserOut:
        return service.to_out(await service.get_user(db, user_id))

    @patch("/{user_id:uuid}", summary="Change a user (deactivating revokes access at once)")
    async def update(self, user_id: IdPath, data: JSONBody[UserUpdate], db: Db) -> UserOut:
        return service.to_out(await service.update_user(db, user_id, data))

    @post(
        "/{user_id:uuid}/password-reset",
        # Its answer holds the one-time code: never kept in the idempotency table for replay.
        opt={**roles(ADMIN), NEVER_REPLAYED: True},
        status_code=201,
        summary="Reset a user's password: a one-time sign-in code, shown once",
        description=(
            "The code replaces the password at once (every session of the user ends), signs "
            "in once within 24 hours, and the user must then choose a new password "
            "(`must_change_password`). A new reset replaces an unused code. Audited without "
            "the code. A deactivated user answers 409."
        ),
    )
    async def reset_password(
        self, user_id: IdPath, db: Db, caller: Caller, clock: ClockDep
    ) -> PasswordResetOut:
        issued = await resets.issue_reset(db, caller, user_id, clock.now())
        return PasswordResetOut(code=issued.code, expires_at=issued.expires_at)

    @delete(
        "/{user_id:uuid}/totp",
        status_code=204,
        summary="Reset a user's two-step sign-in (a lost phone and lost recovery codes)",
        description=(
            "Removes the user's TOTP key and recovery codes and ends all their sessions; where "
            "two-step sign-in is required they set it up again at their next sign-in."
        ),
    )
    async def reset_totp(self, user_id: IdPath, db: Db, caller: Caller, clock: ClockDep) -> None:
        await service.reset_totp(db, caller, user_id, clock.now())
