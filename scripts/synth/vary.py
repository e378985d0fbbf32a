"""Variation: new names and numbers for seed documents, and wholly synthetic documents.

Everything takes a ``random.Random`` so a document is a pure function of its integer seed.
"""
from __future__ import annotations

import copy
import random
import re
from typing import Optional

from . import kpi as kpimod
from .kpi import KpiRow, KpiTable
from .spec import CellSpec, DocSpec, PageBreak, Paragraph, TableSpec, Title

# ------------------------------------------------------------------ names
_P1 = "汾岚临平安长清永宁新和兴定泽阳嘉云河静交文中孝柳石方寿昔榆襄沁翼浮古洪灵繁代原忻偏保神武广阳高蒲"
_P2 = "阳城水平安川宁远乡源山泉州丰和定台谷林西东南北关城陵泽武德顺"
_PREF = ["吕梁", "晋中", "临汾", "长治", "运城", "忻州", "大同", "朔州", "阳泉", "晋城", "太原"]
_CORES = [
    ("财政", ["局"]), ("教育", ["局", "科技局"]), ("交通运输", ["局"]), ("农业农村", ["局"]),
    ("文化和旅游", ["局"]), ("卫生健康", ["局", "委员会"]), ("自然资源", ["局"]), ("住房和城乡建设", ["局"]),
    ("市场监督管理", ["局"]), ("人力资源和社会保障", ["局"]), ("融媒体", ["中心"]), ("对外交流服务", ["中心"]),
    ("宣传信息", ["中心"]), ("档案", ["馆", "局"]), ("统计", ["局"]), ("应急管理", ["局"]), ("生态环境", ["分局"]),
    ("水利", ["局"]), ("林业", ["局", "服务中心"]), ("民政", ["局"]), ("司法", ["局"]), ("商务", ["局"]),
    ("退役军人事务", ["局"]), ("医疗保障", ["局"]), ("审计", ["局"]), ("信访", ["局"]), ("机关事务服务", ["中心"]),
    ("政务服务", ["中心"]), ("就业服务", ["中心"]), ("疾病预防控制", ["中心"]), ("文物保护", ["中心"]),
    ("人民政府", ["办公室"]), ("党史研究", ["室"]), ("城市管理", ["局"]), ("科学技术", ["协会"]),
    ("乡村振兴", ["服务中心"]), ("粮食和物资储备", ["中心"]), ("不动产登记", ["中心"]),
]


def make_place(rng: random.Random) -> tuple[str, str]:
    """(place, stem): e.g. ("和川县", "和川")."""
    stem = rng.choice(_P1) + (rng.choice(_P2) if rng.random() < 0.85 else "")
    suffix = rng.choice(["县", "县", "县", "市", "区"])
    return stem + suffix, stem


def make_dept(rng: random.Random, place: Optional[str] = None) -> str:
    place = place or make_place(rng)[0]
    core, sufs = rng.choice(_CORES)
    return place + core + rng.choice(sufs)


# ------------------------------------------------------------------ numbers
def fmt_amount(v: float, sep: bool = True) -> str:
    return f"{v:,.2f}" if sep else f"{v:.2f}"


def fmt_yuan(v: int) -> str:
    return f"{v:,}"


_AMT_RE = re.compile(r"^-?\d{1,3}(,\d{3})*(\.\d+)?$|^-?\d+(\.\d+)?$")


def scale_amount_text(t: str, f: float) -> str:
    s = t.strip()
    if not s or not _AMT_RE.match(s):
        return t
    v = float(s.replace(",", ""))
    if v == 0:
        return t
    dec = len(s.split(".")[1]) if "." in s else 0
    nv = v * f
    if dec == 0:
        return f"{int(round(nv)):,}" if "," in s or nv >= 1000 else str(int(round(nv)))
    return f"{nv:,.{dec}f}"


