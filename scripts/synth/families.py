"""Layout families: independent ways to draw the same disclosure.

A family is a document-level template (think: one province's forms).  ``base`` is the generator's
own drawing, untouched; every other family redraws the KPI project pages (绩效目标表) from their
structured source (``TableSpec.data``, a :class:`KpiTable`) and restyles / adds budget tables in its
own way, randomised within the family so that one family is not one fixed look.

    doc = FAMILIES["twin"].apply(doc, rng)     # build_doc(seed, family="twin") does this
    style = FAMILIES["twin"].style(style, rng)

Variations (and the families that draw them):

KPI pages
- project block + KPI grid as one ruled table: base, union, stacked(some), mixed(some)
- two ruled tables sharing a border (zero gap): twin, stacked(some), mixed(some)
- two tables with a gap: gapped, ledger, mixed(some)
- project block on 4 / 6 columns not lined up with the KPI grid: twin, gapped, union (one table:
  union of both boundaries), ledger, mixed
- KPI grid continued on the next page with its header repeated (gapped) or not (ledger)
- 实施期 / 年度 stacked (fund rows, 总体目标; one-triple KPI grid with a 年度 block below): stacked
- 一级 repeated on every row (no vertical merge): union, ledger(some), mixed(some)
- long project names wrapping onto 2 lines: union, gapped(some), mixed(some)
- targets "≥1.00(个)", "≤20次" and placeholders "…" / "。。。": ledger, stacked(some)

Budget tables
- 3 header rows with spans: twin, ledger;  a header row of column numbers: twin, stacked
- no outer frame: gapped (open sides + no top/bottom), stacked (open sides);
  double rule: union;  thick / bold rule: twin, ledger
- long text in narrow columns (项目支出预算表): union, mixed
- several short tables on one page: gapped, ledger
- row heads with list numerals (收支总表: 一、 （一） 1.): gapped, stacked, mixed
- cells holding "1" and left-aligned numbers starting with "1" near the left rule: stacked

Tables without rulings (issue 18; the truth is still the nominal grid: cell boxes where the rules
would be, so cells are matched by box as for ruled tables)
- no ruling lines at all, budget and KPI tables (TableSpec.rules = "none"): borderless.  Columns
  apart by whitespace only (cell padding, table width, row pitch varied), numbers right-aligned,
  header spans centred over their columns, sometimes a 3rd header row or a column-number row
- 三线表 (rules = "threeline"): threeline.  Thick rule at the top and bottom (thick / bold), a thin
  one under the header band (KPI: under the grid's header row), nothing else; sometimes a thin rule
  at a 合计 / 总计 row (KPI: above the 负责人 … footer); no verticals anywhere
- both: project pages as one table or two with a gap; a 收支总表 / 项目支出预算表 sometimes
- rules fading away on ruled tables is a scan defect, not a family: severity "faded" (degrade.py)
"""
from __future__ import annotations

import copy
import dataclasses
import random
import re
from dataclasses import dataclass, field
from typing import Callable, Optional

from . import vary
from .kpi import FIELD_LABELS, FUND_KEYS, FUND_LABELS, KpiRow, KpiTable
from .spec import CellSpec, DocSpec, TableSpec, Title

KPI_WEIGHTS = [0.075, 0.105, 0.125, 0.21, 0.115, 0.125, 0.16, 0.115]


# ====================================================================== blocks on their own columns
@dataclass
class Block:
    """Rows drawn on their own column boundaries ``fr`` (fractions of the table width, 0 … 1)."""
    fr: list
    n_rows: int = 0
    cells: list = field(default_factory=list)
    header_rows: int = 0

    def add(self, row, col, text="", rs=1, cs=1, align=None, header=False):
        self.cells.append(CellSpec(row, col, rs, cs, text, align=align, header=header))
        self.n_rows = max(self.n_rows, row + rs)

    @property
    def n(self) -> int:
        return len(self.fr) - 1


def fractions(weights) -> list:
    s = float(sum(weights))
    out, acc = [0.0], 0.0
    for w in weights:
        acc += w
        out.append(acc / s)
    out[-1] = 1.0
    return out


def compose(blocks: list, eps: float = 0.03, **kw) -> TableSpec:
    """One ruled table of blocks stacked top to bottom: its grid is the union of the blocks' column
    boundaries (boundaries closer than ``eps`` are one), and every cell spans accordingly."""
    union: list = []
    for f in sorted({round(f, 4) for b in blocks for f in b.fr}):
        if not union or f - union[-1] >= eps:
            union.append(f)
    union[-1] = 1.0

    def idx(f):
        return min(range(len(union)), key=lambda i: abs(union[i] - f))
    cells, off = [], 0
    for b in blocks:
        for c in b.cells:
            k0, k1 = idx(b.fr[c.col]), idx(b.fr[c.col + c.colspan])
            if k1 <= k0:
                raise ValueError(f"block column collapsed in the union grid: {b.fr}")
            cells.append(CellSpec(c.row + off, k0, c.rowspan, k1 - k0, c.text, align=c.align, header=c.header))
        off += b.n_rows
    t = TableSpec(off, len(union) - 1, cells, col_weights=[b - a for a, b in zip(union, union[1:])], **kw)
    t.fill_empty()
    t.validate()
    return t


