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