# ------------------------------------------------------------------ KPI pools
_L3_POOL = {
    "数量指标": [("宣传报道数量", "{n}篇", (50, 600)), ("培训人次", "{n}人次", (20, 500)), ("设备购置数量", "{n}台", (1, 30)),
             ("专题节目制作", "{n}期", (4, 52)), ("覆盖乡镇数", "{n}个", (3, 24)), ("检查次数", "≥{n}次", (2, 40)),
             ("公务出行人数", "≤{n}人", (3, 30)), ("发放补贴人数", "{n}人", (2, 200)), ("维修维护次数", "≤{n}次", (2, 20))],
    "质量指标": [("验收合格率", "{p}%", None), ("资料归档完整率", "≥{p}%", None), ("报销流程合规性", "合规", None),
             ("刊发新闻达标率", "{p}%", None), ("补贴标准执行率", "{p}%", None), ("设备完好率", "≥{p}%", None)],
    "时效指标": [("完成时间", "{y}年12月", None), ("资金拨付及时率", "{p}%", None), ("采访及发稿及时性", "及时", None),
             ("项目实施期限", "{y}年{m}月至{m2}月", None), ("补贴发放时效", "按月发放", None)],
    "成本指标": [("服务费", "{w}万元", (1, 60)), ("设备购置成本", "≤{w}万元", (1, 40)), ("印刷费", "{w}万元", (1, 10)),
             ("运行费", "{w}万元", (1, 20)), ("补贴标准", "{n}元", (500, 3000))],
    "经济效益指标": [("带动相关产业发展", "有效带动", None), ("节约运行成本", "降低", None)],
    "社会效益指标": [("社会公众知晓率", "≥{p}%", None), ("营造良好舆论环境", "良好", None), ("提升公共服务水平", "提升", None),
               ("保障单位正常运转", "有效保障", None)],
    "生态效益指标": [("节能降耗", "有效", None), ("改善生态环境", "改善", None)],
    "可持续影响指标": [("长效管理机制", "健全", None), ("持续发挥作用年限", "≥{n}年", (2, 10)), ("工作可持续性", "可持续", None)],
    "服务对象满意度指标": [("群众满意度", "≥{p}%", None), ("职工满意度", "≥{p}%", None), ("服务对象满意度", "≥{p}%", None),
                  ("读者满意度", "≥{p}%", None)],
    "经济成本指标": [("项目总成本", "≤{w}万元", (5, 80))],
    "社会成本指标": [("社会成本", "无", None)],
    "生态环境成本指标": [("生态环境成本", "无", None)],
}


def _kpi_value(rng: random.Random, tmpl: str, rngspec, year: int) -> str:
    m = rng.randint(1, 9)
    return tmpl.format(n=rng.randint(*(rngspec or (1, 50))), p=rng.choice([80, 85, 90, 95, 98, 100, 100]),
                       w=rng.choice([round(rng.uniform(*(rngspec or (1, 30))), rng.choice([0, 1, 2]))]),
                       y=year, m=m, m2=min(12, m + rng.randint(1, 3))).replace(".0万", "万")


def regen_kpi_value(rng: random.Random, v: str, year: int) -> str:
    """A new value of the same shape as ``v``."""
    s = v.strip()
    m = re.match(r"^(\d{4})年(.*)$", s)
    if m:
        return f"{year}年{m.group(2)}"
    m = re.match(r"^([≥≤<>＞＜=]*)\s*([\d.,]+)\s*(%|％)$", s)
    if m:
        return f"{m.group(1)}{rng.choice([80, 85, 90, 95, 96, 98, 99, 100])}{m.group(3)}"
    m = re.match(r"^([≥≤<>＞＜=]*)\s*([\d.,]+)\s*(\S{0,6})$", s)
    if m:
        num = m.group(2).replace(",", "")
        try:
            x = float(num)
        except ValueError:
            return v
        nx = x * rng.uniform(0.5, 2.0)
        if "." in num:
            ns = f"{nx:.{len(num.split('.')[1])}f}"
        else:
            ns = str(max(1, int(round(nx))))
            if "," in m.group(2):
                ns = f"{int(ns):,}"
        return f"{m.group(1)}{ns}{m.group(3)}"
    m = re.match(r"^(\d{4})年(.*)$", s)
    if m:
        return f"{year}年{m.group(2)}"
    return v


