from __future__ import annotations

import uuid
from typing import Annotated, Literal

from litestar import Controller, Response, get
from litestar.params import FromQuery, QueryParameter

from service.http.auth import ADMIN, MANAGER_AND_ADMIN, WARD, roles
from service.http.params import Caller, ClockDep, Db, parse_timestamp, timestamp_query
from service.reports import service
from service.reports.schemas import OutcomesReport, WardComparison

From = Annotated[
    str | None, timestamp_query("Start of the period, inclusive (default: to - 90 days).", "from")
]
To = Annotated[str | None, timestamp_query("End of the period, exclusive (default: now).")]
Format = Annotated[
    Literal["json", "csv"],
    QueryParameter(description="csv: one row per measure (ward, measure, numerator, ...)"),
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