def offgrid(rng: random.Random, lo_hi: list, ref: list, min_d: float = 0.04) -> list:
    """Column boundaries drawn from the ranges ``lo_hi`` that keep ``min_d`` away from ``ref``."""
    for _ in range(50):
        inner = [rng.uniform(a, b) for a, b in lo_hi]
        if all(abs(f - g) >= min_d for f in inner for g in ref[1:-1]):
            break
    return [0.0] + inner + [1.0]


UPPER_RANGES = {4: [(0.16, 0.23), (0.42, 0.55), (0.6, 0.72)],
                6: [(0.12, 0.18), (0.26, 0.36), (0.42, 0.5), (0.56, 0.64), (0.7, 0.82)]}


# ====================================================================== KPI blocks
def upper_block(kt: KpiTable, n: int, fr: list, stacked: bool = False) -> Block:
    """项目名称 … 总体目标 on ``n`` (4, 6 or 8) columns; 实施期 / 年度 side by side or stacked."""
    b = Block(fr)
    f = kt.fields
    L = 2 if n == 8 else 1
    h = n // 2
    r = 0
    b.add(r, 0, "项目名称", cs=L, header=True)
    b.add(r, L, f.get("项目名称", ""), cs=n - L, align="left")
    r += 1
    for (la, ka), (lb, kb) in ((("主管部门及代码", "主管部门及代码"), ("实施单位", "实施单位")),
                               (("项目属性", "项目属性"), (kt.period_label, "项目期"))):
        b.add(r, 0, la, cs=L, header=True)
        b.add(r, L, f.get(ka, ""), cs=h - L, align="left")
        b.add(r, h, lb, header=True)
        b.add(r, h + 1, f.get(kb, ""), cs=n - h - 1, align="left")
        r += 1
    funds = kt.funds
    if stacked:
        lab_cs = (n - 1) // 2
        b.add(r, 0, kt.fund_label, rs=12, header=True)
        for half, head in (("实施期", "实施期资金总额："), ("年度", "年度资金总额：")):
            for key in FUND_KEYS:
                b.add(r, 1, head if key == "total" else FUND_LABELS[key], cs=lab_cs, align="left")
                b.add(r, 1 + lab_cs, funds.get(half, {}).get(key, ""), cs=n - 1 - lab_cs, align="right")
                r += 1
    else:
        spans = {8: (2, 1, 2, 2), 6: (1, 1, 1, 2), 4: (1, 1, 1, 1)}[n]
        if n == 4:
            b.add(r, 0, kt.fund_label, cs=4, header=True)
            r += 1
            x = 0
        else:
            b.add(r, 0, kt.fund_label, rs=6, header=True)
            x = 1
        for key in FUND_KEYS:
            texts = ("实施期资金总额：" if key == "total" else FUND_LABELS[key],
                     funds.get("实施期", {}).get(key, ""),
                     "年度资金总额：" if key == "total" else FUND_LABELS[key],
                     funds.get("年度", {}).get(key, ""))
            c = x
            for i, (t, cs) in enumerate(zip(texts, spans)):
                b.add(r, c, t, cs=cs, align="right" if i % 2 else "left")
                c += cs
            r += 1
    for lab in FIELD_LABELS[5:]:
        if lab in f:
            b.add(r, 0, lab, cs=L, header=True)
            b.add(r, L, f[lab], cs=n - L, align="left")
            r += 1
    b.add(r, 0, "总体目标", rs=2, header=True)
    if stacked:
        lg = 1 if n < 8 else 2
        for i, (lab, goal) in enumerate((("实施期目标", kt.goals[0]), ("年度目标", kt.goals[1]))):
            b.add(r + i, 1, lab, cs=lg, header=True)
            b.add(r + i, 1 + lg, goal, cs=n - 1 - lg, align="left")
    else:
        a = n // 2
        b.add(r, 1, "实施期目标", cs=a, header=True)
        b.add(r, 1 + a, "年度目标", cs=n - 1 - a, header=True)
        b.add(r + 1, 1, kt.goals[0], cs=a, align="left")
        b.add(r + 1, 1 + a, kt.goals[1], cs=n - 1 - a, align="left")
    return b


def _runs(rows: list, key: Callable) -> list:
    """(start, length) of the runs of equal ``key`` in ``rows``."""
    out, i = [], 0
    while i < len(rows):
        j = i + 1
        while j < len(rows) and key(rows[j]) == key(rows[i]):
            j += 1
        out.append((i, j - i))
        i = j
    return out


