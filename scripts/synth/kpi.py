"""KPI (绩效目标表) tables: a structured model, a tolerant parser for transcript rows and a
builder that lays the model out on the canonical 8-column grid

    绩效指标 | 一级指标 | 二级指标 | 三级指标 | 指标值 | 二级指标 | 三级指标 | 指标值

with the upper part (项目名称 … 总体目标) merged horizontally and the 一级/二级 columns
merged vertically.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from .spec import CellSpec, TableSpec

LEVEL1 = ["产出指标", "效益指标", "满意度指标", "成本指标"]
LEVEL2 = {
    "产出指标": ["数量指标", "质量指标", "时效指标", "成本指标"],
    "效益指标": ["经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标"],
    "满意度指标": ["服务对象满意度指标"],
    "成本指标": ["经济成本指标", "社会成本指标", "生态环境成本指标"],
}
_L2_ALL = {x for v in LEVEL2.values() for x in v}
_L2_STEMS = sorted({x[:-2] for x in _L2_ALL} | {"服务对象满意度", "服务对象满意度指"}, key=len, reverse=True)

FIELD_LABELS = ["项目名称", "主管部门及代码", "实施单位", "项目属性", "项目期", "项目概况", "立项依据",
                "项目设立必要性", "保证项目实施的制度、措施", "项目实施计划"]
FUND_KEYS = ["total", "中央", "省级", "市县", "自筹", "其他"]
FUND_LABELS = {"total": None, "中央": "其中：中央财政资金", "省级": "省级财政资金",
               "市县": "市县（区）财政资金", "自筹": "单位自筹", "其他": "其他资金"}


@dataclass
class KpiRow:
    l1: str
    l2: str
    l3: str = ""
    value: str = ""
    l2b: str = ""
    l3b: str = ""
    valueb: str = ""


@dataclass
class KpiTable:
    title: str = "项目支出绩效目标表"
    year_line: Optional[str] = "(2023年度)"
    fields: dict = field(default_factory=dict)          # label -> value
    funds: dict = field(default_factory=lambda: {"实施期": {}, "年度": {}})
    goals: tuple = ("", "")
    rows: list = field(default_factory=list)             # list[KpiRow]
    footer: bool = True
    footer_values: dict = field(default_factory=dict)    # 负责人/经办人/联系电话/填报日期 -> value
    fund_label: str = "项目资金（元）"
    period_label: str = "项目期"


def _norm(s: str) -> str:
    s = re.sub(r"\s+", "", s)
    return s.replace("(", "（").replace(")", "）").replace(":", "：")


def _is_l1(tok: str) -> Optional[str]:
    t = _norm(tok)
    for l1 in LEVEL1:
        if t == l1 or t == l1[:-2]:
            return l1
    return None


def _is_l2(tok: str) -> Optional[str]:
    t = _norm(tok)
    for stem in _L2_STEMS:
        if t == stem or t == stem + "指标" or (t.startswith(stem) and len(t) <= len(stem) + 2):
            return tok.strip()
    return None


def parse_rows(rows: list[list[str]]) -> Optional[KpiTable]:
    """Parse ragged transcript rows of one KPI table; None if it does not look like one."""
    kt = KpiTable(title="", year_line=None)
    state = "upper"
    cur_l1 = cur_l2 = cur_l2b = ""
    pending_goal_labels = False
    for raw in rows:
        toks = [t.strip() for t in raw if t.strip()]
        if not toks:
            continue
        n0 = _norm(toks[0])
        if n0.startswith("负责人"):
            kt.footer = True
            state = "done"
            continue
        if state == "done":
            continue
        if any(_norm(t) in ("一级指标",) for t in toks[:3]) or (n0.startswith("绩效指标") and len(toks) >= 4
                                                              and "指标值" in [_norm(t) for t in toks]):
            state = "kpi"
            continue
        if state == "upper":
            if n0 == "项目名称" and len(toks) >= 2:
                kt.fields["项目名称"] = toks[1]
            elif n0.startswith("主管部门"):
                kt.fields["主管部门及代码"] = toks[1] if len(toks) > 1 else ""
                if len(toks) >= 4 and _norm(toks[2]).startswith("实施单位"):
                    kt.fields["实施单位"] = toks[3]
            elif n0 == "项目属性":
                kt.fields["项目属性"] = toks[1] if len(toks) > 1 else ""
                if len(toks) >= 4:
                    kt.fields["项目期"] = toks[3]
            elif n0.startswith("项目资金") or n0.startswith("实施期资金") or n0.startswith("其中") or \
                    n0.startswith("省级") or n0.startswith("市县") or n0.startswith("中县") or \
                    n0.startswith("单位自筹") or n0.startswith("其他资金"):
                lab_toks = toks[1:] if n0.startswith("项目资金") else toks
                pairs = []
                i = 0
                while i < len(lab_toks):
                    lab = _norm(lab_toks[i])
                    val = lab_toks[i + 1] if i + 1 < len(lab_toks) and re.match(r"^[\d,.]+$", lab_toks[i + 1]) else ""
                    pairs.append((lab, val))
                    i += 2 if val else 1
                for half, (lab, val) in zip(("实施期", "年度"), pairs):
                    key = ("total" if "总额" in lab else "中央" if "中央" in lab else "省级" if "省级" in lab
                           else "市县" if ("市县" in lab or "中县" in lab) else "自筹" if "自筹" in lab
                           else "其他" if "其他" in lab else None)
                    if key:
                        kt.funds[half][key] = val
            elif n0 in ("项目概况", "立项依据", "项目设立必要性", "项目实施计划") or n0.startswith("保证项目"):
                lab = "保证项目实施的制度、措施" if n0.startswith("保证项目") else n0
                kt.fields[lab] = toks[1] if len(toks) > 1 else ""
            elif n0 == "总体目标":
                a = toks[1] if len(toks) > 1 else ""
                b = toks[2] if len(toks) > 2 else a
                kt.goals = (a, b)
            continue
        if state == "kpi":
            toks = [t for t in toks if _norm(t) not in ("绩效指标", "绩效指")]
            if not toks:
                continue
            l1 = _is_l1(toks[0])
            if l1:
                cur_l1 = l1
                toks = toks[1:]
                cur_l2 = cur_l2b = ""
            if not cur_l1:
                continue
            # split into halves at L2 tokens
            segs: list[list[str]] = [[]]
            heads: list[Optional[str]] = [None]
            for t in toks:
                if _is_l2(t):
                    segs.append([])
                    heads.append(t)
                else:
                    segs[-1].append(t)
            if not segs[0]:
                segs, heads = segs[1:], heads[1:]
            if not segs:
                continue
            if len(segs) == 1 and heads[0] is None and len(segs[0]) == 4:
                segs, heads = [segs[0][:2], segs[0][2:]], [None, None]
            if len(segs) > 2:
                segs, heads = segs[:2], heads[:2]

            def pair(s):
                if len(s) >= 2:
                    return s[0], s[1]
                if len(s) == 1:
                    return ("", s[0]) if _looks_value(s[0]) else (s[0], "")
                return "", ""
            h0 = heads[0]
            if h0:
                cur_l2 = h0
            a3, av = pair(segs[0])
            if len(segs) > 1:
                if heads[1]:
                    cur_l2b = heads[1]
                b3, bv = pair(segs[1])
            else:
                cur_l2b = cur_l2b or cur_l2
                if h0:
                    cur_l2b = h0
                b3, bv = a3, av
            if not cur_l2:
                cur_l2 = LEVEL2.get(cur_l1, ["数量指标"])[0]
            kt.rows.append(KpiRow(cur_l1, cur_l2, a3, av, cur_l2b or cur_l2, b3, bv))
    if "项目名称" not in kt.fields or len(kt.rows) < 3:
        return None
    return kt


_VALUE_RE = re.compile(r"^([≥≤<>=＞＜]*\s*[\d.,]+\s*[%％\w/]{0,6}|\d{4}年.*|[≥≤<>].*)$")


def _looks_value(s: str) -> bool:
    return bool(_VALUE_RE.match(s.strip())) or len(s.strip()) <= 3


# --------------------------------------------------------------------------------------
def build_table(kt: KpiTable, *, style: Optional[dict] = None) -> TableSpec:
    """Lay a KpiTable out on the canonical 8-column grid."""
    style = style or {}
    cells: list[CellSpec] = []
    r = 0
    N = 8

    def add(row, col, text, rs=1, cs=1, align=None, header=False):
        cells.append(CellSpec(row, col, rs, cs, text, align=align, header=header))

    f = kt.fields
    add(r, 0, "项目名称", cs=2, header=True)
    add(r, 2, f.get("项目名称", ""), cs=6, align="left")
    r += 1
    add(r, 0, "主管部门及代码", cs=2, header=True)
    add(r, 2, f.get("主管部门及代码", ""), cs=2, align="left")
    add(r, 4, "实施单位", header=True)
    add(r, 5, f.get("实施单位", ""), cs=3, align="left")
    r += 1
    add(r, 0, "项目属性", cs=2, header=True)
    add(r, 2, f.get("项目属性", ""), cs=2, align="left")
    add(r, 4, kt.period_label, header=True)
    add(r, 5, f.get("项目期", ""), cs=3, align="left")
    r += 1
    # funds: 6 rows
    add(r, 0, kt.fund_label, rs=6, header=True)
    for i, key in enumerate(FUND_KEYS):
        lab_a = "实施期资金总额：" if key == "total" else FUND_LABELS[key]
        lab_b = "年度资金总额：" if key == "total" else FUND_LABELS[key]
        add(r + i, 1, lab_a, cs=2, align="left")
        add(r + i, 3, kt.funds.get("实施期", {}).get(key, ""), align="right")
        add(r + i, 4, lab_b, cs=2, align="left")
        add(r + i, 6, kt.funds.get("年度", {}).get(key, ""), cs=2, align="right")
    r += 6
    for lab in ["项目概况", "立项依据", "项目设立必要性", "保证项目实施的制度、措施", "项目实施计划"]:
        if lab in f:
            add(r, 0, lab, cs=2, header=True)
            add(r, 2, f.get(lab, ""), cs=6, align="left")
            r += 1
    add(r, 0, "总体目标", rs=2, header=True)
    add(r, 1, "实施期目标", cs=4, header=True)
    add(r, 5, "年度目标", cs=3, header=True)
    add(r + 1, 1, kt.goals[0], cs=4, align="left")
    add(r + 1, 5, kt.goals[1], cs=3, align="left")
    r += 2
    kpi_top = r
    n_kpi = len(kt.rows) + 1
    add(r, 0, "绩效指标", rs=n_kpi, header=True)
    for c, t in enumerate(["一级指标", "二级指标", "三级指标", "指标值", "二级指标", "三级指标", "指标值"], start=1):
        add(r, c, t, header=True)
    r += 1
    rows = kt.rows
    # vertical merges of 一级 (col 1), 二级 (col 2) and 年度 二级 (col 5)
    for col, keyf in ((1, lambda k: (k.l1,)), (2, lambda k: (k.l1, k.l2)), (5, lambda k: (k.l1, k.l2b))):
        i = 0
        while i < len(rows):
            j = i + 1
            while j < len(rows) and keyf(rows[j]) == keyf(rows[i]):
                j += 1
            text = rows[i].l1 if col == 1 else rows[i].l2 if col == 2 else rows[i].l2b
            add(r + i, col, text, rs=j - i)
            i = j
    for i, k in enumerate(rows):
        add(r + i, 3, k.l3, align="left")
        add(r + i, 4, k.value, align="center")
        add(r + i, 6, k.l3b, align="left")
        add(r + i, 7, k.valueb, align="center")
    r += len(rows)
    if kt.footer:
        fv = kt.footer_values
        for c, lab in enumerate(["负责人：", "经办人：", "联系电话：", "填报日期："]):
            add(r, 2 * c, lab, header=True)
            add(r, 2 * c + 1, fv.get(lab, ""))
        r += 1
    t = TableSpec(r, N, cells, title=kt.title or None, subtitle_center=kt.year_line, kind="kpi",
                  header_rows=0, repeat_header=False,
                  col_weights=style.get("kpi_weights", [0.075, 0.105, 0.125, 0.21, 0.115, 0.125, 0.16, 0.115]),
                  data=kt)
    t.meta_kpi_top = kpi_top  # type: ignore[attr-defined]
    t.fill_empty()
    t.validate()
    return t
