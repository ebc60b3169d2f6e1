"""An agency worker's own small view: their agency's referrals and the patients whose consent
lets the agency see them, each through the consent-scoped agency service functions."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from service.agencies.service import list_visible_patients
from service.http.auth import AGENCY
from service.http.params import Caller, ClockDep, Db, Res
from service.pagination import MAX_LIMIT
from service.referrals.service import list_referrals
from service.web.common import page, render


class AgencyPages(Controller):
    path = "/board/agency"
    include_in_schema = False
    opt = page(AGENCY)

    @get("/")
    async def home(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, clock: ClockDep, res: Res
    ) -> Template:
        now = clock.now()
        referrals, _ = await list_referrals(db, caller, now, None, MAX_LIMIT)
        patients, _ = await list_visible_patients(db, caller, now, None, MAX_LIMIT)
        visible = {p.id for p in patients}
        return await render(
            request,
            res,
            db,
            caller,
            "agency.html",
            referrals=referrals,
            patients=patients,
            visible=visible,
        )