def grid_block(rows: list, fr: list, *, triples: int = 2, label: Optional[str] = "绩效指标",
               title_row: Optional[str] = None, l1_merge: bool = True) -> Block:
    """The KPI grid: [label |] 一级 | 二级 | 三级 | 指标值 [| 二级 | 三级 | 指标值].  Without a label
    column the grid may carry a full-width title row instead (e.g. "年度绩效指标")."""
    b = Block(fr)
    x = 1 if label else 0
    heads = ["一级指标", "二级指标", "三级指标", "指标值"] + (["二级指标", "三级指标", "指标值"] if triples == 2 else [])
    assert b.n == x + len(heads), (b.n, x, heads)
    r = 0
    if title_row:
        b.add(r, 0, title_row, cs=b.n, header=True)
        r += 1
    if label:
        b.add(r, 0, label, rs=len(rows) + 1, header=True)
    for c, t in enumerate(heads):
        b.add(r, x + c, t, header=True)
    b.header_rows = r + 1
    r += 1
    merges = [(x + 1, lambda k: (k.l1, k.l2), lambda k: k.l2)]
    if triples == 2:
        merges.append((x + 4, lambda k: (k.l1, k.l2b), lambda k: k.l2b))
    if l1_merge:
        merges.append((x, lambda k: k.l1, lambda k: k.l1))
    else:
        for i, k in enumerate(rows):
            b.add(r + i, x, k.l1)
    for col, key, text in merges:
        for i, n in _runs(rows, key):
            b.add(r + i, col, text(rows[i]), rs=n)
    for i, k in enumerate(rows):
        b.add(r + i, x + 2, k.l3, align="left")
        b.add(r + i, x + 3, k.value, align="center")
        if triples == 2:
            b.add(r + i, x + 5, k.l3b, align="left")
            b.add(r + i, x + 6, k.valueb, align="center")
    return b


FOOTER = ["负责人：", "经办人：", "联系电话：", "填报日期："]


def footer_block(kt: KpiTable, fr: list) -> Block:
    """负责人 | 经办人 | 联系电话 | 填报日期 on the grid's own columns: label and value cells on 8
    columns, else four cells "label value" spread over the columns."""
    b = Block(fr)
    if b.n == 8:
        for c, lab in enumerate(FOOTER):
            b.add(0, 2 * c, lab, header=True)
            b.add(0, 2 * c + 1, kt.footer_values.get(lab, ""))
        return b
    col = 0
    for i, lab in enumerate(FOOTER):
        cs = b.n // 4 + (1 if i < b.n % 4 else 0)
        b.add(0, col, lab + kt.footer_values.get(lab, ""), cs=cs, align="left")
        col += cs
    return b


@dataclass
class KpiLayout:
    """How one family draws a project page; ``sample`` draws one per project."""
    split: str = "one"          # one | shared | gap
    upper_cols: int = 8         # 4 | 6 | 8 (8: lined up with the KPI grid)
    stacked: bool = False       # 实施期 / 年度 one above the other
    triples: int = 2            # 1: the 年度 targets form a second block below
    label_col: bool = True      # the merged 绩效指标 column at the left of the grid
    l1_merge: bool = True
    repeat_header: bool = False  # the grid's header row repeated on the next page
    outer: Optional[str] = None
    rules: Optional[str] = None  # TableSpec.rules: None (ruled grid) | "none" | "threeline"
    footer_rule: bool = False    # threeline: a thin rule above the 负责人 … footer row


def draw_kpi(kt: KpiTable, lay: KpiLayout, rng: random.Random) -> list:
    """The project page as ruled tables (one, or two: project block above the KPI grid)."""
    w = KPI_WEIGHTS if lay.label_col else KPI_WEIGHTS[1:]
    if lay.triples == 1:
        w = ([0.1] if lay.label_col else []) + [0.15, 0.2, 0.35, 0.2]
    kfr = fractions([v * rng.uniform(0.85, 1.15) for v in w])
    if lay.upper_cols != 8:
        ufr = offgrid(rng, UPPER_RANGES[lay.upper_cols], kfr)
    else:   # lined up with an 8-column grid; else the canonical columns over a narrower grid
        ufr = kfr if len(kfr) == 9 else fractions(KPI_WEIGHTS)
    upper = upper_block(kt, lay.upper_cols, ufr, stacked=lay.stacked)
    if lay.triples == 2:
        grids = [grid_block(kt.rows, kfr, label="绩效指标" if lay.label_col else None, l1_merge=lay.l1_merge)]
    else:
        year_rows = [KpiRow(k.l1, k.l2b or k.l2, k.l3b or k.l3, k.valueb or k.value) for k in kt.rows]
        grids = [grid_block(rows, kfr, triples=1, l1_merge=lay.l1_merge,
                            label=f"{half}绩效指标" if lay.label_col else None,
                            title_row=None if lay.label_col else f"{half}绩效指标")
                 for half, rows in (("实施期", kt.rows), ("年度", year_rows))]
    lower = grids + ([footer_block(kt, kfr)] if kt.footer else [])
    head = dict(title=kt.title or None, subtitle_center=kt.year_line, kind="kpi", data=kt, outer=lay.outer)
    if lay.split == "one":
        out = [(compose([upper] + lower, header_rows=0, repeat_header=False, **head), [upper] + lower)]
    else:
        top = compose([upper], header_rows=0, repeat_header=False, keep_together=True, **head)
        bottom = compose(lower, kind="kpi", header_rows=grids[0].header_rows, outer=lay.outer,
                         force_repeat_header=lay.repeat_header, attach=lay.split == "shared")
        out = [(top, [upper]), (bottom, lower)]
    if lay.rules:
        footer = lower[-1] if kt.footer else None
        for t, blocks in out:
            t.rules = lay.rules
            if lay.rules == "threeline":   # thin rules under each grid's header (and above the footer)
                t.hrules, off = [], 0
                for b in blocks:
                    if b.header_rows:
                        t.hrules.append(off + b.header_rows)
                    if b is footer and lay.footer_rule and off:
                        t.hrules.append(off)
                    off += b.n_rows
    return [t for t, _ in out]


