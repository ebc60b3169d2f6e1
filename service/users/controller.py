from __future__ import annotations

import uuid

from litestar import Controller, delete, get, patch, post
from litestar.params import FromQuery, JSONBody

from service.http.auth import ADMIN, roles
from service.http.params import DEFAULT_LIMIT, Caller, ClockDep, Cursor, Db, IdPath, Limit
from service.principal import Role
from service.users import service
from service.users.schemas import UserCreate, UserList, UserOut, UserUpdate


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
