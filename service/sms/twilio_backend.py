"""The Twilio backend: the official SDK's async client over our own configured HTTP client.

- The aiohttp session is created here, so construct this inside a running loop (lifespan or
  worker start-up), never at import.
- Every call has a real deadline. The SDK's async client forwards only a per-call timeout
  and `messages.create_async` passes none, which aiohttp reads as "no timeout at all"; the
  client below applies the configured one to every request.
- The SDK's retries stay off (`max_retries=None`): a blind retry of a POST after a 5xx or a
  timeout could send a patient the same message twice. The outbox decides about retries.
- `TWILIO_API_BASE_URL` rewrites the scheme and host of every `*.twilio.com` URL the SDK
  builds (keeping its path), so tests and staging can point the real SDK at a loopback server.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.base import values
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from service.settings import Settings
from service.sms.gateway import RATE_LIMITED, LookupResult, SendResult

log = logging.getLogger("homeward.sms.twilio")

# The SDK logs request URLs and headers at INFO; keep them out of our logs entirely.
_sdk_log = logging.getLogger("homeward.sms.twilio.sdk")
_sdk_log.setLevel(logging.WARNING)
_sdk_log.propagate = False


class HomewardTwilioHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """The SDK's aiohttp client with a deadline on every call and an optional base URL."""

    def __init__(self, *, timeout: float, base_url: str | None = None) -> None:
        super().__init__(pool_connections=True, timeout=timeout, logger=_sdk_log, max_retries=None)
        self._base = urlsplit(base_url) if base_url else None

    def rewrite(self, url: str) -> str:
        if self._base is None:
            return url
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host != "twilio.com" and not host.endswith(".twilio.com"):
            return url
        path = self._base.path.rstrip("/") + parts.path
        return urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, ""))

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the SDK's signature; enforced below)
        allow_redirects: bool = False,
    ) -> Response:
        deadline = timeout or self.timeout
        assert deadline is not None and deadline > 0
        if auth is not None:
            # Same Basic credentials, sent as a header (aiohttp deprecates its `auth=` argument).
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers = {**(headers or {}), "Authorization": f"Basic {token}"}
            auth = None
        # aiohttp's own timeout covers connect and read; the outer one covers everything else.
        async with asyncio.timeout(deadline):
            response: Response = await super().request(
                method,
                self.rewrite(url),
                params=params,
                data=data,
                headers=headers,
                auth=auth,
                timeout=deadline,
                allow_redirects=allow_redirects,
            )
        return response


def classify_error(exc: BaseException) -> SendResult:
    """Map anything a create call can raise to an outcome. Order matters."""
    if isinstance(exc, TwilioException) and hasattr(exc, "status"):
        status = int(getattr(exc, "status", 0) or 0)
        raw_code = getattr(exc, "code", None)
        code = int(raw_code) if isinstance(raw_code, int) else None
        if status == 429 or code == RATE_LIMITED:
            return SendResult("retry", error_code=code, http_status=status, detail="rate_limited")
        if status in (401, 403):
            # Our credentials or account, not the message: keep it and try again later.
            return SendResult("retry", error_code=code, http_status=status, detail="auth")
        if status >= 500:
            return SendResult("ambiguous", error_code=code, http_status=status, detail="5xx")
        return SendResult("rejected", error_code=code, http_status=status, detail="rejected")
    if isinstance(exc, TimeoutError):
        return SendResult("ambiguous", detail="timeout")
    if isinstance(exc, aiohttp.ClientConnectorError):
        # Could not connect at all: the request never left, so a later send is safe.
        return SendResult("retry", detail=type(exc).__name__)
    if isinstance(exc, aiohttp.ClientError | OSError | ValueError):
        # Dropped after connecting, a broken response, an unreadable body: it may have
        # been accepted.
        return SendResult("ambiguous", detail=type(exc).__name__)
    return SendResult("ambiguous", detail=type(exc).__name__)


class TwilioGateway:
    name = "twilio"

    def __init__(self, settings: Settings) -> None:
        if not (
            settings.twilio_account_sid
            and settings.twilio_auth_token
            and settings.twilio_from_number
        ):
            raise ValueError("the twilio backend needs an account sid, auth token and number")
        self.http = HomewardTwilioHttpClient(
            timeout=settings.twilio_timeout_seconds, base_url=settings.twilio_api_base_url
        )
        self.client = Client(
            username=settings.twilio_account_sid,
            password=settings.twilio_auth_token,
            account_sid=settings.twilio_account_sid,
            http_client=self.http,
        )
        self.from_number = settings.twilio_from_number

    async def send(
        self, to: str, body: str, status_callback_url: str | None, *, reference: str | None = None
    ) -> SendResult:
        try:
            message: Any = await self.client.messages.create_async(
                to=to,
                from_=self.from_number,
                body=body,
                status_callback=status_callback_url or values.unset,
            )
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            result = classify_error(exc)
            log.info(
                "sms send not accepted",
                extra={
                    "reference": reference,
                    "outcome": result.outcome,
                    "error_code": result.error_code,
                    "http_status": result.http_status,
                    "why": result.detail,
                },
            )
            return result
        sid = getattr(message, "sid", None)
        if not sid:
            return SendResult("ambiguous", detail="no_sid")
        return SendResult("accepted", sid=sid, status=getattr(message, "status", None) or "queued")

    async def lookup(self, sid: str) -> LookupResult | None:
        try:
            message: Any = await self.client.messages(sid).fetch_async()
        except TwilioException as exc:
            if getattr(exc, "status", None) == 404:
                return None
            raise
        raw_code = getattr(message, "error_code", None)
        return LookupResult(
            sid=sid,
            status=str(getattr(message, "status", "") or "unknown"),
            error_code=int(raw_code) if raw_code not in (None, "") else None,
        )

    async def aclose(self) -> None:
        await self.http.close()