# ====================================================================== KPI content variation
_LONG_TAILS = ["及配套设施运行维护与信息化平台升级改造专项资金项目", "（含网络舆情监测、宣传资料印刷及媒体合作）专项经费",
               "暨乡村振兴重点帮扶村基础设施提升与公共服务能力建设项目"]
_UNITS = ["个", "次", "人次", "篇", "期", "台"]


def long_name(kt: KpiTable, rng: random.Random) -> None:
    """A project name of 50+ characters: two lines in its cell on any of the families' grids."""
    a, b = rng.sample(_LONG_TAILS, 2)
    kt.fields["项目名称"] = kt.fields.get("项目名称", "") + a + "及" + b[:rng.randint(12, 20)] + \
        rng.choice(["", "（第二期）", "（续建）"])


def template_targets(kt: KpiTable, rng: random.Random) -> None:
    """Targets as the provincial template writes them ("≥1.00(个)", "≤20次") and placeholders."""
    for k in kt.rows:
        m = re.match(r"^([≥≤]?)(\d+)(个|次|人次|篇|期|台|人)$", k.value)
        if m and rng.random() < 0.7:
            k.value = f"{m.group(1) or '≥'}{int(m.group(2)):.2f}({m.group(3)})"
            k.valueb = k.value
        elif m and rng.random() < 0.5:
            k.value = k.valueb = f"≤{m.group(2)}{m.group(3)}"
    dummies = [i for i, k in enumerate(kt.rows) if not re.search(r"\d", k.value)]
    for i in rng.sample(dummies, min(len(dummies), rng.randint(1, 2))):
        k = kt.rows[i]
        k.value = rng.choice(["…", "。。。"])
        if rng.random() < 0.5:
            k.valueb = k.value
    if not any(re.match(r"^≥\d+\.00\(", k.value) for k in kt.rows) and kt.rows:
        k = kt.rows[0]
        k.value = k.valueb = f"≥{rng.randint(1, 12)}.00({rng.choice(_UNITS)})"


def longer(kt: KpiTable, rng: random.Random, n_rows: int, year: int) -> KpiTable:
    """The same project with at least ``n_rows`` KPI rows (so that the grid runs onto the next page)."""
    code, _, dept = kt.fields.get("主管部门及代码", "001-").partition("-")
    funds, goals, fields, title, year_line = kt.funds, kt.goals, dict(kt.fields), kt.title, kt.year_line
    kt = vary.vary_kpi(rng, kt, dept=dept or kt.fields.get("实施单位", ""), code=code or "001", year=year,
                       n_rows=n_rows)
    kt.funds, kt.goals, kt.fields, kt.title, kt.year_line = funds, goals, fields, title, year_line
    return kt


# ====================================================================== budget tables
KEY_HEADS = {"项目", "科目编码", "科目名称", "项目名称", "部门预算支出经济科目", "支出功能分类科目"}


def deepen_header(t: TableSpec, label: str) -> TableSpec:
    """One more header row on top: the leading key columns grow by a row, the value columns get a
    spanning group head (so the header has 3 rows when it had 2)."""
    c00 = next((c for c in t.cells if c.row == 0 and c.col == 0), None)
    if t.header_rows < 1 or c00 is None or (c00.colspan > 1 and c00.text not in KEY_HEADS):
        return t
    k = c00.colspan if c00.colspan > 1 else 0
    for c in t.cells:
        if c.row == 0 and c.col < k:
            c.rowspan += 1
        else:
            c.row += 1
    t.cells.append(CellSpec(0, k, 1, t.n_cols - k, label, header=True))
    t.n_rows += 1
    t.header_rows += 1
    t.cells.sort(key=lambda c: (c.row, c.col))
    t.validate()
    return t


def number_row(t: TableSpec) -> TableSpec:
    """A header row of column numbers (栏次 | 1 | 2 | …) under the header."""
    h = t.header_rows
    if h < 1:
        return t
    owner = t.owner_grid()
    k = 0
    while k < t.n_cols and t.cells[owner[h - 1][k]].text in KEY_HEADS:
        c = t.cells[owner[h - 1][k]]
        k = c.col + c.colspan
    for c in t.cells:
        if c.row >= h:
            c.row += 1
        elif c.row + c.rowspan > h:   # (a header cell hanging into the body: none in practice)
            c.rowspan += 1
    if k:
        t.cells.append(CellSpec(h, 0, 1, k, "栏次", header=True))
    for i, col in enumerate(range(k, t.n_cols)):
        t.cells.append(CellSpec(h, col, text=str(i + 1), header=True))
    t.n_rows += 1
    t.header_rows += 1
    t.cells.sort(key=lambda c: (c.row, c.col))
    t.validate()
    return t