def vary_kpi(rng: random.Random, kt: KpiTable, *, dept: str, code: str, year: int,
             n_rows: Optional[int] = None) -> KpiTable:
    kt = copy.deepcopy(kt)
    kt.fields["主管部门及代码"] = f"{code}-{dept}"
    kt.fields["实施单位"] = dept
    if kt.year_line:
        kt.year_line = re.sub(r"\d{4}", str(year), kt.year_line)
    # funds: new total, same split pattern
    total = rng.choice([rng.randint(1, 99) * 1000, rng.randint(10, 900) * 1000, rng.randint(1, 60) * 10000])
    for half in ("实施期", "年度"):
        fd = kt.funds.setdefault(half, {})
        old_total = _num(fd.get("total", "")) or 0
        newfd = {}
        parts = {k: _num(fd.get(k, "")) for k in kpimod.FUND_KEYS[1:]}
        if old_total and any(parts.values()):
            acc = 0
            keys = [k for k in parts if parts[k]]
            for k in keys[:-1]:
                nv = int(round(parts[k] / old_total * total))
                newfd[k] = fmt_yuan(nv)
                acc += nv
            newfd[keys[-1]] = fmt_yuan(total - acc)
        else:
            newfd["市县"] = fmt_yuan(total)
        for k in kpimod.FUND_KEYS[1:]:
            if k not in newfd:
                newfd[k] = "0" if (fd.get(k, "0") != "" or rng.random() < 0.5) else ""
        newfd["total"] = fmt_yuan(total)
        kt.funds[half] = newfd
    # rows: shuffle inside (l1, l2) groups, drop / add some
    rows = kt.rows
    groups: dict = {}
    order = []
    for r in rows:
        key = (r.l1, r.l2)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)
    new_rows = []
    for key in order:
        g = groups[key][:]
        rng.shuffle(g)
        if len(g) > 1 and rng.random() < 0.4:
            g = g[: rng.randint(1, len(g))]
        l2n = kpimod._norm(key[1])
        pool = next((v for k, v in _L3_POOL.items() if k.startswith(l2n[:4])), None)
        if pool and rng.random() < 0.35:
            for _ in range(rng.randint(1, 2)):
                name, tmpl, sp = rng.choice(pool)
                if any(r.l3 == name for r in g):
                    continue
                val = _kpi_value(rng, tmpl, sp, year)
                g.append(KpiRow(key[0], key[1], name, val, g[0].l2b, name, val))
        for r in g:
            if r.value:
                r.value = regen_kpi_value(rng, r.value, year)
                r.valueb = r.value if rng.random() < 0.8 or not r.valueb else regen_kpi_value(rng, r.valueb, year)
        new_rows.extend(g)
    if n_rows:
        while len(new_rows) < n_rows:
            i = rng.randrange(len(new_rows))
            base = new_rows[i]
            l2n = kpimod._norm(base.l2)
            pool = next((v for k, v in _L3_POOL.items() if k.startswith(l2n[:4])), _L3_POOL["数量指标"])
            name, tmpl, sp = rng.choice(pool)
            if any(r.l3 == name and r.l2 == base.l2 for r in new_rows) and rng.random() < 0.9:
                continue
            val = _kpi_value(rng, tmpl, sp, year)
            new_rows.insert(i + 1, KpiRow(base.l1, base.l2, name, val, base.l2b, name, val))
    kt.rows = new_rows
    kt.footer_values = {"填报日期：": f"{year - 1 if rng.random() < 0.6 else year}"
                                     f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
                                     f"{rng.randint(8, 18):02d}{rng.randint(0, 59):02d}{rng.randint(0, 59):02d}"}
    return kt


def _num(s: str) -> float:
    try:
        return float(str(s).replace(",", ""))
    except ValueError:
        return 0.0


