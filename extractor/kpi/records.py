"""KPI records from performance-target tables (绩效目标表), joined across pages.

The upper part of a project KPI table gives the project's metadata (项目名称, 主管部门及代码, 实施单位,
项目属性, 项目期, the fund split in 元, 总体目标); the lower part is the KPI grid, whose header row
names the columns: 一级指标, then one (二级, 三级, 指标值) triple per period (实施期, then 年度).
Cells are found by the header columns' x-positions, so a continuation page whose grid lost or
gained columns still lines up; 一级/二级 text carries down merged cells and across the page break.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from ..model import Cell, Document, KpiRecord, KpiTarget, Project, Table
from ..textnorm import normalize
from .numbers import parse_amount, parse_target

FOOTER = re.compile(r"负责人|经办人|联系电话|填报日期|填报人")
LEVEL1 = "一级指标"
LEVEL2 = "二级指标"
LEVEL3 = "三级指标"
VALUE = re.compile(r"^(指标值|目标值|指标值.*)$")
# upper-part labels -> Project field (first occurrence: 实施期, second: 年度 for the fund rows)
LABELS = {
    "项目名称": "name", "主管部门及代码": "department", "主管部门": "department", "实施单位": "implementer",
    "项目属性": "attribute", "项目期": "period", "项目日期": "period", "项目周期": "period",
    "项目概况": "overview", "立项依据": "basis",
}
FUNDS = {"实施期资金总额": "total", "年度资金总额": "total", "中央财政资金": "central", "省级财政资金": "provincial",
         "市县(区)财政资金": "local", "市县财政资金": "local", "单位自筹": "self_raised", "其他资金": "other"}


def _n(s: str) -> str:
    """A cell's text as a label: NFKC, no white space, no trailing colon ("项目名称：")."""
    return normalize(s, nfkc=True).rstrip(":")


def _col_at(t: Table, x: float) -> Optional[int]:
    e = t.col_edges
    for k in range(len(e) - 1):
        if e[k] - 2 <= x <= e[k + 1] + 2:
            return k
    return None


def _has_project_label(t: Table) -> bool:
    """A project block drawn as a table of its own, with no title naming it a KPI table (nor any
    other table type): 项目名称 and at least one more of the block's labels."""
    if t.kind not in (None, "", "other"):
        return False
    labels = {LABELS[k] for c in t.cells for k in (_n(c.text),) if k in LABELS}
    return "name" in labels and len(labels) >= 2


def chains(doc: Document) -> list[list[Table]]:
    """KPI tables (and project blocks) with their continuations, in page order."""
    tables = {t.id: t for t in doc.tables()}
    out = []
    for t in doc.tables():
        if t.continued_from is None and ((t.kind or "").startswith("kpi") or _has_project_label(t)
                                         or _find_header(t) is not None):
            chain = [t]
            while chain[-1].continues_to and chain[-1].continues_to in tables:
                chain.append(tables[chain[-1].continues_to])
            out.append(chain)
    return out


@dataclass
class _Header:
    row: int
    x: dict[str, float]  # role -> x centre ("l1", "l2_0", "l3_0", "v_0", "l2_1", ...)
    periods: int


def _find_header(t: Table) -> Optional[_Header]:
    slots = t.slot_map()
    for r in range(t.n_rows):
        cells = sorted({id(slots[(r, k)]): slots[(r, k)] for k in range(t.n_cols) if (r, k) in slots}.values(),
                       key=lambda c: c.col)
        texts = [_n(c.text) for c in cells]
        if LEVEL1 in texts and LEVEL3 in texts:
            x, seen = {}, {"l2": 0, "l3": 0, "v": 0}
            for c, s in zip(cells, texts):
                role = "l1" if s == LEVEL1 else "l2" if s == LEVEL2 else "l3" if s == LEVEL3 else "v" if VALUE.match(s) else None
                if role is None:
                    continue
                cx = (c.bbox[0] + c.bbox[2]) / 2
                if role == "l1":
                    x["l1"] = cx
                else:
                    x[f"{role}_{seen[role]}"] = cx
                    seen[role] += 1
            periods = min(seen["l3"], seen["v"])
            if periods:
                return _Header(r, x, periods)
    return None


def _is_header_row(t: Table, r: int) -> bool:
    texts = {_n(c.text) for c in t.cells if c.row <= r < c.row + c.rowspan}
    return LEVEL3 in texts and (LEVEL1 in texts or LEVEL2 in texts)


