"""The relapse-prevention plan for ward staff: the editor (each save is a new version through
the same `put_plan` the API's PUT calls), the version history, what changed between two
versions (`service.plans.diff`), and a printable plan for the patient to take home."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import RelapsePreventionPlan
from service.errors import InvalidInput, NotFound
from service.http.auth import WARD
from service.http.params import Caller, ClockDep, Db, IdPath, Res
from service.http.state import AppResources
from service.pagination import MAX_LIMIT
from service.patients.service import get_patient
from service.phones import for_reading
from service.plans.diff import diff_plans
from service.plans.schemas import MAX_CRISIS_CONTACTS, PlanDiff, PlanIn
from service.plans.service import get_plan, list_versions, put_plan, to_out
from service.principal import Principal
from service.web.common import back_to, form_of, names_of, page, render
from service.web.forms import Form, attempt, lines, parse

LISTS = ("early_warning_signs", "triggers", "coping_strategies")
CONTACT_PARTS = ("name", "relationship", "phone")
BLANK_ROWS = 3  # empty crisis-contact rows under the filled ones, to add more
PLAN_LABELS = {
    "early_warning_signs": "Early warning signs",
    "triggers": "Triggers",
    "coping_strategies": "Coping strategies",
    "crisis_contacts": "Crisis contacts",
    "check_in_question": "Check-in question",
    "from": "Compare version",
    "to": "With version",
    **{
        f"crisis_contacts[{i}].{part}": f"Crisis contact {i + 1} {part}"
        for i in range(MAX_CRISIS_CONTACTS)
        for part in CONTACT_PARTS
    },
}


def _contact_key(index: int, part: str) -> str:
    # Named as the API's error path, so a refusal lands beside its field.
    return f"crisis_contacts[{index}].{part}"


def _plan_url(patient_id: uuid.UUID) -> str:
    return f"/board/patients/{patient_id}/plan"


class PlanPages(Controller):
    path = "/board/patients/{patient_id:uuid}/plan"
    include_in_schema = False

    @get("/", opt=page(WARD))
    async def plan(
        self, request: Request[Any, Any, Any], patient_id: IdPath, db: Db, caller: Caller, res: Res
    ) -> Template:
        return await _plan_view(request, res, db, caller, patient_id)

    @post("/", opt=page(WARD), status_code=303)
    async def save(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        fields = await form_of(request, res)
        contacts = _filled_rows(fields)
        # Shown again with the filled rows first, numbered as the API numbers them.
        shown = {k: v for k, v in fields.items() if not k.startswith("crisis_contacts[")}
        shown.update(_row_values(contacts))

        async def store() -> RelapsePreventionPlan:
            data = parse(
                {
                    **{name: lines(fields.get(name)) for name in LISTS},
                    "crisis_contacts": [
                        {part: row[part] or None for part in CONTACT_PARTS} for row in contacts
                    ],
                    "check_in_question": fields.get("check_in_question", "").strip() or None,
                },
                PlanIn,
            )
            return await put_plan(db, caller, patient_id, data, clock.now())

        row, failed = await attempt(db, shown, store, PLAN_LABELS)
        if failed is not None or row is None:
            return await _plan_view(request, res, db, caller, patient_id, edit_form=failed)
        return back_to(f"{_plan_url(patient_id)}?saved={row.version}")

    @get("/print", opt=page(WARD))
    async def printable(
        self, request: Request[Any, Any, Any], patient_id: IdPath, db: Db, caller: Caller, res: Res
    ) -> Template:
        now = res.clock.now()
        patient = await get_patient(db, caller, patient_id, now)
        try:
            plan = await get_plan(db, caller, patient_id, now)
        except NotFound as missing:
            db.add_all(missing.keep_rows)  # no plan yet is an answer: keep the read's audit row
            plan = None
        return await render(request, res, db, caller, "plan_print.html", patient=patient, plan=plan)


def _filled_rows(fields: dict[str, str]) -> list[dict[str, str]]:
    """The crisis-contact rows with anything typed in them, in the form's order; empty rows
    (the spare ones) are not contacts. Bounded: the form never has more rows than this."""
    rows = []
    for index in range(MAX_CRISIS_CONTACTS + BLANK_ROWS):
        row = {part: fields.get(_contact_key(index, part), "").strip() for part in CONTACT_PARTS}
        if any(row.values()):
            rows.append(row)
    return rows


def _row_values(contacts: list[dict[str, str]]) -> dict[str, str]:
    return {
        _contact_key(index, part): row[part]
        for index, row in enumerate(contacts)
        for part in CONTACT_PARTS
    }


def _editor_form(current: RelapsePreventionPlan | None) -> Form:
    if current is None:
        return Form.blank()
    return Form.blank(
        **{name: "\n".join(getattr(current, name)) for name in LISTS},
        **_row_values(
            [
                {**c, "phone": for_reading(c["phone"])}  # as a person dials it; stored E.164
                for c in current.crisis_contacts
            ]
        ),
        check_in_question=current.check_in_question,
    )


def _compare(
    request: Request[Any, Any, Any], versions: list[RelapsePreventionPlan]
) -> tuple[Form, PlanDiff | None]:
    """`?from=A&to=B`: what changed from version A to version B (both must exist)."""
    query = request.query_params
    asked = {name: query.get(name, "").strip() for name in ("from", "to")}
    if len(versions) < 2:
        return Form.blank(), None
    if not any(asked.values()):
        # Offer the latest change: the version before the current one, and the current.
        return Form.blank(**{"from": versions[1].version, "to": versions[0].version}), None
    by_number = {str(v.version): v for v in versions}
    errors = {
        name: "is not a version of this plan"
        for name, value in asked.items()
        if value not in by_number
    }
    if errors:
        return Form(values=asked, errors=errors, labels=PLAN_LABELS), None
    if asked["from"] == asked["to"]:
        problem = InvalidInput("Choose two different versions to compare.")
        return Form.failed(asked, problem, PLAN_LABELS), None
    before, after = sorted(
        (by_number[asked["from"]], by_number[asked["to"]]), key=lambda v: v.version
    )
    return Form.blank(**asked), diff_plans(to_out(before), to_out(after))


async def _plan_view(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    *,
    edit_form: Form | None = None,
) -> Template:
    now = res.clock.now()
    patient = await get_patient(db, caller, patient_id, now)
    # Newest first; the first is the plan in force (the same order `get_plan` reads).
    versions, more = await list_versions(db, caller, patient_id, now, None, MAX_LIMIT)
    current = versions[0] if versions else None
    edit_form = edit_form or _editor_form(current)
    filled = sum(
        1
        for i in range(MAX_CRISIS_CONTACTS)
        if any(edit_form.value(_contact_key(i, p)) for p in CONTACT_PARTS)
    )
    compare_form, diff = _compare(request, versions)
    return await render(
        request,
        res,
        db,
        caller,
        "patient_plan.html",
        status_code=max(edit_form.status, compare_form.status),
        patient=patient,
        current=current,
        versions=versions,
        more_versions=more is not None,
        names=await names_of(db, [v.created_by for v in versions]),
        edit_form=edit_form,
        contact_rows=min(filled + BLANK_ROWS, MAX_CRISIS_CONTACTS),
        contact_key=_contact_key,
        compare_form=compare_form,
        diff=diff,
        saved=request.query_params.get("saved", ""),
    )
