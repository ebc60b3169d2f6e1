"""The board's second sign-in step: a signed, short-lived note that the password was right.

`<user id>.<token version>.<issued epoch>.<device nonce or ->.<HMAC>` under the app's secret;
nothing is stored. It proves only the first factor: the code is still checked (and throttled)
at the second step, and a password change (token version) voids it.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

TTL = timedelta(minutes=5)
MAX_LENGTH = 300


@dataclass(frozen=True)
class Ticket:
    user_id: uuid.UUID
    token_version: int
    # The known-device nonce the first step used (its budget applies at the second step too).
    device_nonce: str | None


def _mac(secret: str, body: str) -> str:
    return hmac.new(secret.encode(), b"second-step|" + body.encode(), hashlib.sha256).hexdigest()


def issue(
    secret: str, user_id: uuid.UUID, token_version: int, device_nonce: str | None, now: datetime
) -> str:
    body = f"{user_id.hex}.{token_version}.{int(now.timestamp())}.{device_nonce or '-'}"
    return f"{body}.{_mac(secret, body)}"


def read(secret: str, value: str | None, now: datetime) -> Ticket | None:
    if not value or len(value) > MAX_LENGTH:
        return None
    parts = value.split(".")
    if len(parts) != 5:
        return None
    owner, version, issued, nonce, mac = parts
    if not hmac.compare_digest(_mac(secret, ".".join(parts[:4])), mac):
        return None
    if not version.isdigit() or not issued.isdigit():
        return None
    age = now.timestamp() - int(issued)
    if age < 0 or age > TTL.total_seconds():
        return None
    try:
        user_id = uuid.UUID(hex=owner)
    except ValueError:
        return None
    return Ticket(user_id, int(version), None if nonce == "-" else nonce)
