"""Document spec: what to draw, before any layout.

A document is a list of blocks.  Each block is a :class:`Paragraph` (prose, wrapped),
a :class:`Title` (a centred heading line) or a :class:`TableSpec` (a ruled grid with
merged cells).  Layout, pagination and ground truth are the renderer's job.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union


@dataclass
class Paragraph:
    text: str
    indent: bool = True          # first-line indent of two characters
    align: str = "left"          # left | right | center
    kind: str = "text"           # recorded in truth ("text" or "title")


@dataclass
class Title:
    text: str
    level: int = 1               # 0 = cover-sized, 1 = section/table title, 2 = sub heading
    align: str = "center"


@dataclass
class CellSpec:
    row: int
    col: int
    rowspan: int = 1
    colspan: int = 1
    text: str = ""
    align: Optional[str] = None  # None -> renderer decides (numbers right, header centre)
    header: bool = False


@dataclass
class TableSpec:
    n_rows: int
    n_cols: int
    cells: list[CellSpec] = field(default_factory=list)
    title: Optional[str] = None          # drawn above the table (first fragment only)
    subtitle_left: Optional[str] = None  # e.g. "部门名称：…"
    subtitle_right: Optional[str] = None  # e.g. "单位：万元"
    subtitle_center: Optional[str] = None  # e.g. "(2023年度)" under the title
    header_rows: int = 0                 # rows repeated on continuation pages (budget tables)
    repeat_header: bool = True
    kind: str = "budget"                 # budget | kpi | other
    ruled: bool = True                   # fully ruled (default)
    unruled_header: bool = False         # header rows without inner ruling lines
    open_sides: bool = False             # no left/right outer frame lines
    col_weights: Optional[list[float]] = None  # optional preferred relative column widths
    # layout-family knobs (scripts/synth/families.py); the defaults draw as before
    attach: bool = False                 # top rule = bottom rule of the table drawn just before (zero gap)
    outer: Optional[str] = None          # outer rule: same | thick | bold | double (None: the page style's)
    open_top_bottom: bool = False        # no top/bottom outer frame lines
    force_repeat_header: bool = False    # repeat header_rows on continuation pages (any kind, any style)
    cell_pad: Optional[float] = None     # horizontal text padding in units of font px (None: 0.45)
    keep_together: bool = False          # start on a new page rather than split (when it fits on one)
    data: Optional[object] = None        # structured source (e.g. a KpiTable) for variation
    rules: Optional[str] = None          # None: the ruled grid (as set above) | "none": no ruling lines at all
                                         # | "threeline": 三线表, outer rules at top and bottom + thin ``hrules``
    hrules: Optional[list[int]] = None   # threeline: thin full-width rules above these rows (row indices of
                                         # the table; a rule above row r is also drawn under repeated headers)

    # ---- helpers -------------------------------------------------------------------
    def owner_grid(self) -> list[list[int]]:
        """n_rows x n_cols of indices into ``cells`` (-1 where no cell covers the slot)."""
        g = [[-1] * self.n_cols for _ in range(self.n_rows)]
        for i, c in enumerate(self.cells):
            for r in range(c.row, c.row + c.rowspan):
                for k in range(c.col, c.col + c.colspan):
                    g[r][k] = i
        return g

    def validate(self) -> None:
        seen = [[0] * self.n_cols for _ in range(self.n_rows)]
        for c in self.cells:
            if c.rowspan < 1 or c.colspan < 1:
                raise ValueError(f"bad span {c}")
            if c.row + c.rowspan > self.n_rows or c.col + c.colspan > self.n_cols:
                raise ValueError(f"cell outside grid {c} ({self.n_rows}x{self.n_cols})")
            for r in range(c.row, c.row + c.rowspan):
                for k in range(c.col, c.col + c.colspan):
                    seen[r][k] += 1
        bad = [(r, k) for r in range(self.n_rows) for k in range(self.n_cols) if seen[r][k] != 1]
        if bad:
            raise ValueError(f"grid not tiled exactly at {bad[:5]}")

    def fill_empty(self) -> "TableSpec":
        """Add empty 1x1 cells for every uncovered slot (so the grid is tiled)."""
        g = self.owner_grid()
        for r in range(self.n_rows):
            for k in range(self.n_cols):
                if g[r][k] < 0:
                    self.cells.append(CellSpec(r, k))
        self.cells.sort(key=lambda c: (c.row, c.col))
        return self

    @classmethod
    def from_rows(cls, rows: list[list[str]], **kw) -> "TableSpec":
        """A plain grid without spans."""
        n_cols = max(len(r) for r in rows)
        cells = [CellSpec(r, c, text=(row[c] if c < len(row) else ""))
                 for r, row in enumerate(rows) for c in range(n_cols)]
        return cls(len(rows), n_cols, cells, **kw)


@dataclass
class PageBreak:
    pass


Block = Union[Paragraph, Title, TableSpec, PageBreak]


@dataclass
class DocSpec:
    blocks: list[Block] = field(default_factory=list)
    name: str = "doc"
    dept: str = ""
    meta: dict = field(default_factory=dict)
