"""Repairs of recognised text that need no context beyond the token itself."""
from __future__ import annotations

import re

_NUMLIKE = re.compile(r"^[-+]?[0-9OoóòÓÒ]+([,.，][0-9OoóòÓÒ]+)*%?$")
_ZERO = str.maketrans({"O": "0", "o": "0", "ó": "0", "ò": "0", "Ó": "0", "Ò": "0"})


_STRAY_DOTS = re.compile(r"^[.·,]*([≥≤<>=]?[-+]?\d[\d,]*(?:\.\d+)?%?)[.·,]*$")


def fix_numeric(text: str) -> str:
    """A number whose zeros were read as the letter O ("O", "1,OOO.00") gets its zeros back, and
    a speck read as a dot before or after a number ("6.", ".0") goes. Only whole tokens made of
    digits, O-like letters and separators are touched."""
    if text and _NUMLIKE.match(text) and any(ch in text for ch in "OoóòÓÒ"):
        text = text.translate(_ZERO)
    m = _STRAY_DOTS.match(text or "")
    if m and m.group(1) != text:
        return m.group(1)
    return text
