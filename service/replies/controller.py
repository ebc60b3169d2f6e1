from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.params import FromQuery, JSONBody

from service.http.auth import WARD, roles
from service.http.params import DEFAULT_LIMIT, Caller, ClockDep, Cursor, Db, IdPath, Limit
from service.replies import service
from service.replies.schemas import ReadIn, ReplyList, ReplyOut, ReplyStatus


class ReplyController(Controller):
    path = "/api/v1/replies"
    tags = ["replies"]
    opt = roles(WARD)

    @get(
        "/",
        summary="List the ward's replies to read",
        description=(
            "Texts from patients and their carers that need a person. `status=unread` lists "
            "the oldest first (the next read-by deadline on top); otherwise newest first."
        ),
    )
    async def list_(
        self,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        status: FromQuery[ReplyStatus | None] = None,
        patient_id: FromQuery[uuid.UUID | None] = None,
        ward_id: FromQuery[uuid.UUID | None] = None,
    ) -> ReplyList:
        items, next_cursor = await service.list_replies(
            db,
            caller,
            now=clock.now(),
            cursor=cursor,
            limit=limit,
            status=status,
            patient_id=patient_id,
            ward_id=ward_id,
        )
        return ReplyList(items=items, next_cursor=next_cursor)

    @post(
        "/{reply_id:uuid}/read",
        status_code=200,
        summary="Mark a reply read (resolves its unread_reply escalation)",
    )
    async def read(
        self,
        reply_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        data: JSONBody[ReadIn | None] = None,
    ) -> ReplyOut:
        note = data.note if data is not None else None
        return await service.read_reply(db, caller, reply_id, clock.now(), note)
