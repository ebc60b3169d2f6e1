"""How many SMS segments a text costs: GSM-7 when every character is in the GSM 03.38 set
(extension characters such as € take two septets), else UCS-2 (UTF-16 code units, so an
emoji outside the Basic Multilingual Plane takes two). A single segment holds 160 septets or
70 code units; a long text is split into parts of 153 septets or 67 code units, and a
two-septet character or a surrogate pair is never split across parts (as carriers do).
A leaf: pure functions over a string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Reached through the escape character: two septets each.
GSM_EXTENSION = frozenset("^{}\\[~]|€\f")

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True)
class SegmentCount:
    encoding: Encoding
    # Septets (GSM-7) or UTF-16 code units (UCS-2).
    units: int
    segments: int


def _units(text: str) -> tuple[Encoding, list[int]]:
    if all(c in GSM_BASIC or c in GSM_EXTENSION for c in text):
        return "GSM-7", [2 if c in GSM_EXTENSION else 1 for c in text]
    return "UCS-2", [2 if ord(c) > 0xFFFF else 1 for c in text]


def count(text: str) -> SegmentCount:
    encoding, sizes = _units(text)
    single, part = (160, 153) if encoding == "GSM-7" else (70, 67)
    total = sum(sizes)
    if total <= single:
        return SegmentCount(encoding, total, 1 if total else 0)
    segments, used = 1, 0
    for size in sizes:
        if used + size > part:
            segments += 1
            used = 0
        used += size
    return SegmentCount(encoding, total, segments)