# ------------------------------------------------------------------ seed variation
def vary_doc(doc: DocSpec, rng: random.Random) -> DocSpec:
    doc = copy.deepcopy(doc)
    old_dept = doc.dept or ""
    m = re.match(r"^(.{1,11}?(?:市|县|区))", old_dept)
    old_place = m.group(1) if m else ""
    old_stem = old_place[:-1] if len(old_place) >= 3 else ""
    place, stem = make_place(rng)
    core = old_dept[len(old_place):] if old_place else ""
    new_dept = (place + core) if core and rng.random() < 0.5 else make_dept(rng, place)
    years = [int(y) for b in doc.blocks if isinstance(b, (Title, Paragraph)) for y in re.findall(r"(20[12]\d)年", b.text)]
    base_year = max(set(years), key=years.count) if years else 2024
    year_shift = max(-4, min(2025 - base_year, rng.choice([0, 0, -1, 1, 2, -2])))
    code = f"{rng.randint(1, 999):03d}"
    amt_f = rng.uniform(0.3, 3.0)
    subs = [(old_dept, new_dept)] if old_dept else []
    if old_place:
        subs.append((old_place, place))
    if old_stem and len(old_stem) >= 2:
        subs.append((old_stem, stem))

    def fix(t: Optional[str]) -> Optional[str]:
        if not t:
            return t
        for a, b in subs:
            t = t.replace(a, b)
        t = re.sub(r"\b\d{3}-(?=\S)", code + "-", t)
        if year_shift:
            t = re.sub(r"(20[12]\d)(?=年)", lambda mm: str(int(mm.group(1)) + year_shift), t)
        return t

    def fix_prose_numbers(t: str) -> str:
        t = re.sub(r"(\d[\d,]*\.\d+)(?=万元)", lambda mm: scale_amount_text(mm.group(1), amt_f), t)
        t = re.sub(r"(\d+\.\d+)%", lambda mm: f"{rng.uniform(0.5, 60):.2f}%", t)
        return t

    year = base_year + year_shift
    out = []
    for b in doc.blocks:
        if isinstance(b, (Title, Paragraph)):
            b.text = fix(b.text)
            if isinstance(b, Paragraph):
                b.text = fix_prose_numbers(b.text)
            out.append(b)
        elif isinstance(b, TableSpec):
            if b.kind == "kpi" and isinstance(b.data, KpiTable):
                kt = b.data
                kt.title = fix(kt.title)
                kt.fields = {k: fix(v) for k, v in kt.fields.items()}
                kt.goals = tuple(fix(g) for g in kt.goals)
                for r in kt.rows:
                    r.l3, r.l3b = fix(r.l3), fix(r.l3b)
                nk = vary_kpi(rng, kt, dept=new_dept, code=code, year=year)
                nb = kpimod.build_table(nk)
                out.append(nb)
            else:
                for a in ("title", "subtitle_left", "subtitle_right", "subtitle_center"):
                    setattr(b, a, fix(getattr(b, a)))
                for c in b.cells:
                    if c.row >= b.header_rows:
                        c.text = scale_amount_text(c.text, amt_f)
                    c.text = fix(c.text)
                out.append(b)
        else:
            out.append(b)
    doc.blocks = out
    doc.dept = new_dept
    doc.meta.update(place=place, year=year)
    return doc


# ------------------------------------------------------------------ synthetic budget tables
FUNC_CLASS = [
    ("201", "一般公共服务支出", [
        ("20101", "人大事务", [("2010101", "行政运行"), ("2010102", "一般行政管理事务")]),
        ("20103", "政府办公厅（室）及相关机构事务", [("2010301", "行政运行"), ("2010350", "事业运行")]),
        ("20131", "党委办公厅（室）及相关机构事务", [("2013101", "行政运行"), ("2013105", "专项业务"), ("2013150", "事业运行")]),
        ("20133", "宣传事务", [("2013301", "行政运行"), ("2013302", "一般行政管理事务"), ("2013350", "事业运行")]),
    ]),
    ("205", "教育支出", [("20502", "普通教育", [("2050201", "学前教育"), ("2050202", "小学教育"), ("2050203", "初中教育")])]),
    ("207", "文化旅游体育与传媒支出", [
        ("20701", "文化和旅游", [("2070101", "行政运行"), ("2070109", "群众文化")]),
        ("20708", "广播电视", [("2070808", "广播电视事务"), ("2070899", "其他广播电视支出")]),
    ]),
    ("208", "社会保障和就业支出", [
        ("20805", "行政事业单位养老支出", [("2080505", "机关事业单位基本养老保险缴费支出"),
                                  ("2080506", "机关事业单位职业年金缴费支出")]),
        ("20808", "抚恤", [("2080801", "死亡抚恤")]),
    ]),
    ("210", "卫生健康支出", [("21011", "行政事业单位医疗", [("2101101", "行政单位医疗"), ("2101102", "事业单位医疗"),
                                                   ("2101103", "公务员医疗补助")])]),
    ("213", "农林水支出", [("21301", "农业农村", [("2130101", "行政运行"), ("2130104", "事业运行")]),
                      ("21305", "巩固脱贫攻坚成果衔接乡村振兴", [("2130505", "生产发展")])]),
    ("221", "住房保障支出", [("22102", "住房改革支出", [("2210201", "住房公积金"), ("2210203", "购房补贴")])]),
]

