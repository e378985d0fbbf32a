"""KPI records and project metadata from a KPI table split over two pages (the demo sample's
truth grids, and the pipeline's own reading of the scan)."""
import csv
import json
from pathlib import Path

import pytest

from extractor.evaluate import document_from_truth, score_document
from extractor.export import write_kpi_csv

ROOT = Path(__file__).resolve().parents[1]
TAXONOMY = {"产出指标": {"数量指标", "质量指标", "时效指标", "成本指标"},
            "效益指标": {"经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标"},
            "满意度指标": {"服务对象满意度指标", "服务对象满意度"},
            "成本指标": {"经济成本指标", "社会成本指标", "生态环境成本指标"}}


@pytest.fixture(scope="module")
def truth():
    return json.loads((ROOT / "samples" / "sample.truth.json").read_text(encoding="utf-8"))


def test_records_from_true_grids(truth):
    doc = document_from_truth(truth)
    assert len(doc.projects) == 1
    p = doc.projects[0]
    assert p.name and p.department and p.department[:3].isdigit()
    # the fund split adds up, in 元, for both periods
    for funds in (p.funds_period, p.funds_year):
        parts = sum(v or 0 for k, v in funds.items() if k != "total")
        assert funds["total"] and parts == pytest.approx(funds["total"])
    # one record per indicator row and period; every level pair is a known one
    assert doc.kpis and {k.period for k in doc.kpis} == {"实施期", "年度"}
    assert len([k for k in doc.kpis if k.period == "实施期"]) == len([k for k in doc.kpis if k.period == "年度"])
    for k in doc.kpis:
        assert k.level2 in TAXONOMY[k.level1], (k.level1, k.level2, k.level3)
        assert k.project == p.name and k.level3
    # the merged 二级 cell cut by the page break: its rows on the first page take the text the
    # continuation page starts with
    cont = doc.pages[2].tables[0]
    first_l2 = next(c.text for c in cont.cells if c.row == 0 and c.text.endswith("指标") and c.col > 0)
    last_rows = [k for k in doc.kpis if k.table_id == doc.pages[1].tables[0].id]
    assert last_rows[-1].level2 == first_l2
    numeric = [k for k in doc.kpis if k.target.kind == "numeric"]
    assert numeric and all(k.target.value is not None for k in numeric)


@pytest.mark.slow
def test_records_from_the_scan(pipeline, truth, tmp_path):
    doc = pipeline.run(ROOT / "samples" / "sample.pdf", dpi=truth["dpi"])
    m = score_document(doc, truth).summary()
    assert m["kpi_f1"] >= 0.95
    assert doc.projects and doc.projects[0].funds_year.get("total")
    p = write_kpi_csv(doc, tmp_path / "kpis.csv")
    rows = list(csv.DictReader(open(p, encoding="utf-8-sig")))
    assert len(rows) == len(doc.kpis) and rows[0]["period"] == "实施期" and rows[0]["level1"] == doc.kpis[0].level1


