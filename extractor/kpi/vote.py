"""Document-wide vote on repeated names.

The department's name (and with it the place's) is printed dozens of times in one disclosure:
above every table (部门名称：…), in the KPI tables (主管部门及代码, 实施单位) and in the prose. OCR
misreads some of them as look-alikes (岚县 read as 质县). The spelling most of them agree on wins,
and every near-identical variant (same length, at most two characters apart) is corrected to it,
in table fields, cells and paragraphs; a corrected cell is marked "~name_vote".
"""
from __future__ import annotations

import re
from collections import Counter

from ..model import Document
from ..textnorm import normalize

CODE = re.compile(r"^\d{2,4}-")
NAME = re.compile(r"[\u4e00-\u9fff（）()]{4,30}")


def _close(a: str, b: str) -> bool:
    return len(a) == len(b) and a != b and sum(x != y for x, y in zip(a, b)) <= min(2, len(a) // 4)


def _candidates(doc: Document) -> list[str]:
    out = []
    for t in doc.tables():
        if t.department:
            out.append(t.department)
    for p in doc.projects:
        for v in (p.department, p.implementer):
            if v:
                out.append(CODE.sub("", v))
    return [normalize(v) for v in out if NAME.fullmatch(normalize(v))]


def vote_names(doc: Document) -> dict[str, str]:
    """Correct look-alike variants of the document's repeated names. Returns {variant: winner}."""
    counts = Counter(_candidates(doc))
    fixes: dict[str, str] = {}
    for name, n in counts.most_common():
        if name in fixes or n < 2:
            continue
        for other, m in counts.items():
            if other not in fixes and other != name and m < n and _close(other, name):
                fixes[other] = name
    if not fixes:
        return fixes

    def fix(s: str) -> str:
        for bad, good in fixes.items():
            s = s.replace(bad, good)
        return s

    for t in doc.tables():
        if t.department:
            t.department = fix(t.department)
        for c in t.cells:
            new = fix(c.text)
            if new != c.text:
                c.text = new
                c.checks = sorted(set(c.checks) | {"~name_vote"})
    for page in doc.pages:
        for p in page.paragraphs:
            p.text = fix(p.text)
    for p in doc.projects:
        for field in ("department", "implementer"):
            v = getattr(p, field)
            if v:
                setattr(p, field, fix(v))
    for k in doc.kpis:
        k.project = fix(k.project)
    return fixes
