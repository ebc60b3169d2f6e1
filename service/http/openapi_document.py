"""Finish the generated OpenAPI description so it says exactly what the service does.

Adds our RFC 9457 problem responses to every operation, the Idempotency-Key header to
POSTs, and `additionalProperties: false` to our own schemas (bodies with unknown fields
are refused, and responses never carry undeclared fields).
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.enums import ParamType
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    RequestBody,
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

IDEMPOTENCY_HEADER = Parameter(
    name="Idempotency-Key",
    param_in=ParamType.HEADER,
    required=False,
    description="Retry-safe creation: the same key and body replay the first response; "
    "a different body answers 422, a duplicate still in progress 409. Scoped to the caller.",
    schema=Schema(
        type=OpenAPIType.STRING, min_length=1, max_length=200, pattern="^[\\x21-\\x7e]+$"
    ),
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
            codes += ["403", "429"]
        return codes
    codes += ["401", "403", "404", "409", "429"]
    return codes


def _close_objects(schema: Schema) -> None:
    if schema.properties:
        schema.additional_properties = False
        for child in schema.properties.values():
            if isinstance(child, Schema):
                _close_objects(child)
    for group in (schema.one_of, schema.any_of, schema.all_of):
        for child in group or []:
            if isinstance(child, Schema):
                _close_objects(child)
    if isinstance(schema.items, Schema):
        _close_objects(schema.items)


def _document_csv(operation: Operation, responses: dict[str, Any]) -> None:
    """An operation with a `format` query parameter offering `csv` also answers text/csv."""
    offers_csv = any(
        getattr(p, "name", None) == "format"
        and isinstance(getattr(p, "schema", None), Schema)
        and "csv" in (p.schema.enum or [])  # type: ignore[union-attr]
        for p in operation.parameters or []
    )
    ok = responses.get("200")
    if offers_csv and isinstance(ok, OpenAPIResponse):
        ok.content = {
            **(ok.content or {}),
            "text/csv": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
        }


def finish_document(openapi: OpenAPI, public_operations: set[tuple[str, str]]) -> None:
    components = openapi.components
    assert not isinstance(components, list)
    for schema in (components.schemas or {}).values():
        _close_objects(schema)
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
            elif method == "post":
                params = list(operation.parameters or [])
                params.append(IDEMPOTENCY_HEADER)
                operation.parameters = params
            _document_csv(operation, responses)
            operation.responses = dict(sorted(responses.items()))


def mark_optional_bodies(openapi: OpenAPI, app: Litestar) -> None:
    """A handler whose `data` parameter has a default accepts a request without a body."""
    optional: set[tuple[str, str]] = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is not None and data.has_default:
                optional.update((route.path_format, m.lower()) for m in handler.http_methods)
    for path, item in (openapi.paths or {}).items():
        for method in ("post", "put", "patch"):
            operation: Operation | None = getattr(item, method, None)
            if (path, method) in optional and isinstance(operation, Operation):
                body = operation.request_body
                if isinstance(body, RequestBody):
                    body.required = False