def _split_at_header(truth: dict, gap: float = 0.0, move_to_next_page: bool = False) -> dict:
    """The sample's truth with its KPI table drawn as two tables: the project block and, below it
    (sharing its border, after a gap, or at the top of the next page), the KPI grid."""
    import copy

    t2 = copy.deepcopy(truth)
    for pi, page in enumerate(t2["pages"]):
        for ti, t in enumerate(page["tables"]):
            hdr = next((c["row"] for c in t["cells"] if c["text"] == "一级指标"), None)
            if hdr is None or not any(c["text"] == "项目名称" for c in t["cells"]):
                continue
            upper = [c for c in t["cells"] if c["row"] < hdr]
            lower = [dict(c, row=c["row"] - hdr) for c in t["cells"] if c["row"] >= hdr]
            assert all(c["row"] + c["rowspan"] <= hdr for c in upper)
            y = min(c["bbox"][1] for c in lower)
            block = dict(t, cells=upper, n_rows=hdr, bbox=[t["bbox"][0], t["bbox"][1], t["bbox"][2], y])
            grid = dict(t, cells=lower, n_rows=t["n_rows"] - hdr, continued_from=None, title=None,
                        bbox=[t["bbox"][0], y + gap, t["bbox"][2], t["bbox"][3] + gap])
            for c in grid["cells"]:
                c["bbox"] = [c["bbox"][0], c["bbox"][1] + gap, c["bbox"][2], c["bbox"][3] + gap]
            page["tables"][ti] = block
            if move_to_next_page:
                # the grid opens a page of its own, before the next page's tables
                new = {k: v for k, v in page.items() if k != "tables"}
                new.update(tables=[grid], paragraphs=[])
                t2["pages"].insert(pi + 1, new)
                for k, p in enumerate(t2["pages"]):
                    p["page"] = k + 1
                    for tb in p["tables"]:
                        cf = tb.get("continued_from")
                        if cf and cf[0] >= (pi + 2) and tb is not grid:
                            tb["continued_from"] = [cf[0] + 1, cf[1]]
                # the page after the grid's page continued the old table: it now continues the grid
                nxt = t2["pages"][pi + 2]
                for tb in nxt["tables"]:
                    if tb.get("continued_from") == [pi + 1, ti]:
                        tb["continued_from"] = [pi + 2, 0]
            else:
                page["tables"].insert(ti + 1, grid)
                for p in t2["pages"][pi + 1:]:
                    for tb in p["tables"]:
                        if tb.get("continued_from") == [page["page"], ti]:
                            tb["continued_from"] = [page["page"], ti + 1]
            return t2
    raise AssertionError("no KPI table with its project block in the sample")


@pytest.mark.parametrize("gap,next_page", [(0.0, False), (40.0, False), (0.0, True)])
def test_grid_below_its_project_block_takes_the_project(truth, gap, next_page):
    whole = document_from_truth(truth)
    doc = document_from_truth(_split_at_header(truth, gap=gap, move_to_next_page=next_page))
    assert len(doc.projects) == 1
    p = doc.projects[0]
    assert p.name == whole.projects[0].name and p.funds_year == whole.projects[0].funds_year
    assert len(doc.kpis) == len(whole.kpis)
    assert all(k.project == p.name and not k.notes for k in doc.kpis)
    assert [(k.level1, k.level2, k.level3, k.value) for k in doc.kpis] == \
        [(k.level1, k.level2, k.level3, k.value) for k in whole.kpis]


def test_grid_without_its_block_says_so(truth):
    """A KPI grid with no project block directly before it: the document's last project, noted and
    less confident; with none at all, an empty project, noted and much less confident."""
    import copy

    t2 = _split_at_header(truth, gap=40.0)
    whole = document_from_truth(t2)
    # a second copy of the grid, on a page after a prose page: no block directly above it
    page = next(p for p in t2["pages"] if any(c["text"] == "一级指标" for t in p["tables"] for c in t["cells"]))
    grid = copy.deepcopy(next(t for t in page["tables"] if any(c["text"] == "一级指标" for c in t["cells"])))
    grid["continued_from"] = None
    n = len(t2["pages"])
    t2["pages"].append(dict(page, page=n + 1, tables=[], paragraphs=[]))
    t2["pages"].append(dict(page, page=n + 2, tables=[grid], paragraphs=[]))
    doc = document_from_truth(t2)
    extra = doc.kpis[len(whole.kpis):]
    assert extra and all(k.project == whole.projects[0].name for k in extra)
    assert all(k.notes and "inferred" in k.notes[0] for k in extra)
    assert max(k.confidence for k in extra) < 0.9
    # no project block anywhere: the grid alone
    alone = dict(t2, pages=[dict(t2["pages"][-1], page=1)])
    doc = document_from_truth(alone)
    assert doc.kpis and all(k.project == "" and "unknown" in k.notes[0] for k in doc.kpis)
    assert max(k.confidence for k in doc.kpis) <= 0.5