def _budget_head(year: int, dept: str, title: str, **kw) -> dict:
    return dict(title=f"{year}年{title}", subtitle_left=f"部门名称：{dept}", subtitle_right="单位：万元", kind="budget", **kw)


def summary_table(rng: random.Random, year: int, dept: str, title_prefix: str = "") -> TableSpec:
    """预算收支总表 with row heads that begin with list numerals (一、 （一） 1.)."""
    fa = lambda v: vary.fmt_amount(v / 100) if v else rng.choice(["", "0.00"])  # noqa: E731
    inc = [("一、一般公共预算拨款收入", vary._cents(rng, 50, 900)), ("二、政府性基金预算", 0),
           ("三、国有资本经营预算", 0), ("四、财政专户管理资金收入", 0),
           ("五、单位资金", vary._cents(rng, 0, 30) if rng.random() < 0.4 else 0)]
    total = sum(v for _, v in inc)
    person = int(total * rng.uniform(0.4, 0.7))
    public = int(total * rng.uniform(0.05, 0.15))
    proj = total - person - public
    projs = rng.sample(["专项业务经费", "设备购置费", "宣传经费", "信息化运行维护费", "业务培训经费"], 2)
    p1 = int(proj * rng.uniform(0.3, 0.7))
    exp = [("一、基本支出", person + public), ("（一）人员经费", person), ("（二）公用经费", public),
           ("二、项目支出", proj), (f"1. {projs[0]}", p1), (f"2. {projs[1]}", proj - p1)]
    rows = max(len(inc), len(exp))
    cells = [CellSpec(0, 0, 1, 2, "收入", header=True), CellSpec(0, 2, 1, 2, "支出", header=True)]
    for c, t in enumerate(["项目", "预算数", "项目", "预算数"]):
        cells.append(CellSpec(1, c, text=t, header=True))
    for i in range(rows):
        a = inc[i] if i < len(inc) else ("", None)
        b = exp[i] if i < len(exp) else ("", None)
        cells += [CellSpec(2 + i, 0, text=a[0], align="left"), CellSpec(2 + i, 1, text=fa(a[1]) if a[1] is not None else ""),
                  CellSpec(2 + i, 2, text=b[0], align="left"), CellSpec(2 + i, 3, text=fa(b[1]) if b[1] is not None else "")]
    r = 2 + rows
    cells += [CellSpec(r, 0, text="收入总计", header=True), CellSpec(r, 1, text=fa(total)),
              CellSpec(r, 2, text="支出总计", header=True), CellSpec(r, 3, text=fa(total))]
    t = TableSpec(r + 1, 4, cells, header_rows=2, col_weights=[0.34, 0.16, 0.34, 0.16],
                  **_budget_head(year, dept, f"{title_prefix}预算收支总表"))
    t.validate()
    return t


_LONG_PROJECTS = ["乡村振兴重点帮扶村基础设施提升及公共服务能力建设专项资金", "网络舆情监测服务与信息化平台运行维护及升级改造经费",
                  "办公楼维修改造暨消防安全设施更新项目经费", "全县融媒体中心新闻宣传及重大主题报道专项经费",
                  "机关事业单位人员培训及档案数字化加工服务费"]


def project_table(rng: random.Random, year: int, dept: str, *, yuan: bool = False, left_ones: bool = False) -> TableSpec:
    """项目支出预算表 with long project names in a narrow column (2–3 lines); amounts in 元 written
    left-aligned close to the rule when ``left_ones`` (many start with "1": "1,464,000")."""
    heads = ["项目名称", "项目类型", "合计", "一般公共预算", "政府性基金", "其他资金"]
    cells = [CellSpec(0, c, text=h, header=True) for c, h in enumerate(heads)]
    names = rng.sample(_LONG_PROJECTS, rng.randint(3, 5))
    for i, nm in enumerate(names):
        v = rng.randint(10, 199) * 1000 if yuan else vary._cents(rng, 1, 200)
        if left_ones and (i % 2 == 0):
            v = rng.randint(100, 199) * (10000 if yuan else 100) + rng.randint(0, 9) * (1000 if yuan else 1)
        txt = vary.fmt_yuan(v) if yuan else vary.fmt_amount(v / 100)
        al = "left" if left_ones else None
        cells += [CellSpec(1 + i, 0, text=nm, align="left"), CellSpec(1 + i, 1, text=rng.choice(["经常性项目", "一次性项目"])),
                  CellSpec(1 + i, 2, text=txt, align=al), CellSpec(1 + i, 3, text=txt, align=al),
                  CellSpec(1 + i, 4, text=""), CellSpec(1 + i, 5, text="")]
    t = TableSpec(1 + len(names), 6, cells, header_rows=1,
                  col_weights=[0.15, 0.13, 0.19, 0.19, 0.17, 0.17],
                  cell_pad=0.12 if left_ones else None,
                  **_budget_head(year, dept, "项目支出预算表（本年预算）"))
    if yuan:
        t.subtitle_right = "单位：元"
    t.validate()
    return t


