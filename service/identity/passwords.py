"""argon2id password hashing (argon2-cffi defaults follow RFC 9106's recommendations)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher(type=Type.ID)
# Verified against when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash("homeward-timing-equaliser")

MIN_LENGTH = 12


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


_COMMON_FILE = Path(__file__).with_name("common_passwords.txt")
# Digits, symbols and spaces people pad a common word with ("Password2024!").
_PADDING = re.compile(r"^[\W\d_]*(.*?)[\W\d_]*$", re.DOTALL)
_SEQUENCES = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiop", "asdfghjkl", "zxcvbnm")


@cache
def common_passwords() -> frozenset[str]:
    lines = _COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _repeats(text: str) -> bool:
    """One short unit over and over ("aaaaaaaaaaaa", "abcabcabcabc", "passwordpassword")."""
    return any(
        len(text) % size == 0 and text == text[:size] * (len(text) // size)
        for size in range(1, len(text) // 2 + 1)
    )


def is_common(password: str) -> bool:
    lowered = password.lower()
    stem = _PADDING.sub(r"\1", lowered)
    if not stem:
        return True  # nothing but digits, symbols and spaces
    common = common_passwords()
    if lowered in common or stem in common or _repeats(lowered) or _repeats(stem):
        return True
    # A run along the alphabet, the digits or a keyboard row ("qwertyuiop[]").
    return any(stem in sequence for sequence in _SEQUENCES)


def password_problem(password: str) -> str | None:
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > 256:
        return "must be at most 256 characters"
    if is_common(password):
        return "is too common or too easy to guess; choose a longer phrase of unrelated words"
    return None
