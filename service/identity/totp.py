"""TOTP (RFC 6238, 30-second steps, 6 digits, SHA-1: what authenticator apps expect) and
one-time recovery codes.

A code is accepted for the current step or the one either side (clock drift), and only for a
step later than the last one accepted: a code seen over a shoulder or replayed is refused.
Recovery codes carry 50 random bits each, so a salted SHA-256 is enough (no slow hash needed
to resist guessing a value that was never chosen by a person).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno

ISSUER = "Homeward"
STEP_SECONDS = 30
# Steps either side of now that still count (a phone's clock a little off).
DRIFT_STEPS = 1
RECOVERY_CODES = 10
# Crockford-style alphabet without look-alikes (no 0/O, 1/I/L), read aloud or typed easily.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_RECOVERY_LENGTH = 10


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits, as RFC 4226 recommends


def step_at(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step `code` belongs to, if it is valid now and newer than `last_step`."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = step_at(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    if found is None or (last_step is not None and found <= last_step):
        return None
    return found


def provisioning_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=ISSUER
    )


def qr_svg_data_uri(uri: str) -> str:
    """The otpauth URI as a QR code, an SVG data: URI (the pages' CSP allows img-src data:)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=4))


def new_recovery_codes() -> list[str]:
    return [
        "".join(secrets.choice(_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        for _ in range(RECOVERY_CODES)
    ]


def normalise_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def format_recovery_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def hash_recovery_code(code: str, salt: str | None = None) -> tuple[str, str]:
    salt = salt or secrets.token_hex(16)
    digest = hashlib.sha256(f"{salt}|{normalise_recovery_code(code)}".encode()).hexdigest()
    return salt, digest


def recovery_code_matches(code: str, salt: str, code_hash: str) -> bool:
    return hmac.compare_digest(hash_recovery_code(code, salt)[1], code_hash)