ECON_CLASS = [
    ("301", "工资福利支出", [("30101", "基本工资"), ("30102", "津贴补贴"), ("30103", "奖金"), ("30107", "绩效工资"),
                        ("30108", "机关事业单位基本养老保险缴费"), ("30110", "职工基本医疗保险缴费"), ("30113", "住房公积金")]),
    ("302", "商品和服务支出", [("30201", "办公费"), ("30205", "水费"), ("30206", "电费"), ("30207", "邮电费"),
                         ("30211", "差旅费"), ("30217", "公务接待费"), ("30228", "工会经费"), ("30229", "福利费"),
                         ("30231", "公务用车运行维护费"), ("30239", "其他交通费用")]),
    ("303", "对个人和家庭的补助", [("30302", "退休费"), ("30305", "生活补助")]),
]


def _sample_func_rows(rng: random.Random, n_cls: Optional[int] = None):
    cls = rng.sample(FUNC_CLASS, n_cls or rng.randint(2, 4))
    cls.sort(key=lambda x: x[0])
    out = []
    for code, name, kuans in cls:
        ks = sorted(rng.sample(kuans, rng.randint(1, min(2, len(kuans)))))
        kk = []
        for kc, kn, xs in ks:
            xs2 = sorted(rng.sample(xs, rng.randint(1, len(xs))))
            kk.append((kc, kn, xs2))
        out.append((code, name, kk))
    return out


def _cents(rng, lo, hi):
    return rng.randint(int(lo * 100), int(hi * 100))


