"""Self-checking: the arithmetic every budget disclosure obeys, applied to the extracted values.

Each check names the cells it covers. A satisfied check is strong evidence that every cell in it
was read right (an OCR error would have to be cancelled by another); a broken one says that at
least one of them is wrong. Checks implemented (DOMAIN.md):

- ``code_hierarchy``: a 科目 parent row (3- or 5-digit code) equals the sum of its children;
- ``total_of_classes``: the 合计 row equals the sum of the 类 (3-digit) rows;
- ``row_sum``: 合计 = 基本支出 + 项目支出, 合计 = 人员经费 + 公用经费 along each row;
- ``fund_split``: a KPI project's 资金总额 = 中央 + 省级 + 市县 + 单位自筹 + 其他 (each period);
- ``kpi_project_amount``: a project's amount in table 12 (万元) equals its KPI table's 年度资金总额 (元);
- ``income_equals_expenditure``: table 1's 收入总计 = 支出总计;
- ``total_in_prose``: the 收入总计 of table 1 is the figure the prose restates ("预算收入总计206.52万元").
"""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Optional

from .kpi.numbers import parse_amount
from .model import Cell, Check, Document, Table
from .policy import mark
from .textnorm import normalize as _n

ROW_SUMS = [("合计", ("基本支出", "项目支出")), ("合计", ("人员经费", "公用经费"))]
CODE = re.compile(r"^\d{3}(\d{2}){0,2}$")


def _joined(chain: list[Table]) -> tuple[Table, dict[int, str]]:
    """One table from a table and its continuations (same column count): the continuations'
    repeated header rows dropped, rows renumbered. Returns it and each cell's original reference."""
    refs: dict[int, str] = {}
    cells: list[Cell] = []
    offset = 0
    for i, t in enumerate(chain):
        skip = 0 if i == 0 else _Grid(t).first_data
        for c in t.cells:
            if c.row < skip:
                continue
            cc = c.model_copy(update={"row": c.row - skip + offset})
            refs[id(cc)] = f"{t.id}:{c.row}:{c.col}"
            cells.append(cc)
        offset += t.n_rows - skip
    first = chain[0]
    return first.model_copy(update={"cells": cells, "n_rows": offset}), refs


class _Grid:
    """A budget table as header texts per column and data rows of cells."""

    def __init__(self, t: Table, refs: Optional[dict[int, str]] = None):
        self.t = t
        self.refs = refs or {}
        self.slots = t.slot_map()
        self.first_data = next((r for r in range(t.n_rows) if self._is_data_row(r)), t.n_rows)
        self.headers = ["".join(dict.fromkeys(_n(self.slots[(r, k)].text) for r in range(self.first_data)
                                              if (r, k) in self.slots)) for k in range(t.n_cols)]

    def _is_data_row(self, r: int) -> bool:
        texts = [_n(self.slots[(r, k)].text) for k in range(self.t.n_cols) if (r, k) in self.slots]
        return any(CODE.match(x) for x in texts[:1]) or any(parse_amount(x).value is not None and "." in x for x in texts)

    def cell(self, r: int, k: int) -> Optional[Cell]:
        c = self.slots.get((r, k))
        return c if c is not None and c.row == r and c.col == k else None

    def value(self, r: int, k: int) -> Optional[float]:
        c = self.cell(r, k)
        if c is None:
            return None
        if not _n(c.text):
            return 0.0  # an empty amount cell is zero in these tables
        return parse_amount(c.text).value

    def col(self, name: str) -> Optional[int]:
        """The column whose header ends with ``name`` (the most specific header level)."""
        cands = [k for k, h in enumerate(self.headers) if h.endswith(name)]
        return cands[0] if cands else None

    def numeric_cols(self) -> list[int]:
        out = []
        for k in range(self.t.n_cols):
            vals = [self.value(r, k) for r in range(self.first_data, self.t.n_rows) if self.cell(r, k) is not None]
            texts = [_n(self.cell(r, k).text) for r in range(self.first_data, self.t.n_rows) if self.cell(r, k) is not None]
            nonempty = [v for v, x in zip(vals, texts) if x]
            if nonempty and all(v is not None for v in nonempty):
                out.append(k)
        return out