def short_tables(rng: random.Random, year: int, dept: str, ones: bool = False) -> list:
    """Short tables that share a page: the (empty) 政府性基金 / 国有资本 tables, and a vehicles table."""
    out = []
    for ttl, heads in (("政府性基金预算支出表", ["科目编码", "科目名称", "合计", "基本支出", "项目支出"]),
                       ("国有资本经营预算支出表", ["项目", "合计", "基本支出", "项目支出"])):
        n = len(heads)
        cells = [CellSpec(0, c, text=h, header=True) for c, h in enumerate(heads)]
        cells.append(CellSpec(1, 0, 1, n, "注：本表无数据", align="left"))
        out.append(TableSpec(2, n, cells, header_rows=1, **_budget_head(year, dept, ttl)))
    heads = ["公务用车保有量（辆）", "公务用车购置数（辆）", "机关运行经费（万元）", "政府采购预算（万元）"]
    cells = [CellSpec(0, c, text=h, header=True) for c, h in enumerate(heads)]
    vals = ["1" if ones else str(rng.randint(0, 4)), rng.choice(["0", "1"]),
            vary.fmt_amount(vary._cents(rng, 1, 30) / 100), "1" if ones else vary.fmt_amount(vary._cents(rng, 0, 50) / 100)]
    cells += [CellSpec(1, c, text=v) for c, v in enumerate(vals)]
    t = TableSpec(2, 4, cells, header_rows=1, **_budget_head(year, dept, "机关运行经费及公务用车情况表"))
    t.subtitle_right = None
    out.append(t)
    for t in out:
        t.validate()
    return out


# ====================================================================== families
@dataclass
class Family:
    name: str
    doc: str
    kpi: Callable = None                 # (rng) -> KpiLayout
    kpi_content: Callable = None         # (kt, rng, year) -> KpiTable
    budget: Callable = None              # (t, rng) -> None: restyle one budget table in place
    extra: Callable = None               # (rng, year, dept) -> (tables before, tables after the budget tables)
    style_over: Callable = None          # (rng, style) -> dict of Style fields to override

    def apply(self, doc: DocSpec, rng: random.Random) -> DocSpec:
        doc = copy.deepcopy(doc)
        doc.meta["family"] = self.name
        if self.name == "base":
            return doc
        year = int(doc.meta.get("year") or 2024)
        out, first_budget, last_budget = [], None, None
        for b in doc.blocks:
            if isinstance(b, TableSpec) and b.kind == "kpi" and isinstance(b.data, KpiTable):
                kt = copy.deepcopy(b.data)
                if self.kpi_content:
                    kt = self.kpi_content(kt, rng, year) or kt
                out += draw_kpi(kt, self.kpi(rng), rng)
                continue
            if isinstance(b, TableSpec) and b.kind == "budget":
                if self.budget:
                    self.budget(b, rng)
                if first_budget is None:
                    first_budget = len(out)
                last_budget = len(out) + 1
            out.append(b)
        if self.extra and first_budget is not None:
            before, after = self.extra(rng, year, doc.dept)
            for t in before + after:
                if self.budget:
                    self.budget(t, rng)
            out[last_budget:last_budget] = after
            out[first_budget:first_budget] = before
        doc.blocks = out
        return doc

    def style(self, st, rng: random.Random):
        if self.name == "base" or not self.style_over:
            return st
        return dataclasses.replace(st, **self.style_over(rng, st))


def _frame(t: TableSpec, outer=None, open_sides=False, open_tb=False):
    t.outer, t.open_sides, t.open_top_bottom = outer, open_sides, open_tb


# ---- twin: project block and KPI grid as two tables sharing a rule; thick frames, 3-row headers
def _twin_budget(t, rng):
    _frame(t, outer=rng.choice(["thick", "bold"]))
    if t.header_rows == 2 and rng.random() < 0.7:
        deepen_header(t, rng.choice(["本年预算", "预算数", "金额"]))
    if t.header_rows >= 1 and rng.random() < 0.5:
        number_row(t)


# ---- gapped: two tables with a gap; 4-column project block; grid header repeated; open frames
def _gapped_kpi_content(kt, rng, year):
    if rng.random() < 0.4:
        long_name(kt, rng)
    return longer(kt, rng, rng.randint(30, 38), year)


def _gapped_budget(t, rng):
    _frame(t, outer="same", open_sides=True, open_tb=rng.random() < 0.6)


# ---- union: one ruled table on the union of a 6/4-column project block and the 8-column grid
def _union_budget(t, rng):
    _frame(t, outer="double")


# ---- stacked: 实施期 / 年度 stacked, one-triple grid with a 年度 block below
def _stacked_kpi_content(kt, rng, year):
    if rng.random() < 0.5:
        template_targets(kt, rng)
    return kt


def _stacked_budget(t, rng):
    _frame(t, outer="same", open_sides=True)
    if t.header_rows >= 1 and rng.random() < 0.7:
        number_row(t)


