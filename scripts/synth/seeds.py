"""Parse a seed transcript (TAB-separated table rows, prose lines) into a DocSpec."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Optional

from . import kpi as kpimod
from .spec import CellSpec, DocSpec, Paragraph, TableSpec, Title

NUM_RE = re.compile(r"^-?[\d,]*\d(\.\d+)?%?$")
_CN_NUM = "一二三四五六七八九十"


def is_number(s: str) -> bool:
    s = s.strip()
    return bool(s) and bool(NUM_RE.match(s))


def _split_runs(lines: list[str]):
    """Yield ("prose", line) and ("table", [rows]) items in order."""
    i, n = 0, len(lines)
    while i < n:
        ln = lines[i]
        if "\t" in ln:
            rows = []
            while i < n:
                if "\t" in lines[i]:
                    rows.append(lines[i].rstrip("\n").split("\t"))
                    i += 1
                    continue
                if not lines[i].strip():
                    j = i
                    while j < n and not lines[j].strip():
                        j += 1
                    if j < n and "\t" in lines[j]:
                        i = j
                        continue
                break
            yield "table", rows
        else:
            if ln.strip():
                yield "prose", ln.strip()
            i += 1


def _is_toc(rows: list[list[str]]) -> bool:
    hits = 0
    for r in rows:
        toks = [t.strip() for t in r if t.strip()]
        if len(toks) == 2 and re.fullmatch(r"\d{1,3}", toks[1]):
            hits += 1
    return hits >= 0.6 * len(rows)


def _prose_block(line: str, first_prose: bool):
    line = re.sub(r"^-\s+", "", line).strip()
    if re.match(r"^第[一二三四五六]部分", line):
        return Title(line, level=1)
    if re.match(rf"^[{_CN_NUM}]+、", line) and len(line) <= 26:
        return Title(line, level=2, align="left")
    if re.match(rf"^[（(][{_CN_NUM}\d]+[)）]", line) and len(line) <= 20:
        return Title(line, level=2, align="left")
    if re.match(r"^目\s*录$", line):
        return Title(line, level=1)
    if len(line) <= 40 and re.search(r"(表|表[（(].{1,12}[)）]|表\d+)$", line):
        return Title(line, level=1)
    if re.fullmatch(r"[（(]\d{4}年度[)）]", line):
        return Title(line, level=2)
    if line.startswith("部门名称") or line.startswith("单位：") or line.startswith("单位:"):
        return Paragraph(line, indent=False, align="right" if line.startswith("单位") else "left")
    if first_prose:
        return Title(line, level=0)
    return Paragraph(line, indent=not line.startswith("注"))


def grid_from_rows(rows: list[list[str]], *, title: Optional[str] = None) -> Optional[TableSpec]:
    """Turn ragged TAB rows of a budget-like table into a tiled grid with spans."""
    rows = [[c.strip() for c in r] for r in rows]
    # strip trailing empties
    rows = [r[:max([i + 1 for i, c in enumerate(r) if c] or [0])] for r in rows]
    rows = [r for r in rows if r]
    if len(rows) < 2:
        return None
    lens = Counter(len(r) for r in rows)
    n_cols = max(lens)
    if n_cols < 2 or n_cols > 14:
        return None
    # too ragged to trust: the widest row is a lone outlier far wider than the rest
    second = sorted((len(r) for r in rows), reverse=True)[1]
    if n_cols - second > 2:
        return None
    grid = [r + [""] * (n_cols - len(r)) for r in rows]
    n_rows = len(grid)

    def colnum_row(r):
        toks = [t for t in r if t]
        return len(toks) >= 3 and all(re.fullmatch(r"\d{1,2}", t) for t in toks)
    h = 0
    for i, r in enumerate(grid):
        if colnum_row(r):
            continue
        if any(is_number(t) for t in r):
            h = i
            break
    else:
        h = 1
    h = max(1, min(h, 4, n_rows - 1))
    owner = [[None] * n_cols for _ in range(n_rows)]
    cells: list[CellSpec] = []
    for r in range(h):
        for c in range(n_cols):
            t = grid[r][c]
            if t:
                cell = CellSpec(r, c, text=t, header=True)
                cells.append(cell)
                owner[r][c] = cell
        for c in range(n_cols):
            if owner[r][c] is not None:
                continue
            above = owner[r - 1][c] if r > 0 else None
            if above is not None and above.colspan == 1 and above.row + above.rowspan == r:
                above.rowspan += 1
                owner[r][c] = above
                continue
            left = owner[r][c - 1] if c > 0 else None
            if left is not None and left.row == r and left.rowspan == 1:
                left.colspan += 1
                owner[r][c] = left
                continue
            cell = CellSpec(r, c, header=True)
            cells.append(cell)
            owner[r][c] = cell
    # a horizontally merged header cell must not sit on top of a vertical merge: fine by construction
    for r in range(h, n_rows):
        c = 0
        while c < n_cols:
            t = grid[r][c]
            if c == 0 and t.replace(" ", "") in ("合计", "总计") and n_cols > 3 and not grid[r][1] \
                    and not is_number(grid[r][1]):
                cells.append(CellSpec(r, 0, 1, 2, t, align="center"))
                c = 2
                continue
            cells.append(CellSpec(r, c, text=t))
            c += 1
    spec = TableSpec(n_rows, n_cols, cells, title=title, header_rows=h, kind="budget")
    spec.cells.sort(key=lambda x: (x.row, x.col))
    spec.validate()
    return spec


def parse_seed(path: str | Path) -> DocSpec:
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    doc = DocSpec(name=Path(path).stem)
    blocks = doc.blocks
    first_prose = True
    cover_done = False
    for kind, item in _split_runs(lines):
        if kind == "prose":
            line = item
            if re.match(r"^目\s*录$", line) or re.match(r"^第[一二三四]部分", line):
                cover_done = True
            b = _prose_block(line, first_prose=not cover_done)
            blocks.append(b)
            first_prose = False
            continue
        rows = item
        if _is_toc(rows):
            for r in rows:
                toks = [t.strip() for t in r if t.strip()]
                if not toks:
                    continue
                lab = toks[0].rstrip(".·… ")
                num = toks[-1] if len(toks) > 1 else ""
                blocks.append(Paragraph(f"{lab}{'.' * 12}{num}", indent=not lab.startswith("第"), kind="text"))
            continue
        if len(max(rows, key=len)) < 2:
            continue
        # collect title / subtitles from the preceding blocks
        title = sub_l = sub_r = sub_c = None
        while blocks:
            b = blocks[-1]
            t = b.text if isinstance(b, (Title, Paragraph)) else None
            if t is None:
                break
            if t.startswith("部门名称") and sub_l is None:
                sub_l = t
            elif (t.startswith("单位：") or t.startswith("单位:")) and sub_r is None:
                sub_r = t
            elif re.fullmatch(r"[（(]\d{4}年度[)）]", t) and sub_c is None:
                sub_c = t
            elif isinstance(b, Title) and title is None and re.search(r"表", t[-12:]) and len(t) <= 40:
                title = t
                blocks.pop()
                break
            else:
                break
            blocks.pop()
        flat = " ".join(" ".join(r) for r in rows[:40])
        spec: Optional[TableSpec] = None
        if "一级指标" in flat or "绩效指标" in flat:
            kt = kpimod.parse_rows(rows)
            if kt is not None:
                kt.title = title or ""
                kt.year_line = sub_c
                spec = kpimod.build_table(kt)
        else:
            spec = grid_from_rows(rows, title=title)
            if spec is not None:
                spec.subtitle_left, spec.subtitle_right, spec.subtitle_center = sub_l, sub_r, sub_c
        if spec is None:
            # restore the popped title lines as prose; drop the table
            for t in (title, sub_c, sub_l, sub_r):
                if t:
                    blocks.append(Paragraph(t, indent=False))
            continue
        blocks.append(spec)
    # department name: most common "部门名称：X" value or the first cover line
    names = Counter()
    for b in blocks:
        t = getattr(b, "subtitle_left", None) or (b.text if isinstance(b, Paragraph) else None)
        if t and t.startswith("部门名称"):
            names[re.split(r"[：:]", t, 1)[-1].strip()] += 1
    if names:
        doc.dept = names.most_common(1)[0][0]
    else:
        for b in blocks:
            if isinstance(b, Title) and b.level == 0:
                doc.dept = b.text
                break
    return doc