def _label_value_pairs(t: Table, upto: int) -> list[tuple[str, Cell, Optional[Cell]]]:
    """(label, label cell, value cell) for the upper part's rows: a value is the next cell right
    of a label in its row that is not itself a label."""
    slots = t.slot_map()
    known = set(LABELS) | set(FUNDS)
    out = []
    for r in range(upto):
        cells = sorted({id(slots[(r, k)]): slots[(r, k)] for k in range(t.n_cols) if (r, k) in slots}.values(),
                       key=lambda c: c.col)
        cells = [c for c in cells if c.row == r or c.rowspan == 1 or c.col > 0]
        for i, c in enumerate(cells):
            s = _n(c.text).replace("其中:", "")
            label = next((k for k in known if s == _n(k) or s.startswith(_n(k))), None)
            if label is None:
                continue
            val = None
            for d in cells[i + 1:]:
                ds = _n(d.text).replace("其中:", "")
                if any(ds.startswith(_n(k)) for k in known):
                    break
                if ds:
                    val = d
                    break
            out.append((label, c, val))
    return out


def _page_of(t: Table) -> int:
    return int(t.id.split("-")[0][1:])


def _project_from(tables: list[Table], upto: tuple[int, int]) -> Project:
    """The project metadata read from the upper-part rows of ``tables`` (a project block, alone or
    above its KPI grid) up to (table index, row) of the grid's header."""
    first = tables[0]
    proj = Project(table_id=first.id, page=_page_of(first))
    fund_seen: dict[str, int] = {}
    for i, t in enumerate(tables[: upto[0] + 1]):
        rows = upto[1] if i == upto[0] else t.n_rows
        for label, lc, vc in _label_value_pairs(t, rows):
            if vc is None:
                continue
            if label in LABELS:
                if getattr(proj, LABELS[label]) is None:
                    setattr(proj, LABELS[label], vc.text)
            else:
                key = FUNDS[label]
                n = fund_seen.get(key, 0) if key != "total" else (0 if label.startswith("实施期") else 1)
                fund_seen[key] = n + 1
                amount = parse_amount(vc.text, "元").value
                (proj.funds_period if n == 0 else proj.funds_year)[key] = amount
    return proj


def _directly_after(doc: Document, a: Table, b: Table) -> bool:
    """Is table ``b`` the next table after ``a`` in reading order: below it on the same page with
    no other table between, or the first table of the next page while ``a`` is its page's last?"""
    pa, pb = _page_of(a), _page_of(b)
    pages = {p.page: p for p in doc.pages}
    if pb == pa:
        between = [t for t in pages[pa].tables if a.bbox[3] - 2 <= t.bbox[1] and t.bbox[3] <= b.bbox[1] + 2
                   and t is not a and t is not b]
        return b.bbox[1] >= a.bbox[3] - 0.02 * max(1.0, pages[pa].height or 1.0) and not between
    if pb == pa + 1 and pa in pages and pb in pages:
        return a is max(pages[pa].tables, key=lambda t: t.bbox[3]) and b is min(pages[pb].tables, key=lambda t: t.bbox[1])
    return False


# a record whose project was inferred (a block not directly above its grid) or not found at all
INFERRED_PROJECT_FACTOR = 0.85
NO_PROJECT_FACTOR = 0.5


def extract(doc: Document) -> None:
    """Fill doc.projects and doc.kpis from the document's KPI tables.

    A project may be drawn as one ruled table (project block above the KPI grid) or as two tables
    (the grid directly below the block, sharing its border or after a gap, or at the top of the
    next page): a grid whose chain holds no 项目名称 takes the project block that comes directly
    before it. A grid with no block directly before it takes the document's last project block
    before it, and its records say so in their notes with a lower confidence; a grid with none
    at all keeps an empty project, noted likewise. A chain without a header row (a grid continued
    from a page whose link was not found) is read with the previous grid's header columns."""
    doc.projects, doc.kpis = [], []
    pending: Optional[tuple[Project, Table]] = None  # a project block still without its grid
    last_proj: Optional[Project] = None
    last_hdr: Optional[_Header] = None
    for chain in chains(doc):
        found = next(((i, h) for i, h in ((i, _find_header(t)) for i, t in enumerate(chain)) if h is not None), None)
        upto = (found[0], found[1].row) if found else (len(chain) - 1, chain[-1].n_rows)
        proj = _project_from(chain, upto)
        if found is None and proj.name is not None:
            doc.projects.append(proj)
            pending, last_proj = (proj, chain[-1]), proj
            continue
        note = None
        if proj.name is None:
            if pending is not None and _directly_after(doc, pending[1], chain[0]):
                proj = pending[0]
            elif last_proj is not None:
                proj, note = last_proj, f"project inferred: no 项目名称 block directly above; taken from {last_proj.table_id}"
            else:
                note = "project unknown: no 项目名称 block before this KPI grid"
                doc.projects.append(proj)
        else:
            doc.projects.append(proj)
        pending = None
        last_proj = proj if proj.name is not None else last_proj
        if found is not None:
            hdr, start = found[1], found[0]
            last_hdr = hdr
        elif last_hdr is not None:
            hdr, start = _Header(-1, last_hdr.x, last_hdr.periods), 0
            note = "; ".join(x for x in (note, "header taken from the previous KPI grid") if x)
        else:
            continue
        n0 = len(doc.kpis)
        _records(doc, proj, chain[start:], hdr)
        if note:
            factor = NO_PROJECT_FACTOR if note.startswith("project unknown") else INFERRED_PROJECT_FACTOR
            for k in doc.kpis[n0:]:
                k.notes.append(note)
                k.confidence = round(k.confidence * factor, 4)