def synth_budget_table(rng: random.Random, kind: str, *, year: int, dept: str, sep: bool = True,
                       title_prefix: str = "", n_cls: Optional[int] = None) -> TableSpec:
    """kind: 'expense' (支出总表), 'income' (收入总表), 'econ' (基本支出经济科目), 'sangong' (三公)."""
    unit = "单位：万元"
    cells: list[CellSpec] = []
    H = lambda r, c, t, rs=1, cs=1: cells.append(CellSpec(r, c, rs, cs, t, header=True))  # noqa: E731
    fa = lambda x: fmt_amount(x / 100, sep) if x else rng.choice(["", "", "0.00"])  # noqa: E731
    if kind == "sangong":
        H(0, 0, "合计", rs=2); H(0, 1, "因公出国（境）费", rs=2); H(0, 2, "公务接待费", rs=2)
        H(0, 3, "公务用车购置及运行费", cs=3); H(1, 3, "小计"); H(1, 4, "公务用车购置费"); H(1, 5, "公务用车运行费")
        jd = _cents(rng, 0, 3)
        yx = _cents(rng, 0, 8)
        gz = 0 if rng.random() < 0.8 else _cents(rng, 5, 30)
        vals = [jd + yx + gz, 0, jd, yx + gz, gz, yx]
        for c, v in enumerate(vals):
            cells.append(CellSpec(2, c, text=fa(v)))
        t = TableSpec(3, 6, cells, title=f"{title_prefix}{year}年一般公共预算“三公”经费支出预算表", header_rows=2)
    elif kind == "econ":
        H(0, 0, "部门预算支出经济科目", cs=2); H(0, 2, f"{year}年基本支出", cs=3)
        H(1, 0, "科目编码"); H(1, 1, "科目名称"); H(1, 2, "合计"); H(1, 3, "人员经费"); H(1, 4, "公用经费")
        rows = []
        tot = [0, 0]
        for code, name, items in ECON_CLASS:
            its = sorted(rng.sample(items, rng.randint(2, min(6, len(items)))))
            sub = []
            for ic, iname in its:
                v = _cents(rng, 0.2, 60 if code == "301" else 8)
                pair = (v, 0) if code in ("301", "303") else (0, v)
                sub.append((ic, iname, pair))
            s = (sum(x[2][0] for x in sub), sum(x[2][1] for x in sub))
            rows.append((code, name, s))
            rows.extend(sub)
            tot = [tot[0] + s[0], tot[1] + s[1]]
        r = 2
        cells.append(CellSpec(r, 0, 1, 2, "合计", align="center"))
        for c, v in zip((2, 3, 4), (tot[0] + tot[1], tot[0], tot[1])):
            cells.append(CellSpec(r, c, text=fa(v)))
        r += 1
        for code, name, (a, b) in rows:
            for c, t in enumerate([code, name, fa(a + b), fa(a), fa(b)]):
                cells.append(CellSpec(r, c, text=t))
            r += 1
        t = TableSpec(r, 5, cells, title=f"{title_prefix}{year}年一般公共预算基本支出预算表", header_rows=2)
    else:
        fr = _sample_func_rows(rng, n_cls)
        if kind == "income":
            heads = ["合计", "一般公共预算", "政府性基金预算", "国有资本经营预算", "财政专户管理资金", "单位资金"]
            H(0, 0, "项目", cs=2); H(0, 2, "本年收入", cs=len(heads)); H(0, 2 + len(heads), "上年结转", rs=2)
            H(1, 0, "科目编码"); H(1, 1, "科目名称")
            for i, h in enumerate(heads):
                H(1, 2 + i, h)
            ncols = 3 + len(heads)
        else:
            heads = ["合计", "基本支出", "项目支出"]
            H(0, 0, "项目", cs=2); H(0, 2, f"{year}年预算数", cs=3)
            H(1, 0, "科目编码"); H(1, 1, "科目名称")
            for i, h in enumerate(heads):
                H(1, 2 + i, h)
            ncols = 5
        body = []  # (code, name, vector)
        nv = ncols - 2

        def leafvec():
            if kind == "income":
                a = _cents(rng, 0.5, 250)
                v = [0] * nv
                v[1] = a
                if rng.random() < 0.15:
                    v[5] = _cents(rng, 0.5, 20)
                if rng.random() < 0.1:
                    v[6] = _cents(rng, 0.5, 20)
                v[0] = sum(v[1:6])
                return v
            b = _cents(rng, 0, 120) if rng.random() < 0.7 else 0
            p = _cents(rng, 0, 150) if (rng.random() < 0.5 or not b) else 0
            return [b + p, b, p]
        grand = [0] * nv
        for code, name, kuans in fr:
            cv = [0] * nv
            crow = len(body)
            body.append([code, name, None])
            for kc, kn, xs in kuans:
                kv = [0] * nv
                krow = len(body)
                body.append([kc, kn, None])
                for xc, xn in xs:
                    lv = leafvec()
                    body.append([xc, xn, lv])
                    kv = [a + b for a, b in zip(kv, lv)]
                body[krow][2] = kv
                cv = [a + b for a, b in zip(cv, kv)]
            body[crow][2] = cv
            grand = [a + b for a, b in zip(grand, cv)]
        r = 2
        cells.append(CellSpec(r, 0, 1, 2, "合计", align="center"))
        for i, v in enumerate(grand):
            cells.append(CellSpec(r, 2 + i, text=fa(v)))
        r += 1
        for code, name, vec in body:
            cells.append(CellSpec(r, 0, text=code, align="left"))
            cells.append(CellSpec(r, 1, text=name, align="left"))
            for i, v in enumerate(vec):
                cells.append(CellSpec(r, 2 + i, text=fa(v)))
            r += 1
        ttl = "预算收入总表" if kind == "income" else "预算支出总表"
        t = TableSpec(r, ncols, cells, title=f"{title_prefix}{year}年{ttl}", header_rows=2)
    t.subtitle_left = f"部门名称：{dept}"
    t.subtitle_right = unit
    t.kind = "budget"
    t.fill_empty()
    t.validate()
    return t


