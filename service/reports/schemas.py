from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec

Unit = Literal["count", "ratio", "hours", "minutes", "score"]


class Measure(msgspec.Struct):
    """One figure. Counts and rates use numerator/denominator (rate null when the denominator
    is 0); medians and means put their figure in `value` over `denominator` records.
    `record_ids` are the records in the denominator, `numerator_ids` those counted above the
    line; both are null when the caller may not see this ward's records."""

    key: str
    label: str
    unit: Unit
    numerator: int | None
    denominator: int
    rate: float | None
    value: float | None = None
    target: float | None = None
    record_type: str | None = None
    record_ids: list[uuid.UUID] | None = None
    numerator_ids: list[uuid.UUID] | None = None


class WardOutcomes(msgspec.Struct):
    ward_id: uuid.UUID
    ward_name: str
    measures: list[Measure]


class OutcomesReport(msgspec.Struct):
    ward_id: uuid.UUID
    ward_name: str
    from_: datetime = msgspec.field(name="from")
    to: datetime
    generated_at: datetime
    measures: list[Measure]
    rules: dict[str, str]


class WardComparison(msgspec.Struct):
    from_: datetime = msgspec.field(name="from")
    to: datetime
    generated_at: datetime
    wards: list[WardOutcomes]
    rules: dict[str, str]