def _block_period(t: Table, r: int, block: int, n_blocks: int) -> str:
    """The period of a one-triple KPI block whose header is row ``r`` of ``t``: what its label
    cell says ("实施期绩效指标", "年度绩效指标"), else by its place: with two blocks stacked, the
    first is the 实施期 one and the second the 年度 one; a single block is the 年度 one."""
    label = "".join(c.text for c in t.cells if c.row <= r < c.row + c.rowspan and "指标" in c.text
                    and _n(c.text) not in (LEVEL1, LEVEL2, LEVEL3) and not VALUE.match(_n(c.text)))
    for name in ("实施期", "年度"):
        if name in label:
            return name
    return ["实施期", "年度"][block] if n_blocks == 2 and block < 2 else "年度"


def _records(doc: Document, proj: Project, chain: list[Table], hdr: _Header) -> None:
    names = ["实施期", "年度"] if hdr.periods >= 2 else ["年度"]
    # one triple per row: the periods may be stacked, one block (with its own header row) each
    heads = [(i, r) for i, t in enumerate(chain) for r in range(t.n_rows) if _is_header_row(t, r)]
    if hdr.periods == 1:
        first = heads[0] if heads and hdr.row >= 0 else (0, -1)
        names = [_block_period(chain[first[0]], first[1], 0, len(heads))] if first[1] >= 0 else names
    carry = {"l1": "", **{f"l2_{p}": "" for p in range(hdr.periods)}}
    for i, t in enumerate(chain):
        slots = t.slot_map()
        start = hdr.row + 1 if i == 0 else 0
        cols = {role: _col_at(t, x) for role, x in hdr.x.items()}
        nxt = chain[i + 1] if i + 1 < len(chain) else None
        nxt_slots = nxt.slot_map() if nxt is not None else {}

        def continued_text(role: str, c: Cell) -> str:
            """A merged cell cut by the page break keeps its text on one side only: an empty
            piece at the bottom of this page takes the text the next page starts with."""
            if nxt is None or c.row + c.rowspan < t.n_rows:
                return ""
            k = _col_at(nxt, hdr.x[role])
            r0 = next((r for r in range(nxt.n_rows) if not _is_header_row(nxt, r)), 0)
            top = nxt_slots.get((r0, k)) if k is not None else None
            return top.text if top is not None else ""

        for r in range(start, t.n_rows):
            row_text = "".join(slots[(r, k)].text for k in range(t.n_cols) if (r, k) in slots)
            if FOOTER.search(row_text):
                break
            if _is_header_row(t, r):
                # the header repeated on a continuation page, or the next stacked period's block
                block = heads.index((i, r))  # every header row of the chain is in heads
                if hdr.periods == 1 and block > 0:
                    names = [_block_period(t, r, block, len(heads))]
                    carry = {k: "" for k in carry}
                continue

            def cell(role: str) -> Optional[Cell]:
                k = cols.get(role)
                return slots.get((r, k)) if k is not None else None

            c1 = cell("l1")
            spread = {id(c) for c in (c1, cell("l3_0"), cell("v_0")) if c is not None}
            if len(spread) == 1 and c1 is not None:
                continue  # one cell across the grid: a block's label ("年度绩效指标"), no indicator
            if c1 is not None:
                text = c1.text if _n(c1.text) else continued_text("l1", c1)
                if _n(text):
                    carry["l1"] = text
            for p in range(min(hdr.periods, len(names))):
                c2, c3, cv = cell(f"l2_{p}"), cell(f"l3_{p}"), cell(f"v_{p}")
                if c2 is not None:
                    text = c2.text if _n(c2.text) else continued_text(f"l2_{p}", c2)
                    if _n(text):
                        carry[f"l2_{p}"] = text
                l3 = c3.text if c3 is not None else ""
                val = cv.text if cv is not None else ""
                if not _n(l3) and not _n(val):
                    continue
                used = [c for c in (c1, c2, c3, cv) if c is not None]
                conf = min(c.confidence for c in used) if used else 0.0
                doc.kpis.append(KpiRecord(
                    project=proj.name or "", period=names[p], level1=carry["l1"], level2=carry[f"l2_{p}"],
                    level3=l3, value=val, target=KpiTarget(**parse_target(val).__dict__), confidence=round(conf, 4),
                    table_id=t.id, row=r))