def synth_kpi_table(rng: random.Random, *, dept: str, code: str, year: int, n_rows: Optional[int] = None,
                    title: Optional[str] = None) -> TableSpec:
    projects = ["专项业务经费", "公务出行及其他交通费", "媒体合作与宣传经费", "设备购置费", "视频制作费", "就业补助资金",
                "信息化平台运行维护费", "档案数字化建设经费", "办公楼维修改造经费", "业务培训经费", "宣传资料印刷费",
                "网络舆情监测服务费", "公益性岗位补贴", "综合专项经费", "乡村振兴宣传专项经费"]
    pname = rng.choice(projects)
    kt = KpiTable(title=title or rng.choice(["项目支出绩效目标表", "预算部门（单位）项目支出绩效目标表",
                                             "县(区)级预算部门(单位)项目支出绩效目标表"]),
                  year_line=f"({year}年度)")
    longs = [f"用于保障{pname.replace('经费', '').replace('费', '')}工作顺利开展，提升服务能力和工作水平，确保资金使用规范、安全、高效。",
             "根据部门职能和年度工作计划，经单位领导班子会议研究决定，列入年初预算。",
             "为更好地履行部门职责，保障各项业务工作正常运转，确有必要设立该项目。",
             "严格按照财务管理制度和资金管理办法执行，专款专用，加强资金监管。",
             f"{year}年1月至12月分阶段组织实施，按合同约定及时支付资金，年底前完成全部工作任务。"]
    kt.fields = {"项目名称": pname, "主管部门及代码": f"{code}-{dept}", "实施单位": dept,
                 "项目属性": rng.choice(["一次性项目（1年结束）", "经常性项目（长期开展）"]),
                 "项目期": rng.choice(["1年", "1年", "3年", "99年"]),
                 "项目概况": longs[0], "立项依据": longs[1], "项目设立必要性": longs[2],
                 "保证项目实施的制度、措施": longs[3], "项目实施计划": longs[4]}
    goal = f"通过项目实施，{rng.choice(['保障单位正常运转', '提升宣传工作质量', '改善办公条件', '提高服务群众水平'])}，" \
           f"{rng.choice(['确保各项工作任务按期完成', '扩大社会影响力', '提高资金使用效益'])}。"
    kt.goals = (goal, goal if rng.random() < 0.7 else goal.replace("通过项目实施", f"{year}年度"))
    rows = []
    spec = [("产出指标", ["数量指标", "质量指标", "时效指标", "成本指标"]),
            ("效益指标", ["经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标"]),
            ("满意度指标", ["服务对象满意度指标"])]
    if year >= 2022 and rng.random() < 0.3:
        spec.insert(1, ("成本指标", ["经济成本指标", "社会成本指标", "生态环境成本指标"]))
        spec[0] = ("产出指标", ["数量指标", "质量指标", "时效指标"])
    trunc = rng.random() < 0.4
    for l1, l2s in spec:
        for l2 in l2s:
            pool = _L3_POOL[l2]
            k = 1 if l2 in ("经济效益指标", "生态效益指标") else rng.randint(1, 3)
            for name, tmpl, sp in rng.sample(pool, min(k, len(pool))):
                val = _kpi_value(rng, tmpl, sp, year)
                l2d = l2[:-2] if (trunc and l2 != "服务对象满意度指标") else (
                    "服务对象满意度" if trunc else l2)
                rows.append(KpiRow(l1, l2d, name, val, l2d, name, val))
    kt.rows = rows
    total = rng.choice([rng.randint(1, 99) * 1000, rng.randint(10, 900) * 1000])
    for half in ("实施期", "年度"):
        kt.funds[half] = {"total": fmt_yuan(total), "中央": "0", "省级": "0", "市县": fmt_yuan(total),
                          "自筹": "0", "其他": rng.choice(["", "0"])}
    kt = vary_kpi(rng, kt, dept=dept, code=code, year=year, n_rows=n_rows)
    kt.funds["年度"] = dict(kt.funds["实施期"])
    return kpimod.build_table(kt)


