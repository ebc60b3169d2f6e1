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
    # The token's own id: signing out revokes this one token, not the user's others.
    token_id: str
    # Issued to someone who must enrol TOTP before anything else (service.http.auth).
    enrol_totp: bool = False


def issue(
    secret: str, user_id: uuid.UUID, token_version: int, now: datetime, ttl: timedelta
) -> tuple[str, datetime]:
    token, expires_at, _ = issue_with_id(secret, user_id, token_version, now, ttl)
    return token, expires_at


def issue_with_id(
    secret: str,
    user_id: uuid.UUID,
    token_version: int,
    now: datetime,
    ttl: timedelta,
    *,
    enrol_totp: bool = False,
) -> tuple[str, datetime, str]:
    """A token, its expiry and its jti (the key of its server-side session)."""
    expires_at = now + ttl
    jti = uuid.uuid4().hex
    payload: dict[str, object] = {
        "iss": ISSUER,
        "sub": str(user_id),
        "tv": token_version,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": jti,
    }
    if enrol_totp:
        payload["enrol"] = True
    return jwt.encode(payload, secret, algorithm=ALGORITHM), expires_at, jti


def verify(secret: str, token: str, now: datetime) -> TokenClaims | None:
    """Claims of a valid token, or None for anything forged, expired or malformed."""
    key = (secret, token)
    checked = _CHECKED.get(key)
    if checked is None:
        checked = _check(secret, token)
        if checked is None:
            return None
        if len(_CHECKED) >= _CHECKED_MAX:
            _CHECKED.pop(next(iter(_CHECKED)), None)  # oldest first; a miss costs a re-check
        _CHECKED[key] = checked
    # Expiry against our clock (injectable), not the wall clock inside PyJWT; never cached.
    if checked[2] <= now.timestamp():
        return None
    user_id, token_version, expires, token_id, enrol = checked
    return TokenClaims(
        user_id=user_id,
        token_version=token_version,
        expires_at=datetime.fromtimestamp(expires, tz=now.tzinfo),
        token_id=token_id,
        enrol_totp=enrol,
    )


# A client sends the same token on every request for hours, and PyJWT's checks cost more
# than the rest of authentication. Whether a (secret, token) pair verifies never changes,
# so tokens that verified are remembered (only those: junk cannot fill the memory, and
# every entry is a token we signed). Expiry is judged on every call (above); revocation
# (deactivation, token_version, signing out) is read from the database on every request.
_CHECKED: dict[tuple[str, str], tuple[uuid.UUID, int, int, str, bool]] = {}
_CHECKED_MAX = 4096


def _check(secret: str, token: str) -> tuple[uuid.UUID, int, int, str, bool] | None:
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={
                "require": ["exp", "iat", "sub", "iss", "jti"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
        jti = str(payload["jti"])
        if not 0 < len(jti) <= 64:
            return None
        return (
            uuid.UUID(str(payload["sub"])),
            int(payload.get("tv", 0)),
            int(payload["exp"]),
            jti,
            payload.get("enrol") is True,
        )
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        return None
