"""Which table is this? Title, unit and department from the lines above a table, and its type
among the standard budget tables and KPI tables (patterns in data/table_types.yaml)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Optional

import yaml

from ..model import Document, Paragraph, Table
from ..textnorm import normalize

DATA = Path(__file__).parent / "data" / "table_types.yaml"
UNIT = re.compile(r"(?:单位|金额单位)[:：]?\s*(万元|元|千元|亿元)")
DEPARTMENT = re.compile(r"(?:部门名称|单位名称|预算单位|编制单位|部门)[:：]\s*(.+?)\s*(?:(?:金额)?单位[:：].*)?$")


@dataclass
class TableType:
    id: str
    name: str
    title: list[str]
    not_: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)

    def title_matches(self, title: str) -> bool:
        return any(re.search(p, title) for p in self.title) and not any(re.search(p, title) for p in self.not_)


@lru_cache(maxsize=1)
def table_types() -> tuple[TableType, ...]:
    raw = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    return tuple(TableType(r["id"], r["name"], r["title"], r.get("not", []), r.get("header", [])) for r in raw)


def _n(s: str) -> str:
    return normalize(s, nfkc=True)


def classify(title: Optional[str], header: str = "") -> tuple[str, str]:
    """(type id, type name) of a table from its title, or from its header words without one."""
    t = _n(title or "")
    if t:
        for tt in table_types():
            if tt.title_matches(t):
                return tt.id, tt.name
    h = _n(header)
    best, best_hits = None, 0
    for tt in table_types():
        if not tt.header:
            continue
        hits = sum(1 for w in tt.header if w in h)
        if hits >= 2 and hits >= 0.6 * len(tt.header) and hits > best_hits:
            best, best_hits = tt, hits
    return (best.id, best.name) if best else ("other", "其他")


@dataclass
class Preamble:
    title: Optional[str] = None
    unit: Optional[str] = None
    department: Optional[str] = None


def read_preamble(lines: list[str]) -> Preamble:
    """Title, unit and department from the text lines just above a table (top to bottom)."""
    pre = Preamble()
    for raw in lines:
        s = _n(raw)
        m = UNIT.search(s)
        if m:
            pre.unit = m.group(1)
        m = DEPARTMENT.match(s)
        if m and not s.startswith("单位:"):
            pre.department = m.group(1).strip() or None
            continue
        if m is None and UNIT.match(s):
            continue
        if "表" in s and len(s) <= 60:
            pre.title = s  # the nearest title-like line wins
    return pre


def _header_text(t: Table, rows: int = 3) -> str:
    return "".join(c.text for c in t.cells if c.row < rows)


def annotate_tables(doc: Document) -> None:
    """Set title, unit, department and kind on every table. A continuation inherits them."""
    by_id: dict[str, Table] = {}
    for page in doc.pages:
        prev_bottom = 0.0
        for t in sorted(page.tables, key=lambda t: t.bbox[1]):
            above: list[Paragraph] = [p for p in page.paragraphs
                                      if prev_bottom - 2 <= p.bbox[1] and p.bbox[3] <= t.bbox[1] + 2]
            # only the block of lines directly above: stop at a gap wider than a few lines
            above.sort(key=lambda p: p.bbox[1])
            block: list[Paragraph] = []
            for p in reversed(above):
                ref = block[-1].bbox[1] if block else t.bbox[1]
                if ref - p.bbox[3] > 4 * max(8.0, p.bbox[3] - p.bbox[1]):
                    break
                block.append(p)
            pre = read_preamble([p.text for p in reversed(block)])
            src = by_id.get(t.continued_from) if t.continued_from else None
            if src is not None:
                t.title, t.unit, t.department = src.title, src.unit, src.department
                t.kind, t.kind_name = src.kind, src.kind_name
            else:
                t.title, t.unit, t.department = pre.title, pre.unit, pre.department
                t.kind, t.kind_name = classify(pre.title, _header_text(t))
            by_id[t.id] = t
            prev_bottom = t.bbox[3]
