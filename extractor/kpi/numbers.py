"""Numbers and KPI targets as written in budget disclosures.

``parse_amount("1,021.29", unit="万元")`` -> 1021.29 万元; ``parse_target("≥98%")`` -> ≥ 98 %.
OCR's usual damage to numbers is repaired here and reported in ``issues``: thousands separators
read as decimal points ("1.021.29"), full-width digits and punctuation, letter O for zero.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from ..textnorm import normalize

# money units and their factor to 元
MONEY = {"元": 1.0, "万元": 1e4, "亿元": 1e8, "千元": 1e3}
COMPARATORS = {"≥": "≥", ">=": "≥", "＞=": "≥", "≤": "≤", "<=": "≤", "＜=": "≤", ">": ">", "＞": ">",
               "<": "<", "＜": "<", "=": "=", "＝": "="}
QUALITATIVE_HINT = re.compile(r"[\u4e00-\u9fff]")


def _clean(text: str) -> str:
    t = normalize(text, nfkc=True)
    return t.replace("，", ",").replace("。", ".")


@dataclass
class Amount:
    value: Optional[float]  # None: empty cell / not a number
    unit: Optional[str] = None  # "万元", "元", "%", … as read (or as given by the table)
    raw: str = ""
    issues: list[str] = field(default_factory=list)

    @property
    def yuan(self) -> Optional[float]:
        """The amount in 元 when the unit is money."""
        if self.value is None or self.unit not in MONEY:
            return None
        return round(self.value * MONEY[self.unit], 2)


_NUM = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")


def parse_number(text: str) -> tuple[Optional[float], list[str]]:
    """A plain number with optional thousands separators. Repairs and reports separators read
    as decimal points ("1.021.29" -> 1021.29) and separators in odd places."""
    t = _clean(text).replace("O", "0").replace("o", "0")
    issues: list[str] = []
    if not t:
        return None, issues
    neg = t.startswith("-")
    body = t.lstrip("+-")
    if body.count(".") >= 2:
        # every dot but the last was a thousands separator
        head, _, tail = body.rpartition(".")
        body = head.replace(".", ",") + "." + tail
        issues.append("thousands separator read as a decimal point")
    if not _NUM.match(body):
        if re.fullmatch(r"[\d,]+(\.\d+)?", body):
            issues.append("thousands separators out of place")
        else:
            return None, issues
    try:
        v = float(body.replace(",", ""))
    except ValueError:
        return None, issues
    return (-v if neg else v), issues


def parse_amount(text: str, unit: Optional[str] = None) -> Amount:
    """A table cell: "1,021.29" (unit from the table, e.g. 万元), "39.23%", "300,000元", ""."""
    raw = text or ""
    t = _clean(raw)
    if t in ("", "-", "—", "——", "/", "无"):
        return Amount(None, unit, raw)
    u = unit
    if t.endswith("%"):
        t, u = t[:-1], "%"
    else:
        for name in sorted(MONEY, key=len, reverse=True):
            if t.endswith(name):
                t, u = t[: -len(name)], name
                break
    v, issues = parse_number(t)
    return Amount(v, u, raw, issues)


@dataclass
class Target:
    """A KPI target (指标值)."""

    kind: str  # "numeric" | "date" | "period" | "qualitative" | "empty"
    comparator: Optional[str] = None  # ≥ ≤ > < =
    value: Optional[float] = None
    unit: Optional[str] = None  # %, 次, 个, 篇, 万元, 元, min, …
    value_yuan: Optional[float] = None  # money targets in 元
    date_from: Optional[str] = None  # "2024-08"
    date_to: Optional[str] = None
    text: str = ""  # the target as written (qualitative targets: the word itself)
    issues: list[str] = field(default_factory=list)


_DATE = re.compile(r"^(\d{4})年(\d{1,2})月(?:(\d{1,2})日)?(?:(?:至|-|~|—)(?:(\d{4})年)?(\d{1,2})月(?:(\d{1,2})日)?)?(?:前|底|末)?$")
_TARGET = re.compile(r"^(?P<cmp>≥|<=|>=|≤|>|<|=)?(?P<num>[-+]?[\d.,]+)(?P<unit>[^\d.,]*)$")


def parse_target(text: str) -> Target:
    raw = text or ""
    t = _clean(raw).replace("＞", ">").replace("＜", "<")
    if not t:
        return Target("empty", text=raw)
    m = _DATE.match(t)
    if m:
        y1, m1, _, y2, m2, _ = m.groups()
        start = f"{int(y1):04d}-{int(m1):02d}"
        if m2:
            end = f"{int(y2 or y1):04d}-{int(m2):02d}"
            return Target("period", date_from=start, date_to=end, text=raw)
        return Target("date", date_from=start, date_to=start, text=raw)
    m = _TARGET.match(t)
    if m and re.search(r"\d", m.group("num")):
        cmp_ = COMPARATORS.get(m.group("cmp") or "", None)
        v, issues = parse_number(m.group("num"))
        if v is not None:
            unit = m.group("unit") or None
            tg = Target("numeric", comparator=cmp_, value=v, unit=unit, text=raw, issues=issues)
            if unit in MONEY:
                tg.value_yuan = round(v * MONEY[unit], 2)
            return tg
    return Target("qualitative", text=raw)