def _add(checks: list[Check], name: str, ok: bool, cells: list[Cell], detail: str, g: "_Grid") -> None:
    checks.append(Check(name=name, ok=ok, detail=detail,
                        cells=[g.refs.get(id(c), f"{g.t.id}:{c.row}:{c.col}") for c in cells]))


def _tol(n_terms: int) -> float:
    """Amounts carry 2 decimals and each printed figure was rounded: a cent per term."""
    return 0.0101 * max(1, n_terms)


def _row_sums(g: _Grid, checks: list[Check]) -> None:
    for total_name, parts in ROW_SUMS:
        kt = g.col(total_name)
        kp = [g.col(p) for p in parts]
        if kt is None or any(k is None for k in kp):
            continue
        for r in range(g.first_data, g.t.n_rows):
            vt = g.value(r, kt)
            vp = [g.value(r, k) for k in kp]
            cells = [c for c in [g.cell(r, kt)] + [g.cell(r, k) for k in kp] if c is not None]
            if vt is None or any(v is None for v in vp) or not any(_n(c.text) for c in cells):
                continue
            ok = abs(vt - sum(vp)) <= _tol(len(vp) + 1)
            _add(checks, "row_sum", ok, cells, f"{total_name} {vt} vs {'+'.join(parts)} {sum(vp):.2f}", g)


def _hierarchy(g: _Grid, checks: list[Check]) -> None:
    code_col = 0
    rows = {}
    total_row = None
    for r in range(g.first_data, g.t.n_rows):
        c = g.cell(r, code_col)
        text = _n(c.text) if c else ""
        if CODE.match(text):
            rows[text] = r
        elif "合计" in text or "总计" in text:
            total_row = r
    if not rows:
        return
    for k in g.numeric_cols():
        if k == code_col:
            continue
        for code, r in rows.items():
            kids = [rows[c] for c in rows if len(c) == len(code) + 2 and c.startswith(code)]
            if not kids:
                continue
            vp, vk = g.value(r, k), [g.value(x, k) for x in kids]
            if vp is None or any(v is None for v in vk):
                continue
            cells = [c for c in [g.cell(r, k)] + [g.cell(x, k) for x in kids] if c is not None]
            _add(checks, "code_hierarchy", abs(vp - sum(vk)) <= _tol(len(kids) + 1), cells,
                 f"{code}: {vp} vs children {sum(vk):.2f}", g)
        classes = [r for c, r in rows.items() if len(c) == 3]
        if total_row is not None and classes:
            vt, vc = g.value(total_row, k), [g.value(x, k) for x in classes]
            if vt is not None and all(v is not None for v in vc):
                cells = [c for c in [g.cell(total_row, k)] + [g.cell(x, k) for x in classes] if c is not None]
                _add(checks, "total_of_classes", abs(vt - sum(vc)) <= _tol(len(classes) + 1), cells,
                     f"合计 {vt} vs classes {sum(vc):.2f}", g)


def _fund_splits(doc: Document, checks: list[Check]) -> None:
    for p in doc.projects:
        for label, funds in (("实施期", p.funds_period), ("年度", p.funds_year)):
            total = funds.get("total")
            parts = [v for k, v in funds.items() if k != "total" and v is not None]
            if total is None or not any(parts):  # no part read at all: nothing to check
                continue
            checks.append(Check(name="fund_split", ok=abs(total - sum(parts)) < 0.5,
                                detail=f"{p.name} {label}: {total} vs parts {sum(parts)}", cells=[]))