# ------------------------------------------------------------------ synthetic documents
def _prose_overview(rng, dept, year):
    n = rng.randint(5, 40)
    return [
        Title("第一部分 概况", level=1),
        Title("一、本部门职责", level=2, align="left"),
        Paragraph(f"{dept}主要负责贯彻落实党和国家的方针政策，围绕中心、服务大局，承担本行业领域的规划、"
                  f"管理、监督和服务工作，完成上级交办的其他任务。"),
        Title("二、机构设置情况", level=2, align="left"),
        Paragraph(f"本部门属于{rng.choice(['一级', '二级'])}预算单位，{rng.choice(['没有下级预算单位', '下设预算单位1个'])}。"
                  f"编办核定编制数{n}人，在职实有人数{max(1, n - rng.randint(0, 5))}人。"
                  f"内设机构有：{'、'.join(rng.sample(['综合股', '财务股', '业务股', '办公室', '宣传股', '网络股', '法规股'], 3))}。"),
    ]


def _prose_explain(rng, year, total):
    inc = total * rng.uniform(-0.3, 0.4)
    pct = inc / max(total - inc, 1) * 100
    return [
        Title(f"第三部分 {year}年度部门预算情况说明", level=1),
        Title("一、部门预算收支数据变动情况及原因", level=2, align="left"),
        Paragraph(f"{year}年预算收入总计{total / 100:,.2f}万元，支出总计{total / 100:,.2f}万元，"
                  f"比上年{'增加' if inc >= 0 else '减少'}{abs(inc) / 100:,.2f}万元，{'增加' if inc >= 0 else '减少'}"
                  f"{abs(pct):.2f}%，主要原因是人员变动及项目支出调整。"),
        Paragraph("“三公”经费预算与上年持平，主要原因是严格落实中央八项规定精神，厉行节约，压缩一般性支出。"),
    ]


def synthetic_doc(rng: random.Random, *, compact: bool = False) -> DocSpec:
    place, _ = make_place(rng)
    dept = make_dept(rng, place)
    year = rng.randint(2021, 2025)
    code = f"{rng.randint(1, 999):03d}"
    sep = rng.random() < 0.8
    prefix_style = rng.choice(["", "表{n} ", "预算公开表{n} "])
    doc = DocSpec(name="synthetic", dept=dept, meta={"year": year, "place": place})
    B = doc.blocks
    if not compact:
        B += [Title(dept, level=0), Title(f"{year}年度部门预算公开", level=0)]
    B += _prose_overview(rng, dept, year)
    B.append(Title(f"第二部分 {year}年部门预算报表", level=1))
    n = 1
    kinds = ["expense"] if compact else ["income", "expense", "econ", "sangong"]
    total = 0
    for k in kinds:
        pre = prefix_style.format(n=n)
        t = synth_budget_table(rng, k, year=year, dept=dept, sep=sep, title_prefix=pre)
        B.append(t)
        n += 1
    if not compact:
        B += _prose_explain(rng, year, int(rng.uniform(50, 2000) * 100))
    for _ in range(1 if compact else rng.randint(2, 3)):
        B.append(synth_kpi_table(rng, dept=dept, code=code, year=year))
    return doc


def sample_doc(rng: random.Random, kpi_rows: int = 26) -> DocSpec:
    """Prose + a budget table on page 1, then a long KPI table spilling onto page 3."""
    place, _ = make_place(rng)
    dept = make_dept(rng, place)
    year = rng.randint(2022, 2025)
    doc = DocSpec(name="sample", dept=dept, meta={"year": year, "place": place})
    B = doc.blocks
    B += [Title(f"{dept}{year}年度部门预算公开", level=1)]
    B += _prose_overview(rng, dept, year)[1:]
    B.append(synth_budget_table(rng, "expense", year=year, dept=dept, title_prefix="表3 ", n_cls=2))
    B.append(PageBreak())
    B.append(synth_kpi_table(rng, dept=dept, code=f"{rng.randint(1, 999):03d}", year=year, n_rows=kpi_rows))
    return doc
