"""A loopback fake of Twilio's Messages API, for tests and the benchmark.

It speaks just enough of the real thing for the official SDK: form-encoded
`POST /2010-04-01/Accounts/{AccountSid}/Messages.json` answering 201 with a JSON message
(`sid` "SM" + 32 hex, status "queued"), `GET .../Messages/{sid}.json` for lookups, HTTP Basic
auth, and errors in Twilio's JSON shape ({code, message, more_info, status}).

Failures are programmable per request (`fail_next`) or per number (`fail_for`):
`invalid_number` 400/21211, `opted_out` 400/21610, `not_mobile` 400/21614,
`rate_limited` 429/20429, `server_error` 500, `drop` (creates the message, then drops the
connection before answering), `drop_before` (drops without creating), `slow` (creates, then
answers after `slow_seconds`). Every request is recorded, so tests see exactly what would
have left the building.

Run alone (for the benchmark): `python -m api_tests.fake_twilio` prints its base URL.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import sys
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web

API_VERSION = "2010-04-01"

ERRORS: dict[str, tuple[int, int, str]] = {
    "invalid_number": (400, 21211, "The 'To' number is not a valid phone number."),
    "opted_out": (400, 21610, "Attempt to send to unsubscribed recipient"),
    "not_mobile": (400, 21614, "'To' number is not a valid mobile number"),
    "rate_limited": (429, 20429, "Too Many Requests"),
    "server_error": (500, 20500, "Internal Server Error"),
}
BEHAVIOURS = frozenset({*ERRORS, "drop", "drop_before", "slow"})


@dataclass
class RecordedRequest:
    method: str
    path: str
    form: dict[str, str]
    authorised: bool
    outcome: str


@dataclass
class FakeMessage:
    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    status: str
    status_callback: str | None
    error_code: int | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class FakeTwilio:
    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        *,
        slow_seconds: float = 2.0,
    ) -> None:
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.slow_seconds = slow_seconds
        self.requests: list[RecordedRequest] = []
        self.messages: dict[str, FakeMessage] = {}
        self._next: deque[str] = deque()
        self._per_number: dict[str, str] = {}
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # --- programming it ---------------------------------------------------------------

    def fail_next(self, behaviour: str, times: int = 1) -> None:
        """The next `times` create requests behave so (then back to normal)."""
        assert behaviour in BEHAVIOURS, behaviour
        self._next.extend([behaviour] * times)

    def fail_for(self, to: str, behaviour: str) -> None:
        """Every create request to this number behaves so."""
        assert behaviour in BEHAVIOURS, behaviour
        self._per_number[to] = behaviour

    def set_status(self, sid: str, status: str, error_code: int | None = None) -> None:
        self.messages[sid].status = status
        self.messages[sid].error_code = error_code

    # --- looking at it ----------------------------------------------------------------

    @property
    def creates(self) -> list[RecordedRequest]:
        """Every create request that reached the server, whatever it was answered."""
        return [
            r for r in self.requests if r.method == "POST" and r.path.endswith("/Messages.json")
        ]

    @property
    def accepted(self) -> list[FakeMessage]:
        """Messages Twilio would have sent (created), in order."""
        return sorted(self.messages.values(), key=lambda m: m.created_at)

    def sent_to(self, number: str) -> list[FakeMessage]:
        return [m for m in self.accepted if m.to == number]

    # --- running it -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self.port is not None, "start() first"
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> FakeTwilio:
        app = web.Application()
        prefix = f"/{API_VERSION}/Accounts/{{account}}"
        app.router.add_post(f"{prefix}/Messages.json", self._create)
        app.router.add_get(f"{prefix}/Messages/{{sid}}.json", self._fetch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- the API ----------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return secrets.compare_digest(header, f"Basic {expected}") and (
            request.match_info["account"] == self.account_sid
        )

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        return web.json_response(
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
            status=status,
        )

    def _json(self, message: FakeMessage) -> dict[str, Any]:
        stamp = format_datetime(message.created_at, usegmt=True)
        uri = f"/{API_VERSION}/Accounts/{message.account_sid}/Messages/{message.sid}.json"
        return {
            "account_sid": message.account_sid,
            "api_version": API_VERSION,
            "body": message.body,
            "date_created": stamp,
            "date_sent": None,
            "date_updated": stamp,
            "direction": "outbound-api",
            "error_code": message.error_code,
            "error_message": None,
            "from": message.from_,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": message.sid,
            "status": message.status,
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": message.to,
            "uri": uri,
        }

    async def _create(self, request: web.Request) -> web.StreamResponse:
        form = {k: str(v) for k, v in (await request.post()).items()}
        authorised = self._authorised(request)
        behaviour = "ok"
        if authorised:
            to = form.get("To", "")
            if to in self._per_number:
                behaviour = self._per_number[to]
            elif self._next:
                behaviour = self._next.popleft()
        self.requests.append(
            RecordedRequest(
                "POST", request.path, form, authorised, "401" if not authorised else behaviour
            )
        )
        if not authorised:
            return self._error(401, 20003, "Authenticate")
        if behaviour in ERRORS:
            return self._error(*ERRORS[behaviour])
        if behaviour == "drop_before":
            return self._drop(request)
        for name, code in (("To", 21604), ("Body", 21602)):
            if not form.get(name):
                return self._error(400, code, f"A '{name}' parameter is required.")
        if not form.get("From"):
            return self._error(400, 21603, "A 'From' phone number is required.")
        if not form["To"].startswith("+") or not form["To"][1:].isdigit():
            return self._error(*ERRORS["invalid_number"])
        message = FakeMessage(
            sid="SM" + secrets.token_hex(16),
            account_sid=self.account_sid,
            to=form["To"],
            from_=form["From"],
            body=form["Body"],
            status="queued",
            status_callback=form.get("StatusCallback"),
        )
        self.messages[message.sid] = message
        if behaviour == "drop":
            return self._drop(request)
        if behaviour == "slow":
            await asyncio.sleep(self.slow_seconds)
        return web.json_response(self._json(message), status=201)

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        # Close the socket with the request read and nothing answered.
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError

    async def _fetch(self, request: web.Request) -> web.Response:
        authorised = self._authorised(request)
        self.requests.append(
            RecordedRequest("GET", request.path, {}, authorised, "ok" if authorised else "401")
        )
        if not authorised:
            return self._error(401, 20003, "Authenticate")
        message = self.messages.get(request.match_info["sid"])
        if message is None:
            return self._error(404, 20404, "The requested resource was not found")
        return web.json_response(self._json(message))


async def _serve_forever(port: int) -> None:
    fake = FakeTwilio(
        account_sid=sys.argv[2] if len(sys.argv) > 2 else None,
        auth_token=sys.argv[3] if len(sys.argv) > 3 else None,
    )
    await fake.start(port)
    print(fake.base_url, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_serve_forever(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
