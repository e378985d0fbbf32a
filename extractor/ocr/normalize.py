"""Repairs of recognised text that need no context beyond the token itself."""
from __future__ import annotations

import re

_NUMLIKE = re.compile(r"^[-+]?[0-9OoóòÓÒ]+([,.，][0-9OoóòÓÒ]+)*%?$")
_ZERO = str.maketrans({"O": "0", "o": "0", "ó": "0", "ò": "0", "Ó": "0", "Ò": "0"})


def fix_numeric(text: str) -> str:
    """A number whose zeros were read as the letter O ("O", "1,OOO.00") gets its zeros back.
    Only whole tokens made of digits, O-like letters and separators are touched."""
    if text and _NUMLIKE.match(text) and any(ch in text for ch in "OoóòÓÒ"):
        return text.translate(_ZERO)
    return text
