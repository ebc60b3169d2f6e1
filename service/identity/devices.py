"""Known-device tokens (OWASP's "device cookie"): proof that this browser or client signed in
as this user before, so a stranger's failed guesses on the account do not lock it out.

A token is `<user id>.<nonce>.<issued epoch>.<HMAC>` under the app's secret; nothing is stored.
The nonce names the device so its own failures can be counted (a stolen token still gets only
a few guesses).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta

TTL = timedelta(days=90)
MAX_LENGTH = 200


def _mac(secret: str, body: str) -> str:
    return hmac.new(secret.encode(), b"device|" + body.encode(), hashlib.sha256).hexdigest()


def issue(secret: str, user_id: uuid.UUID, now: datetime) -> str:
    body = f"{user_id.hex}.{secrets.token_urlsafe(16)}.{int(now.timestamp())}"
    return f"{body}.{_mac(secret, body)}"


def device_of(secret: str, token: str | None, user_id: uuid.UUID, now: datetime) -> str | None:
    """The device's nonce when `token` is ours, for this user and not older than TTL."""
    if not token or len(token) > MAX_LENGTH:
        return None
    parts = token.split(".")
    if len(parts) != 4:
        return None
    owner, nonce, issued, mac = parts
    if not hmac.compare_digest(_mac(secret, ".".join(parts[:3])), mac):
        return None
    if owner != user_id.hex or not issued.isdigit():
        return None
    age = now.timestamp() - int(issued)
    if age < 0 or age > TTL.total_seconds():
        return None
    return nonce
