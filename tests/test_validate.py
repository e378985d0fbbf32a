"""Every invariant on a correct table, and on one with a planted OCR error: the check must catch it,
name it, and move the confidence of the cells it covers."""
import copy

from extractor.model import Cell, Document, Page, Project, Table
from conftest import BUDGET_HEADER, BUDGET_ROWS
from extractor.validate import validate

HEADER, ROWS = BUDGET_HEADER, BUDGET_ROWS


def _table(rows, tid="p1-t0"):
    cells = []
    for r, row in enumerate([HEADER] + rows):
        for k, text in enumerate(row):
            x0, y0 = 100 + 200 * k, 100 + 50 * r
            cells.append(Cell(row=r, col=k, bbox=[x0, y0, x0 + 200, y0 + 50], text=text, confidence=0.9))
    return Table(id=tid, bbox=[100, 100, 1100, 100 + 50 * (len(rows) + 1)], n_rows=len(rows) + 1, n_cols=5,
                 cells=cells, col_edges=[100 + 200 * k for k in range(6)], kind="t03_expenditure_summary")


def _doc(rows):
    return Document(source="x", pages=[Page(page=1, width=1654, height=2339, tables=[_table(rows)])])


def test_correct_table_satisfies_every_check():
    doc = _doc(ROWS)
    validate(doc)
    names = {c.name for c in doc.checks}
    assert {"row_sum", "code_hierarchy", "total_of_classes"} <= names
    assert all(c.ok for c in doc.checks), [c.detail for c in doc.checks if not c.ok]
    cell = next(c for c in doc.pages[0].tables[0].cells if c.text == "821.29")
    assert cell.confidence > 0.9 and any(x.startswith("+") for x in cell.checks)


def test_planted_ocr_error_is_caught_and_named():
    rows = copy.deepcopy(ROWS)
    rows[2][2] = "871.29"  # 2013101 行政运行: 821.29 misread as 871.29
    doc = _doc(rows)
    validate(doc)
    broken = [c for c in doc.checks if not c.ok]
    assert {c.name for c in broken} >= {"row_sum", "code_hierarchy"}
    assert all(any(ref.endswith(":3:2") for ref in c.cells) for c in broken)  # all point at the bad cell
    bad = next(c for c in doc.pages[0].tables[0].cells if c.text == "871.29")
    assert bad.confidence < 0.5 and "-row_sum" in bad.checks


def test_separator_misread_is_caught():
    rows = copy.deepcopy(ROWS)
    rows[7][2] = "1.030.20"  # the parser repairs it: the checks still pass
    doc = _doc(rows)
    validate(doc)
    assert all(c.ok for c in doc.checks)
    rows[7][2] = "1,080.20"
    doc = _doc(rows)
    validate(doc)
    assert any(c.name == "total_of_classes" and not c.ok for c in doc.checks)


def test_fund_split():
    doc = _doc(ROWS)
    doc.projects = [Project(table_id="p2-t0", page=2, name="专项业务经费",
                            funds_period={"total": 300000, "central": 0, "provincial": 0, "local": 300000, "self_raised": 0},
                            funds_year={"total": 300000, "central": 0, "provincial": 0, "local": 30000, "self_raised": 0})]
    validate(doc)
    fs = {c.detail.split(":")[0].split()[-1]: c.ok for c in doc.checks if c.name == "fund_split"}
    assert fs == {"实施期": True, "年度": False}


def _grid_table(tid, kind, rows):
    cells = []
    for r, row in enumerate(rows):
        for k, text in enumerate(row):
            x0, y0 = 100 + 200 * k, 100 + 50 * r
            cells.append(Cell(row=r, col=k, bbox=[x0, y0, x0 + 200, y0 + 50], text=text, confidence=0.9))
    n_cols = max(len(r) for r in rows)
    return Table(id=tid, bbox=[100, 100, 100 + 200 * n_cols, 100 + 50 * len(rows)], n_rows=len(rows), n_cols=n_cols,
                 cells=cells, col_edges=[100 + 200 * k for k in range(n_cols + 1)], kind=kind)


def _cross_doc(income="206.52", expenditure="206.52", prose="206.52", t12="30.00", kpi_total=300000):
    from extractor.model import Paragraph

    t1 = _grid_table("p1-t0", "t01_income_expenditure_summary", [
        ["项目", "2023年", "项目", "2023年"],
        ["一、一般公共预算", "206.52", "一、一般公共服务支出", "206.52"],
        ["收入总计", income, "支出总计", expenditure]])
    t12 = _grid_table("p2-t0", "t12_project_expenditure", [
        ["项目名称", "合计", "一般公共预算"],
        ["吕梁日报县专刊", t12, t12]])
    pages = [Page(page=1, width=1654, height=2339, tables=[t1]),
             Page(page=2, width=1654, height=2339, tables=[t12],
                  paragraphs=[Paragraph(bbox=[0, 0, 1, 1], text=f"2023年度预算收入总计{prose}万元，比上年增加58.19万元。")])]
    return Document(source="x", pages=pages, projects=[
        Project(table_id="p3-t0", page=3, name="吕梁日报县专刊", funds_year={"total": kpi_total, "local": kpi_total})])


def test_cross_table_checks_hold_and_catch_errors():
    doc = _cross_doc()
    validate(doc)
    names = {c.name: c.ok for c in doc.checks}
    assert names.get("income_equals_expenditure") and names.get("total_in_prose") and names.get("kpi_project_amount")
    doc = _cross_doc(expenditure="208.52", prose="266.52", t12="3.00")
    validate(doc)
    broken = {c.name for c in doc.checks if not c.ok}
    assert {"income_equals_expenditure", "total_in_prose", "kpi_project_amount"} <= broken


def test_no_false_alarm_on_a_true_rendered_document():
    """On the demo sample's true grids (a budget table, a KPI table over two pages) every check holds."""
    import json
    from pathlib import Path

    from extractor.evaluate import document_from_truth

    truth = json.loads((Path(__file__).resolve().parents[1] / "samples" / "sample.truth.json").read_text(encoding="utf-8"))
    doc = document_from_truth(truth)
    validate(doc)
    assert len(doc.checks) >= 5 and {"row_sum", "fund_split"} <= {c.name for c in doc.checks}
    assert all(c.ok for c in doc.checks), [c.detail for c in doc.checks if not c.ok]
