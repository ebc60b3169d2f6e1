"""Document our RFC 9457 problem responses on every operation of the OpenAPI description."""

from __future__ import annotations

from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)

from service.http.problems import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["type", "title", "status", "detail"],
    properties={
        "type": Schema(type=OpenAPIType.STRING),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER),
        "detail": Schema(type=OpenAPIType.STRING),
        "request_id": Schema(type=OpenAPIType.STRING),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["field", "message"],
                properties={
                    "field": Schema(type=OpenAPIType.STRING),
                    "message": Schema(type=OpenAPIType.STRING),
                },
            ),
        ),
    },
    description="RFC 9457 problem details",
)

_DESCRIPTIONS = {
    "400": "Malformed request body",
    "401": "No token, or a bad or expired one",
    "403": "The caller's role may never do this (webhooks: a missing or bad signature)",
    "404": "Absent, or not visible to the caller",
    "409": "Conflicts with the current state",
    "413": "Request body too large",
    "422": "Invalid input; `errors` lists the fields",
    "429": "Rate limited; see Retry-After",
    "503": "Database unavailable; retry shortly",
}


def _problem(code: str) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=_DESCRIPTIONS[code],
        content={
            PROBLEM_MEDIA_TYPE: OpenAPIMediaType(
                schema=Reference(ref="#/components/schemas/Problem")
            )
        },
    )


def _codes_for(path: str, operation: Operation, is_public: bool) -> list[str]:
    if path in ("/health/live", "/health/ready", "/metrics"):
        return []
    codes = ["422", "503"]
    if operation.request_body is not None:
        codes += ["400", "413"]
    if is_public:
        if path == "/api/v1/auth/login":
            codes += ["401", "429"]
        if path.startswith("/webhooks/"):
            codes += ["403"]
        return codes
    codes += ["401", "403", "404", "409", "429"]
    return codes


def document_problems(openapi: OpenAPI, public_operations: set[tuple[str, str]]) -> None:
    components = openapi.components
    assert not isinstance(components, list)
    components.schemas = {**(components.schemas or {}), "Problem": PROBLEM_SCHEMA}
    for path, item in (openapi.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation: Operation | None = getattr(item, method, None)
            if operation is None:
                continue
            responses = operation.responses or {}
            # Litestar's default 400 body is not what we send; validation failures are 422 problems.
            responses.pop("400", None)
            for code in _codes_for(path, operation, (path, method) in public_operations):
                responses.setdefault(code, _problem(code))
            if (path, method) in public_operations:
                operation.security = []
            operation.responses = dict(sorted(responses.items()))
