from __future__ import annotations

import uuid
from datetime import date, datetime
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


class SeriesPoint(msgspec.Struct):
    """One period of a measure. `value` is the rate (proportions) or the mean (DIALOG change);
    null with no records. `signals`: the special-cause rules the point is part of."""

    period: date
    numerator: int | None
    denominator: int
    value: float | None
    centre: float | None
    lower: float | None
    upper: float | None
    signals: list[str]
    side: str | None
    record_ids: list[uuid.UUID] | None = None
    numerator_ids: list[uuid.UUID] | None = None


class Series(msgspec.Struct):
    """One ward's series (ward_id null: the whole trust)."""

    ward_id: uuid.UUID | None
    ward_name: str
    chart: Literal["xmr", "pprime"]
    centre: float | None
    variation: str
    assurance: str
    points: list[SeriesPoint]


class SeriesReport(msgspec.Struct):
    measure: str
    label: str
    unit: Unit
    direction: Literal["up", "down"]
    target: float | None
    grain: Literal["month", "week"]
    from_: datetime = msgspec.field(name="from")
    to: datetime
    baseline_from: datetime | None
    baseline_to: datetime | None
    generated_at: datetime
    series: list[Series]
    rules: dict[str, str]


class FunnelWard(msgspec.Struct):
    ward_id: uuid.UUID
    ward_name: str
    numerator: int
    denominator: int
    rate: float | None
    lower_95: float | None
    upper_95: float | None
    lower_998: float | None
    upper_998: float | None
    # "above 99.8%", "above 95%", "within", "below 95%", "below 99.8%"; null with no records.
    position: str | None
    # Whether being outside is better or worse for this measure (null when within).
    reading: Literal["better", "worse"] | None


class FunnelReport(msgspec.Struct):
    measure: str
    label: str
    direction: Literal["up", "down"]
    from_: datetime = msgspec.field(name="from")
    to: datetime
    generated_at: datetime
    trust_rate: float | None
    numerator: int
    denominator: int
    wards: list[FunnelWard]
    rules: dict[str, str]