def _grand_totals(g: _Grid, checks: list[Check]) -> Optional[float]:
    """Table 1: 收入总计 = 支出总计 (the two halves of the summary). Returns the total."""
    found: dict[str, tuple[float, Cell]] = {}
    for r in range(g.t.n_rows):
        for k in range(g.t.n_cols):
            c = g.cell(r, k)
            if c is None:
                continue
            label = _n(c.text)
            for key in ("收入总计", "支出总计"):
                if label.startswith(key) and key not in found:
                    v = next(((g.value(r, j), g.cell(r, j)) for j in range(k + 1, g.t.n_cols)
                              if g.cell(r, j) is not None and _n(g.cell(r, j).text)), None)
                    if v and v[0] is not None:
                        found[key] = v
    if len(found) == 2:
        (a, ca), (b, cb) = found["收入总计"], found["支出总计"]
        _add(checks, "income_equals_expenditure", abs(a - b) <= _tol(2), [ca, cb], f"收入总计 {a} vs 支出总计 {b}", g)
    return found["收入总计"][0] if "收入总计" in found else None


PROSE_TOTAL = re.compile(r"(?:收入|收支)(?:预算)?总计\s*([\d,，.]+)\s*万元")


def _total_in_prose(doc: Document, total: float, cell_ref: Optional[str], checks: list[Check]) -> None:
    """The income total of table 1 is restated in the prose of 第三部分 ("预算收入总计206.52万元")."""
    for page in doc.pages:
        for p in page.paragraphs:
            for m in PROSE_TOTAL.finditer(_n(p.text)):
                v = parse_amount(m.group(1)).value
                if v is not None:
                    checks.append(Check(name="total_in_prose", ok=abs(v - total) <= _tol(1),
                                        detail=f"table 1 {total} vs prose {v} (page {page.page})",
                                        cells=[cell_ref] if cell_ref else []))
                    return


def _project_amounts(doc: Document, checks: list[Check]) -> None:
    """Table 12 (万元) lists each project's amount; its KPI table gives 年度资金总额 in 元."""
    by_name = {_n(p.name): p for p in doc.projects if p.name}
    if not by_name:
        return
    for t in doc.tables():
        if t.kind != "t12_project_expenditure":
            continue
        g = _Grid(t)
        kt = g.col("合计")
        if kt is None:
            continue
        for r in range(g.first_data, t.n_rows):
            for k in range(t.n_cols):
                c = g.cell(r, k)
                p = by_name.get(_n(c.text)) if c is not None else None
                if p is None or p.funds_year.get("total") is None:
                    continue
                v = g.value(r, kt)
                if v is None:
                    continue
                ok = abs(v * 10000 - p.funds_year["total"]) < 1.0
                _add(checks, "kpi_project_amount", ok, [g.cell(r, kt)],
                     f"{p.name}: table 12 {v} 万元 vs KPI table {p.funds_year['total']} 元", g)
                break


def validate(doc: Document) -> None:
    """Run every check, record them on the document and move the covered cells' confidence."""
    checks: list[Check] = []
    total, total_ref = None, None
    tables = {t.id: t for t in doc.tables()}
    for t in doc.tables():
        if (t.kind or "").startswith("kpi") or t.continued_from in tables:
            continue
        chain = [t]
        while chain[-1].continues_to in tables and tables[chain[-1].continues_to].n_cols == t.n_cols:
            chain.append(tables[chain[-1].continues_to])
        g = _Grid(*_joined(chain)) if len(chain) > 1 else _Grid(t)
        _row_sums(g, checks)
        _hierarchy(g, checks)
        if t.kind == "t01_income_expenditure_summary" and total is None:
            total = _grand_totals(g, checks)
            if total is not None and checks and checks[-1].name == "income_equals_expenditure":
                total_ref = checks[-1].cells[0]
    if total is not None:
        _total_in_prose(doc, total, total_ref, checks)
    _fund_splits(doc, checks)
    _project_amounts(doc, checks)
    doc.checks = checks
    by_cell: dict[str, list[Check]] = defaultdict(list)
    for ch in checks:
        for ref in ch.cells:
            by_cell[ref].append(ch)
    for t in doc.tables():
        for c in t.cells:
            got = by_cell.get(f"{t.id}:{c.row}:{c.col}")
            if not got:
                continue
            c.checks = sorted({mark(ch.ok, ch.name) for ch in got})
            if any(not ch.ok for ch in got):
                c.confidence = round(c.confidence * 0.5, 4)
            else:
                c.confidence = round(1 - (1 - c.confidence) * 0.3, 4)
