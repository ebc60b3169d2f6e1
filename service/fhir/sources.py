"""Resources of one type for a set of patients, streamed from the database in batches.

The one place that pairs a query (`queries`) with its builder, so the Bundle and the bulk
export cannot map a record two ways. Rows come through a server-side cursor (`stream` with
`yield_per`): memory holds one batch, however large the ward.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from typing import Any

from fhir.resources.R4B.resource import Resource
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from service.fhir import (
    consents,
    escalations,
    follow_ups,
    goals,
    messages,
    organization,
    patient,
    plans,
    queries,
    referrals,
    stays,
    surveys,
)
from service.fhir.common import Record, Ref
from service.fhir.queries import Ids

BATCH = 500


async def rows(session: AsyncSession, query: Select[Any]) -> AsyncIterator[Record]:
    result = await session.stream(query.execution_options(yield_per=BATCH))
    async for partition in result.partitions(BATCH):
        for row in partition:
            yield row


async def prom_items(session: AsyncSession) -> dict[str, list[Record]]:
    """Every survey item by instrument, in order (a few dozen rows, definitions not records)."""
    by_instrument: dict[str, list[Record]] = {}
    for row in (await session.execute(queries.prom_items())).all():
        by_instrument.setdefault(row.instrument, []).append(row)
    return by_instrument


class Source:
    """How to read one resource type for `ids`: `each(session)` yields its resources."""

    def __init__(self, ids: Ids, ref: Ref, now: datetime, *, history: bool = False) -> None:
        self.ids, self.ref, self.now, self.history = ids, ref, now, history

    def _of(
        self, query: Select[Any], build: Callable[[Record], Resource]
    ) -> Callable[[AsyncSession], AsyncIterator[Resource]]:
        async def each(session: AsyncSession) -> AsyncIterator[Resource]:
            async for row in rows(session, query):
                yield build(row)

        return each

    def streams(self, kind: str) -> list[Callable[[AsyncSession], AsyncIterator[Resource]]]:
        """The statements (one or two) whose rows make resources of `kind`."""
        ids, ref = self.ids, self.ref
        match kind:
            case "Patient":
                return [self._of(queries.patients(ids), patient.build)]
            case "Organization":
                return [self._of(queries.agencies(ids), organization.build)]
            case "EpisodeOfCare":
                return [self._of(queries.episodes(ids), lambda r: stays.episode_of_care(r, ref))]
            case "Encounter":
                return [self._of(queries.episodes(ids), lambda r: stays.encounter(r, ref))]
            case "Goal":
                return [self._of(queries.goals(ids), lambda r: goals.build(r, ref))]
            case "CarePlan":
                return [self._care_plans()]
            case "Consent":
                return [self._of(queries.consents(ids), lambda r: consents.build(r, ref, self.now))]
            case "ServiceRequest":
                return [
                    self._of(queries.referrals(ids), lambda r: referrals.service_request(r, ref))
                ]
            case "Task":
                return [
                    self._of(queries.referrals(ids), lambda r: referrals.task(r, ref)),
                    self._of(queries.follow_ups(ids), lambda r: follow_ups.build(r, ref)),
                ]
            case "Questionnaire":
                return [self._questionnaires()]
            case "QuestionnaireResponse":
                return [self._responses()]
            case "Communication":
                return [
                    self._of(queries.outbound(ids), lambda r: messages.outbound(r, ref)),
                    self._of(
                        queries.inbound(ids), lambda r: messages.inbound(r, ref, r.in_response_to)
                    ),
                ]
            case "Flag":
                return [
                    self._of(queries.open_escalations(ids), lambda r: escalations.build(r, ref))
                ]
        raise ValueError(kind)

    def _care_plans(self) -> Callable[[AsyncSession], AsyncIterator[Resource]]:
        async def each(session: AsyncSession) -> AsyncIterator[Resource]:
            # Ordered by patient then version: a row is current when the next row is another
            # patient's (or there is none), so one row of look-ahead is all it keeps.
            held: Record | None = None
            async for row in rows(session, queries.plans(self.ids, history=self.history)):
                if held is not None:
                    yield plans.build(
                        held, self.ref, held.goal_ids, current=held.patient_id != row.patient_id
                    )
                held = row
            if held is not None:
                yield plans.build(held, self.ref, held.goal_ids, current=True)

        return each

    def _questionnaires(self) -> Callable[[AsyncSession], AsyncIterator[Resource]]:
        async def each(session: AsyncSession) -> AsyncIterator[Resource]:
            for instrument, items in (await prom_items(session)).items():
                yield surveys.questionnaire(instrument, items)

        return each

    def _responses(self) -> Callable[[AsyncSession], AsyncIterator[Resource]]:
        async def each(session: AsyncSession) -> AsyncIterator[Resource]:
            prompts = {
                i.key: i.prompt for items in (await prom_items(session)).values() for i in items
            }
            async for row in rows(session, queries.surveys(self.ids)):
                answers: Iterable[dict[str, Any]] = [
                    {**a, "answered_at": datetime.fromisoformat(a["answered_at"])}
                    for a in row.answers or []
                ]
                yield surveys.response(row, self.ref, answers, prompts)

        return each

    async def each(self, session: AsyncSession, kind: str) -> AsyncIterator[Resource]:
        for stream in self.streams(kind):
            async for resource in stream(session):
                yield resource
