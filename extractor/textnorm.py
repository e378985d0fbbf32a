"""The one text normaliser: what a cell, label or name reads as when it is compared, looked up or
scored, in place of the copies each module used to keep.

``normalize(text)`` drops all white space (OCR puts spaces between the characters of Chinese text
and between a figure's digits at will; no Chinese label is told apart by one) and takes None as "".
Its options are what its callers genuinely need differently:

- ``nfkc``: Unicode NFKC first, so full-width and half-width forms of one character are one
  ("１２３" "123", "（" "(", "％" "%", "：" ":"). For comparing with the ground truth (the evaluation
  scores a "（" read for "(" as right), for labels and table titles matched against half-width
  patterns, and for numbers before they are parsed.
- ``cjk_punct``: brackets and colon written full-width ("(" ")" ":" -> "（" "）" "："), the other
  way round from NFKC, and nothing else folded. The lexicon of budget names (kpi/lexicon.py,
  data/budget_names.yaml) is written this way; NFKC would turn its "（" into "(" and fold other
  characters too, changing which readings count as known (a feature of the confidence model).
- ``fold_width``: only the full-width ASCII forms (U+FF01..U+FF5E) folded to ASCII, not all of
  NFKC: what the KPI level classifier was trained on (kpi/classifier.normalize_chars); NFKC would
  change other characters ("①", "㎡", "…") and with them what the model sees.

NFKC comes first (it may itself produce a space, as in "¨" -> " ̈"), then the white space goes,
then the folds; a caller's own steps (a label's trailing colon, the classifier's masking of digits
and letters) come after.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Optional

_SPACE = re.compile(r"\s+")
_FOLD_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_CJK_PUNCT = str.maketrans({"(": "（", ")": "）", ":": "："})


def normalize(text: Optional[str], *, nfkc: bool = False, cjk_punct: bool = False, fold_width: bool = False) -> str:
    """``text`` without white space (None: ""); see the module for the options."""
    s = text or ""
    if nfkc:
        s = unicodedata.normalize("NFKC", s)
    s = _SPACE.sub("", s)
    if fold_width:
        s = s.translate(_FOLD_WIDTH)
    if cjk_punct:
        s = s.translate(_CJK_PUNCT)
    return s


__all__ = ["normalize"]
