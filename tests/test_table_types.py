"""Table types, units and departments from the lines above a table."""
import json
from pathlib import Path

import pytest

from extractor.kpi.tables import classify, read_preamble

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("title,kind", [
    ("2023年预算收支总表", "t01_income_expenditure_summary"),
    ("表一 2024年部门收支总表", "t01_income_expenditure_summary"),
    ("预算公开表2 2025年预算收入总表", "t02_income_summary"),
    ("2023年预算支出总表", "t03_expenditure_summary"),
    ("2023年财政拨款收支总表", "t04_fiscal_grants_summary"),
    ("2023年一般公共预算支出预算表（不含上年结转）", "t05_general_budget_expenditure"),
    ("2023年一般公共预算安排基本支出分经济科目表（不含上年结转）", "t06_basic_expenditure_by_economic_class"),
    ("2023年政府性基金预算收入表（不含上年结转）", "t07_government_fund_income"),
    ("2023年政府性基金预算支出表（不含上年结转）", "t08_government_fund_expenditure"),
    ("2023年国有资本经营预算收支预算表（不含上年结转）", "t09_state_capital_operation"),
    ("2023年一般公共预算“三公”经费支出预算表", "t10_three_public_expenses"),
    ("2023年机关运行经费预算财政拨款情况统计表", "t11_agency_operating_costs"),
    ("2023年项目支出预算表（本年预算）", "t12_project_expenditure"),
    ("2023年项目支出预算表（上年结转）", "t13_project_expenditure_carryover"),
    ("预算部门（单位）项目支出绩效目标表", "kpi_project"),
    ("项目支出绩效目标申报表", "kpi_project"),
    ("2024年部门整体支出绩效目标表", "kpi_department"),
    ("政府购买服务指导性目录", "other"),
])
def test_titles(title, kind):
    assert classify(title)[0] == kind


def test_header_decides_without_a_title():
    assert classify(None, "科目编码科目名称合计基本支出项目支出")[0] == "t03_expenditure_summary"
    assert classify(None, "项目名称主管部门及代码绩效指标一级指标二级指标三级指标指标值")[0] == "kpi_project"
    assert classify(None, "序号姓名电话")[0] == "other"


def test_preamble_unit_department_title():
    pre = read_preamble(["预算公开表3", "2023年预算支出总表", "部门名称：某县文化和旅游局 单位：万元"])
    assert (pre.title, pre.unit, pre.department) == ("2023年预算支出总表", "万元", "某县文化和旅游局")
    pre = read_preamble(["2023年预算收入总表", "部门名称：某县教育局", "单位：万元"])
    assert (pre.unit, pre.department) == ("万元", "某县教育局")


def test_rendered_titles_all_classified():
    """Every table title the scan generator draws (from real transcripts) gets a standard type."""
    truth = json.loads((ROOT / "samples" / "sample.truth.json").read_text(encoding="utf-8"))
    titles = [t["title"] for p in truth["pages"] for t in p["tables"] if t.get("title")]
    assert titles and all(classify(t)[0] != "other" for t in titles), titles
