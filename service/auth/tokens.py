"""Short-lived signed access tokens (JWT, HS256)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

ALGORITHM = "HS256"
ISSUER = "homeward"


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    token_version: int
    expires_at: datetime


def issue(
    secret: str, user_id: uuid.UUID, token_version: int, now: datetime, ttl: timedelta
) -> tuple[str, datetime]:
    expires_at = now + ttl
    payload = {
        "iss": ISSUER,
        "sub": str(user_id),
        "tv": token_version,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM), expires_at


def verify(secret: str, token: str, now: datetime) -> TokenClaims | None:
    """Claims of a valid token, or None for anything forged, expired or malformed."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={
                "require": ["exp", "iat", "sub", "iss"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
        # Expiry against our clock (injectable), not the wall clock inside PyJWT.
        if int(payload["exp"]) <= now.timestamp():
            return None
        return TokenClaims(
            user_id=uuid.UUID(str(payload["sub"])),
            token_version=int(payload.get("tv", 0)),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), tz=now.tzinfo),
        )
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        return None