# ---- ledger: split with a gap, the grid continued without its header; template targets
def _ledger_kpi_content(kt, rng, year):
    if rng.random() < 0.6:
        kt = longer(kt, rng, rng.randint(26, 34), year)
    template_targets(kt, rng)
    return kt


def _ledger_budget(t, rng):
    _frame(t, outer=rng.choice(["thick", "bold", "same"]))
    if t.header_rows == 2 and rng.random() < 0.6:
        deepen_header(t, rng.choice(["本年预算数", "预算安排"]))


# ---- mixed: every project page drawn another way
def _mixed_kpi(rng):
    split = rng.choice(["one", "shared", "gap"])
    return KpiLayout(split=split, upper_cols=rng.choice([4, 6, 8]), stacked=rng.random() < 0.3,
                     triples=2, label_col=rng.random() < 0.7, l1_merge=rng.random() < 0.5,
                     repeat_header=split != "one" and rng.random() < 0.5,
                     outer="same" if split == "shared" else None)


def _mixed_kpi_content(kt, rng, year):
    if rng.random() < 0.5:
        long_name(kt, rng)
    if rng.random() < 0.4:
        template_targets(kt, rng)
    return kt


def _mixed_budget(t, rng):
    _frame(t, outer=rng.choice([None, "same", "thick", "double"]), open_sides=rng.random() < 0.3)
    if t.header_rows == 2 and rng.random() < 0.3:
        deepen_header(t, "预算数")


# ---- borderless / threeline (issue 18): tables found without their rulings
_TOTAL_RE = re.compile(r"^(合计|总计|收入总计|支出总计|收支总计)$")


def _total_row(t: TableSpec) -> Optional[int]:
    """The first body row whose first cell is a total (合计, 收入总计 …)."""
    for c in sorted(t.cells, key=lambda c: (c.row, c.col)):
        if c.col == 0 and c.row >= t.header_rows and _TOTAL_RE.match(c.text.strip()):
            return c.row
    return None


def _vary_header(t: TableSpec, rng: random.Random) -> None:
    if t.header_rows == 2 and rng.random() < 0.3:
        deepen_header(t, rng.choice(["预算数", "本年预算"]))
    if t.header_rows >= 1 and rng.random() < 0.3:
        number_row(t)


def _borderless_budget(t, rng):
    _vary_header(t, rng)
    t.rules = "none"
    # column gaps (whitespace is all that separates the columns); narrower on wide tables, where a wide
    # padding leaves the amounts too little room and wraps them
    t.cell_pad = rng.uniform(0.3, 0.9) if t.n_cols <= 5 else rng.uniform(0.25, 0.5)


def _threeline_budget(t, rng):
    _vary_header(t, rng)
    t.rules = "threeline"
    t.outer = rng.choice(["thick", "thick", "bold"])
    t.hrules = [t.header_rows] if 0 < t.header_rows < t.n_rows else []
    r = _total_row(t)
    if r is not None and rng.random() < 0.5:
        # a thin rule above the total row; under it when the total is the first body row (the rule above
        # it is the header's)
        r = r if r > t.header_rows else r + 1
        if r < t.n_rows and r not in t.hrules:
            t.hrules.append(r)
    t.cell_pad = rng.uniform(0.35, 0.8) if t.n_cols <= 5 else rng.uniform(0.3, 0.5)


def _no_rule_extra(rng, year, dept):
    return ([summary_table(rng, year, dept)] if rng.random() < 0.5 else [],
            [project_table(rng, year, dept)] if rng.random() < 0.4 else [])


FAMILIES: dict = {}


def _register(f: Family) -> None:
    FAMILIES[f.name] = f


_register(Family("base", "the generator's own drawing (unchanged)"))
_register(Family(
    "twin", "project block (6 or 4 columns) and KPI grid as two ruled tables sharing a rule; budget tables "
            "with thick/bold frames, 3 header rows, a column-number row",
    kpi=lambda rng: KpiLayout(split="shared", upper_cols=rng.choice([6, 6, 4]), outer=rng.choice(["same", "thick"])),
    budget=_twin_budget,
    style_over=lambda rng, st: {"outer": "thick", "text_align": "left"}))
