"""Twilio webhook signatures, checked with the SDK's RequestValidator.

The URL signed is the one Twilio was configured with: PUBLIC_BASE_URL + path + query, never
whatever Host header the request happens to carry (proxies rewrite it; attackers choose it).
"""

from __future__ import annotations

from collections.abc import Iterable

from twilio.request_validator import RequestValidator


class _Params(dict[str, list[str]]):
    """Form fields with every value, in the multi-dict shape RequestValidator understands."""

    def getall(self, key: str) -> list[str]:
        return self[key]


def signed_url(public_base_url: str, path: str, query_string: str) -> str:
    url = public_base_url.rstrip("/") + path
    return f"{url}?{query_string}" if query_string else url


def form_params(items: Iterable[tuple[str, object]]) -> _Params | None:
    """Collect form fields; None if any value is not text (a file upload is never Twilio)."""
    params = _Params()
    for key, value in items:
        if not isinstance(value, str):
            return None
        params.setdefault(key, []).append(value)
    return params


def signature_valid(
    auth_token: str | None, url: str, params: dict[str, list[str]] | None, signature: str | None
) -> bool:
    if not auth_token or not signature or params is None:
        return False
    try:
        return bool(RequestValidator(auth_token).validate(url, params, signature))
    except (ValueError, TypeError):
        return False
