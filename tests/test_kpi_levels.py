"""The KPI levels vote: table structure against the level classifier."""
import pytest

from extractor.kpi.levels import canonical_level1, reconcile, vote
from extractor.model import Document, KpiRecord, KpiTarget


def rec(level1, level2, level3, value, conf=0.9):
    return KpiRecord(project="某项目", period="年度", level1=level1, level2=level2, level3=level3, value=value,
                     target=KpiTarget(kind="empty", text=value), confidence=conf, table_id="p1-t0", row=3)


def test_agreement_raises_confidence():
    k = rec("产出指标", "数量指标", "培训人次", "≥200人次")
    vote(k, "产出指标", "数量指标", 0.97)
    assert k.confidence == pytest.approx(0.95)
    assert k.notes == []


def test_disagreement_lowers_confidence_and_says_why():
    k = rec("产出指标", "时效指标", "服务对象满意度", "≥95%")
    vote(k, "满意度指标", "服务对象满意度指标", 0.9)
    assert k.confidence < 0.9 * 0.5
    assert (k.level1, k.level2) == ("产出指标", "时效指标")  # the printed structure stays
    assert "满意度指标/服务对象满意度指标" in k.notes[0]


def test_lost_levels_are_filled_and_capped_by_the_classifier():
    k = rec("", "", "设备购置数量", "5台", conf=0.95)
    vote(k, "产出指标", "数量指标", 0.8)
    assert (k.level1, k.level2) == ("产出指标", "数量指标")
    assert k.confidence == pytest.approx(0.8)
    assert "lost" in k.notes[0]


def test_garbled_level2_is_replaced_in_the_tables_style():
    k = rec("产出指标", "效量", "设备购置数量", "5台")
    vote(k, "产出指标", "数量指标", 0.9)
    assert k.level2 == "数量"
    k = rec("效益指标", "社会效溢指标", "惠及群众人数", "≥1000人")
    vote(k, "效益指标", "社会效益指标", 0.9)
    assert k.level2 == "社会效益指标"


def test_level1_from_the_taxonomy_when_only_level2_was_read():
    k = rec("", "质量指标", "验收合格率", "100%")
    vote(k, "产出指标", "质量指标", 0.99)
    assert k.level1 == "产出指标"
    assert k.confidence > 0.9


def test_a_clear_level2_outside_the_taxonomy_is_kept():
    k = rec("产出指标", "工作任务完成指标", "完成调研报告", "3篇")
    vote(k, "产出指标", "数量指标", 0.9)
    assert k.level2 == "工作任务完成指标"
    assert "not in the taxonomy" in k.notes[0]


def test_canonical_level1():
    assert canonical_level1("效益指标") == "效益指标"
    assert canonical_level1("满意度") == "满意度指标"
    assert canonical_level1("质量指标") is None


def test_reconcile_with_the_trained_classifier():
    pytest.importorskip("torch")
    from extractor.kpi.classifier import KpiClassifier

    doc = Document(source="x", n_pages=1, kpis=[
        rec("产出指标", "数量指标", "举办培训班次数", "≥10次"),
        rec("", "", "服务对象满意度", "≥95%"),
    ])
    reconcile(doc, KpiClassifier.load())
    agree, filled = doc.kpis
    assert agree.confidence > 0.9 and not agree.notes
    assert (filled.level1, filled.level2) == ("满意度指标", "服务对象满意度指标")
    assert filled.notes
