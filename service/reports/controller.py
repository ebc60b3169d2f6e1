from __future__ import annotations

import uuid
from typing import Annotated, Literal

from litestar import Controller, Response, get, post
from litestar.params import FromQuery, JSONBody, QueryParameter

from service.feedback.schemas import ListeningReport, YouSaidIn, YouSaidList, YouSaidOut
from service.http.auth import ADMIN, MANAGER_AND_ADMIN, WARD, roles
from service.http.params import Caller, ClockDep, Db, IdPath, parse_timestamp, timestamp_query
from service.reports import listening, series, service
from service.reports.schemas import FunnelReport, OutcomesReport, SeriesReport, WardComparison

From = Annotated[
    str | None, timestamp_query("Start of the period, inclusive (default: to - 90 days).", "from")
]
To = Annotated[str | None, timestamp_query("End of the period, exclusive (default: now).")]
Format = Annotated[
    Literal["json", "csv"],
    QueryParameter(description="csv: one row per measure (ward, measure, numerator, ...)"),
]
MeasureKey = Annotated[
    Literal[
        "follow_up",
        "readmission",
        "check_in_response",
        "escalation_ack",
        "referral_answered",
        "dialog_change",
        "fft_positive",
    ],
    QueryParameter(description="The headline measure."),
]
SeriesFrom = Annotated[
    str | None,
    timestamp_query(
        "Start, inclusive (default: the start of the period 24 months before to).", "from"
    ),
]
BaselineFrom = Annotated[
    str | None, timestamp_query("Baseline for the limits: first period from here (inclusive).")
]
BaselineTo = Annotated[
    str | None, timestamp_query("Baseline for the limits: periods before this (exclusive).")
]
SeriesFormat = Annotated[
    Literal["json", "csv"],
    QueryParameter(description="csv: one row per ward and period, with centre line and limits"),
]
# Litestar adds "; charset=utf-8" to every text/* type itself; naming it here doubled it.
CSV_MEDIA_TYPE = "text/csv"


def _csv(body: str, filename: str) -> Response[str]:
    return Response(
        content=body,
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class ReportController(Controller):
    path = "/api/v1/reports"
    tags = ["reports"]

    @get(
        "/outcomes",
        opt=roles(WARD, ADMIN),
        summary="Outcome measures for one ward (JSON, or CSV with format=csv)",
    )
    async def outcomes(
        self,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        ward_id: FromQuery[uuid.UUID | None] = None,
        from_: From = None,
        to: To = None,
        format: Format = "json",
    ) -> OutcomesReport:
        report = await service.ward_report(
            db,
            caller,
            ward_id,
            parse_timestamp(from_, "from"),
            parse_timestamp(to, "to"),
            clock.now(),
        )
        if format == "csv":
            return _csv(  # type: ignore[return-value]
                service.to_csv([(report.ward_name, report.measures)]), "outcomes.csv"
            )
        return report

    @get(
        "/outcomes/wards",
        opt=roles(MANAGER_AND_ADMIN),
        summary="The same measures for every ward side by side",
    )
    async def by_ward(
        self,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        from_: From = None,
        to: To = None,
        format: Format = "json",
    ) -> WardComparison:
        report = await service.comparison(
            db, caller, parse_timestamp(from_, "from"), parse_timestamp(to, "to"), clock.now()
        )
        if format == "csv":
            return _csv(  # type: ignore[return-value]
                service.to_csv((w.ward_name, w.measures) for w in report.wards),
                "outcomes_by_ward.csv",
            )
        return report

    @get(
        "/outcomes/series",
        opt=roles(WARD, ADMIN),
        summary="A headline measure over time per ward and for the trust, with its "
        "process-behaviour chart (JSON, or CSV with format=csv)",
    )
    async def outcome_series(
        self,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        measure: MeasureKey,
        ward_id: FromQuery[uuid.UUID | None] = None,
        from_: SeriesFrom = None,
        to: To = None,
        grain: FromQuery[Literal["month", "week"]] = "month",
        chart: FromQuery[Literal["auto", "xmr", "pprime"]] = "auto",
        baseline_from: BaselineFrom = None,
        baseline_to: BaselineTo = None,
        format: SeriesFormat = "json",
    ) -> SeriesReport:
        report = await series.measure_series(
            db,
            caller,
            measure,
            ward_id=ward_id,
            start=parse_timestamp(from_, "from"),
            end=parse_timestamp(to, "to"),
            grain=grain,
            chart=chart,
            baseline_from=parse_timestamp(baseline_from, "baseline_from"),
            baseline_to=parse_timestamp(baseline_to, "baseline_to"),
            now=clock.now(),
        )
        if format == "csv":
            return _csv(series.series_csv(report), f"{measure}_series.csv")  # type: ignore[return-value]
        return report

    @get(
        "/outcomes/funnel",
        opt=roles(MANAGER_AND_ADMIN),
        summary="A proportion measure for every ward against its denominator, with the trust "
        "rate and 95% / 99.8% funnel limits",
    )
    async def outcome_funnel(
        self,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        measure: MeasureKey,
        from_: From = None,
        to: To = None,
    ) -> FunnelReport:
        return await series.funnel(
            db,
            caller,
            measure,
            start=parse_timestamp(from_, "from"),
            end=parse_timestamp(to, "to"),
            now=clock.now(),
        )


class ListeningController(Controller):
    """Friends and Family Test results, comments and the ward's "You said, we did" log."""

    path = "/api/v1"
    tags = ["feedback"]

    @get(
        "/reports/outcomes/listening",
        opt=roles(WARD, ADMIN),
        summary="FFT results, the words patients and carers used (no identifiers), and the "
        "ward's You said, we did log",
    )
    async def report(
        self,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        ward_id: FromQuery[uuid.UUID | None] = None,
        from_: Annotated[
            str | None, timestamp_query("Start, inclusive (default: to - 90 days).", "from")
        ] = None,
        to: Annotated[str | None, timestamp_query("End, exclusive (default: now).")] = None,
    ) -> ListeningReport:
        return await listening.listening(
            db,
            caller,
            ward_id,
            parse_timestamp(from_, "from"),
            parse_timestamp(to, "to"),
            clock.now(),
        )

    @get(
        "/wards/{ward_id:uuid}/you-said-we-did",
        opt=roles(WARD, ADMIN),
        summary="The ward's You said, we did log, newest change first",
    )
    async def list_log(
        self, ward_id: IdPath, db: Db, caller: Caller, clock: ClockDep
    ) -> YouSaidList:
        return await listening.list_you_said(db, caller, ward_id, clock.now())

    @post(
        "/wards/{ward_id:uuid}/you-said-we-did",
        opt=roles(WARD, ADMIN),
        status_code=201,
        summary="Record what the ward heard and what it changed (admins, the ward's managers)",
    )
    async def add_log(
        self,
        ward_id: IdPath,
        data: JSONBody[YouSaidIn],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> YouSaidOut:
        return await listening.add_you_said(db, caller, ward_id, data, clock.now())