_register(Family(
    "gapped", "project block on 4 columns and KPI grid (no 绩效指标 column) as two tables with a gap, the grid "
              "runs onto the next page with its header repeated; budget tables without outer frame, a 收支总表 "
              "with list numerals, short tables sharing a page",
    kpi=lambda rng: KpiLayout(split="gap", upper_cols=4, label_col=False, repeat_header=True,
                              l1_merge=rng.random() < 0.7),
    kpi_content=_gapped_kpi_content,
    budget=_gapped_budget,
    extra=lambda rng, year, dept: ([summary_table(rng, year, dept)], short_tables(rng, year, dept)),
    style_over=lambda rng, st: {"line_px": max(1, st.line_px // 2), "text_align": "center"}))
_register(Family(
    "union", "one ruled table whose grid is the union of a 6/4-column project block and the 8-column KPI grid; "
             "一级 repeated on every row; long project names; double-ruled budget tables, a 项目支出预算表 with "
             "long names in a narrow column",
    kpi=lambda rng: KpiLayout(split="one", upper_cols=rng.choice([6, 4]), l1_merge=False, outer="same"),
    kpi_content=lambda kt, rng, year: long_name(kt, rng) or kt,
    budget=_union_budget,
    extra=lambda rng, year, dept: ([], [project_table(rng, year, dept)]),
    style_over=lambda rng, st: {"outer": "double"}))
_register(Family(
    "stacked", "实施期 and 年度 one above the other (fund rows, 总体目标) and a one-triple KPI grid with the 年度 "
               "targets as a second block below, in one table or two sharing a rule; budget tables open at the "
               "sides with a column-number row, a 收支总表 with list numerals, '1' cells and left-aligned 元 "
               "amounts close to the rule",
    kpi=lambda rng: KpiLayout(split=rng.choice(["one", "shared"]), upper_cols=rng.choice([8, 6]), stacked=True,
                              triples=1, label_col=rng.random() < 0.6, outer="same"),
    kpi_content=_stacked_kpi_content,
    budget=_stacked_budget,
    extra=lambda rng, year, dept: ([summary_table(rng, year, dept)],
                                   [project_table(rng, year, dept, yuan=True, left_ones=True)]
                                   + short_tables(rng, year, dept, ones=True)[2:]),
    style_over=lambda rng, st: {"text_align": "left"}))
_register(Family(
    "ledger", "provincial template: targets '≥1.00(个)', '≤20次', placeholders '…'/'。。。'; project block on 6 "
              "columns and a long KPI grid in a second table after a gap, continued without its header; "
              "budget tables with 3 header rows and heavy frames, short tables sharing a page",
    kpi=lambda rng: KpiLayout(split="gap", upper_cols=6, l1_merge=rng.random() < 0.5, outer=None),
    kpi_content=_ledger_kpi_content,
    budget=_ledger_budget,
    extra=lambda rng, year, dept: ([], short_tables(rng, year, dept)),
    style_over=lambda rng, st: {"repeat_header": False}))
_register(Family(
    "mixed", "each project page drawn another way (one/two tables, 4/6/8-column project block, 一级 merged or "
             "repeated, long names, template targets); budget frames varied, a 收支总表 and a 项目支出预算表",
    kpi=_mixed_kpi,
    kpi_content=_mixed_kpi_content,
    budget=_mixed_budget,
    extra=lambda rng, year, dept: ([summary_table(rng, year, dept)] if rng.random() < 0.6 else [],
                                   [project_table(rng, year, dept)] if rng.random() < 0.6 else [])))

_register(Family(
    "borderless", "budget and KPI tables with no ruling lines at all: text in the nominal cells, columns "
                  "separated by whitespace only (column gaps, row pitch, width, extra header rows varied); "
                  "project pages as one table or two with a gap; a 收支总表 / 项目支出预算表 sometimes",
    kpi=lambda rng: KpiLayout(split=rng.choice(["one", "gap"]), upper_cols=rng.choice([8, 8, 6, 4]),
                              label_col=rng.random() < 0.6, l1_merge=rng.random() < 0.6, rules="none"),
    kpi_content=lambda kt, rng, year: (long_name(kt, rng) if rng.random() < 0.3 else None) or kt,
    budget=_borderless_budget,
    extra=_no_rule_extra,
    style_over=lambda rng, st: {"row_pad": rng.uniform(0.2, 0.65), "text_align": rng.choice(["left", "left", "center"]),
                                "width_frac": rng.choice([1.0, rng.uniform(0.8, 0.97)])}))
_register(Family(
    "threeline", "三线表: a thick rule at the top, a thin one under the header band, a thick one at the bottom, "
                 "no verticals or inner rules; sometimes a thin rule at a 合计 / 总计 row (above it, or under it "
                 "when it is the first body row); KPI pages likewise (thin rule under the grid header, sometimes "
                 "above the footer), one table or two with a gap",
    kpi=lambda rng: KpiLayout(split=rng.choice(["one", "gap", "gap"]), upper_cols=rng.choice([8, 6, 4]),
                              label_col=rng.random() < 0.6, l1_merge=rng.random() < 0.6,
                              repeat_header=rng.random() < 0.5, outer=rng.choice(["thick", "bold"]),
                              rules="threeline", footer_rule=rng.random() < 0.5),
    budget=_threeline_budget,
    extra=_no_rule_extra,
    style_over=lambda rng, st: {"line_px": max(1, int(round(rng.choice([1, 1, 2]) * st.dpi / 200))),
                                "row_pad": rng.uniform(0.3, 0.6), "text_align": rng.choice(["left", "center"])}))


def names() -> list:
    return list(FAMILIES)


def parse_families(specs) -> list:
    """'all', names and comma lists -> family names (validated, in order, without repeats)."""
    out = []
    for s in specs or []:
        for n in str(s).split(","):
            n = n.strip()
            if not n:
                continue
            for m in (names() if n == "all" else [n]):
                if m not in FAMILIES:
                    raise KeyError(f"unknown layout family {m!r} (known: {', '.join(names())})")
                if m not in out:
                    out.append(m)
    return out