def test_untitled_project_block_still_counts_but_budget_tables_do_not(truth):
    t2 = _split_at_header(truth, gap=40.0)
    for p in t2["pages"]:
        p["paragraphs"] = [q for q in p.get("paragraphs", []) if "绩效" not in q["text"]]
    doc = document_from_truth(t2)
    block = next(t for t in doc.tables() if any(c.text == "项目名称" for c in t.cells))
    assert block.kind == "other"
    assert len(doc.projects) == 1 and doc.projects[0].name and doc.kpis
    assert all(k.project == doc.projects[0].name and not k.notes for k in doc.kpis)
    # a 项目支出预算表 (its header starts with 项目名称) is no project block
    assert not any(p.name in ("合计", "项目名称") for p in document_from_truth(truth).projects)


def test_header_repeated_on_the_continuation_page_is_no_record(truth):
    """A KPI grid continued on the next page with its header row drawn again."""
    import copy

    whole = document_from_truth(truth)
    t2 = copy.deepcopy(truth)
    cont = next(t for p in t2["pages"] for t in p["tables"] if t.get("continued_from"))
    src_page, src_idx = cont["continued_from"]
    src = t2["pages"][src_page - 1]["tables"][src_idx]
    hdr = next(c["row"] for c in src["cells"] if c["text"] == "一级指标")
    h = 60
    head = [dict(c, row=0, rowspan=1, bbox=[c["bbox"][0], cont["bbox"][1], c["bbox"][2], cont["bbox"][1] + h])
            for c in src["cells"] if c["row"] == hdr and c["col"] > 0]
    head.insert(0, {"row": 0, "col": 0, "rowspan": 1, "colspan": 1, "text": "",
                    "bbox": [cont["bbox"][0], cont["bbox"][1], head[0]["bbox"][0], cont["bbox"][1] + h]})
    for c in cont["cells"]:
        c["row"] += 1
        c["bbox"] = [c["bbox"][0], c["bbox"][1] + h, c["bbox"][2], c["bbox"][3] + h]
    cont["cells"] = head + cont["cells"]
    cont["n_rows"] += 1
    doc = document_from_truth(t2)
    assert [(k.level1, k.level2, k.level3, k.value) for k in doc.kpis] == \
        [(k.level1, k.level2, k.level3, k.value) for k in whole.kpis]


def _family_truths():
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    import synth
    from synth.families import FAMILIES

    for fam in FAMILIES:
        for seed in (6000, 6001):
            _, pages = synth.render_pages(synth.build_doc(seed, kind="compact", family=fam), seed=seed,
                                          severity="clean", dpi=100, max_pages=8)
            yield fam, seed, {"pages": pages}


def test_records_from_every_layout_familys_true_grids():
    """On the true grids of every layout family (one table or two, sharing a rule or apart, the
    grid continued with or without its header, 实施期 and 年度 side by side or stacked in blocks of
    their own): every project's records name it, and each indicator row gives one record per period."""
    from collections import Counter

    seen = Counter()
    for fam, seed, truth in _family_truths():
        doc = document_from_truth(truth)
        if not doc.projects:
            continue
        assert doc.kpis, (fam, seed)
        names = {p.name for p in doc.projects}
        for k in doc.kpis:
            assert k.project in names and k.project, (fam, seed, k)
            assert k.level3 not in ("三级指标", "指标值") and k.value != "指标值", (fam, seed, k)
            assert not k.notes, (fam, seed, k.notes)
        per = Counter((k.project, k.period) for k in doc.kpis)
        for name in names:
            assert per[(name, "实施期")] == per[(name, "年度")] > 0, (fam, seed, per)
        seen[fam] += 1
    assert len(seen) >= 6, seen
