"""The confidence model: evidence features, the fitted logistic model and the isotonic maps in
models/calibration.json, on tables with a planted misread."""
import copy

import numpy as np
import pytest

from calfit import fit_isotonic, fit_logistic
from conftest import BUDGET_HEADER, BUDGET_ROWS
from extractor import confidence, runtime
from extractor.model import Cell, Document, OcrEvidence, Page, Table
from extractor.validate import validate

HEADER, ROWS = BUDGET_HEADER, BUDGET_ROWS


def _doc(rows, probs=None):
    """A table as the OCR stage leaves it: every character read with probability 0.995 unless
    ``probs`` says otherwise for a (row, col)."""
    probs = probs or {}
    cells = []
    for r, row in enumerate([HEADER] + rows):
        for k, text in enumerate(row):
            x0, y0 = 100 + 200 * k, 100 + 50 * r
            p = probs.get((r, k), 0.995)
            ev = OcrEvidence(mean_prob=p, min_prob=p, n_chars=len(text), n_lines=1 if text else 0,
                             char_probs=[p] * len(text), ink=0.08 if text else 0.0)
            cells.append(Cell(row=r, col=k, bbox=[x0, y0, x0 + 200, y0 + 50], text=text, confidence=0.9, ocr=ev))
    t = Table(id="p1-t0", bbox=[100, 100, 1100, 100 + 50 * (len(rows) + 1)], n_rows=len(rows) + 1, n_cols=5,
              cells=cells, col_edges=[100 + 200 * k for k in range(6)], kind="t03_expenditure_summary")
    return Document(source="x", pages=[Page(page=1, width=1654, height=2339, tables=[t])])


@pytest.fixture(scope="module")
def fitted():
    path = runtime.project_model("calibration.json")
    model, cells, kpis = confidence.load_calibration(path)
    assert model is not None and kpis is not None, "models/calibration.json lacks the evidence model"
    return model, cells


def _score(doc, fitted):
    model, cells = fitted
    validate(doc)
    model.apply(doc.tables())
    for c in doc.tables()[0].cells:
        c.confidence = cells(c.confidence)
    return {(c.row, c.col): c for c in doc.tables()[0].cells}


def test_clean_table_is_scored_high(fitted):
    got = _score(_doc(ROWS), fitted)
    assert min(c.confidence for c in got.values()) > 0.9


@pytest.mark.parametrize("row,col,text", [
    (3, 2, "871.29"),     # a digit misread: the row sum and the 科目 hierarchy break
    (6, 3, "8.81"),       # 8.91 read as 8.81: the row sum and the hierarchy of 221 break
    (8, 2, "1,080.20"),   # the grand total misread: the total of the 类 rows breaks
])
def test_planted_misread_scores_below_09(fitted, row, col, text):
    rows = copy.deepcopy(ROWS)
    rows[row - 1][col] = text
    got = _score(_doc(rows), fitted)
    assert got[(row, col)].confidence < 0.9, (text, got[(row, col)].confidence, got[(row, col)].checks)


def test_doubtful_characters_lower_the_score(fitted):
    sure = _score(_doc(ROWS), fitted)
    doubt = _score(_doc(ROWS, probs={(2, 1): 0.45, (4, 1): 0.45, (3, 2): 0.45}), fitted)
    assert doubt[(2, 1)].confidence < sure[(2, 1)].confidence
    assert doubt[(4, 1)].confidence < sure[(4, 1)].confidence
    # a figure that the row sum and the 科目 hierarchy both confirm stays sure however it was read
    assert doubt[(3, 2)].checks and all(c.startswith("+") for c in doubt[(3, 2)].checks)
    assert doubt[(3, 2)].confidence >= 0.9


def test_a_letter_in_a_number_column_lowers_the_score(fitted):
    rows = copy.deepcopy(ROWS)
    rows[5][3] = "8.9l"  # 1 read as l: the value does not parse, no check can vouch for it
    got = _score(_doc(rows), fitted)
    sure = _score(_doc(ROWS), fitted)
    assert got[(6, 3)].confidence < sure[(6, 3)].confidence


def test_fit_logistic_recovers_the_signal():
    rng = np.random.default_rng(0)
    X = np.c_[np.ones(4000), rng.normal(size=(4000, len(confidence.FEATURES) - 1))]
    w = np.zeros(len(confidence.FEATURES)); w[0], w[3] = 1.0, -2.0
    y = rng.random(4000) < 1 / (1 + np.exp(-X @ w))
    m = fit_logistic(X, y, l2=0.1)
    assert abs(m.w[3] + 2.0) < 0.3 and abs(m.w[0] - 1.0) < 0.3


def test_isotonic_map_is_monotone_and_calibrated():
    rng = np.random.default_rng(1)
    s = rng.random(5000)
    y = rng.random(5000) < s ** 2  # the true probability of being right is s²
    cal = fit_isotonic(s, y)
    xs = np.linspace(0, 1, 50)
    mapped = [cal(x) for x in xs]
    assert all(a <= b + 1e-12 for a, b in zip(mapped, mapped[1:]))
    assert abs(cal(0.8) - 0.64) < 0.08


@pytest.mark.parametrize("row,text", [
    (4, "一般行政管理事"),    # a character lost at the edge of a standard 科目 name
    (1, "一般公共服务支出鲁"),  # a speck read as a character after one
    (7, "住房公积金土"),
])
def test_a_near_miss_of_a_standard_name_is_doubted(fitted, row, text):
    """Every character read surely, no check covering the name: only the national classification's
    names say that the text misses one of them."""
    rows = copy.deepcopy(ROWS)
    rows[row - 1][1] = text
    got = _score(_doc(rows), fitted)
    sure = _score(_doc(ROWS), fitted)
    assert got[(row, 1)].confidence < 0.9 < sure[(row, 1)].confidence, (text, got[(row, 1)].confidence)


def test_standard_names_and_their_near_misses():
    from extractor.kpi import lexicon

    assert lexicon.is_known("广播电视事务") and lexicon.is_known("二、 外交支出") and lexicon.is_known("2025年预算数")
    assert lexicon.is_known("实施期资金总额:") and lexicon.is_known("项目资金(元)")
    assert lexicon.near_known("播电视事务") and lexicon.near_known("财政专管理资金")
    assert lexicon.extra_at_edge("斋2022年预算数") and lexicon.extra_at_edge("●学前教育")
    for fine in ("一、一般公共服务支出", "培训合格率", "≥95%", "吕梁日报县域专刊阳城版费用", "办公经费", "2,061.00"):
        assert not lexicon.near_known(fine) and not lexicon.extra_at_edge(fine), fine


KPI_SENTENCES = [
    ["项目概况", "用于保障办公楼维修改造工作顺利开展，提升服务能力和工作水平，确保资金使用规范、安全、高效。"],
    ["立项依据", "根据部门职能和年度工作计划，经单位领导班子会议研究决定，列入年初预算。"],
    ["必要性", "为更好地履行部门职责，保障各项业务工作正常运转，确有必要设立该项目。"],
    ["实施计划", "2024年1月至12月分阶段组织实施，按合同约定及时支付资金，年底前完成全部工作任务。"],
    ["保障措施", "严格按照财务管理制度和资金管理办法执行，专款专用，加强资金监管。"],
]


def _sentence_table(missed=None):
    """A two-column table of long descriptive sentences (a KPI form's 项目概况 part), every
    character read with probability 0.999; ``missed``: {(row, col): (inner, edge)} characters the
    recogniser saw in a gap but left out."""
    missed = missed or {}
    cells = []
    for r, row in enumerate([["项目", "说明"]] + KPI_SENTENCES):
        for k, text in enumerate(row):
            m, e = missed.get((r, k), (0.0, 0.0))
            ev = OcrEvidence(mean_prob=0.999, min_prob=0.999, n_chars=len(text), n_lines=1, char_probs=[0.999] * len(text),
                             ink=0.05, missed=m, missed_edge=e)
            cells.append(Cell(row=r, col=k, bbox=[100 + 300 * k, 100 + 80 * r, 400 + 1000 * k, 180 + 80 * r], text=text,
                              confidence=0.9, ocr=ev))
    t = Table(id="p1-t0", bbox=[100, 100, 1400, 100 + 80 * (len(KPI_SENTENCES) + 1)], n_rows=len(KPI_SENTENCES) + 1,
              n_cols=2, cells=cells, col_edges=[100, 400, 1400], kind="other")
    return Document(source="x", pages=[Page(page=1, width=1654, height=2339, tables=[t])])


def test_a_character_left_out_of_a_sentence_is_doubted(fitted):
    """A long sentence whose every character was read surely, but where the recogniser saw a mark
    in a gap and left it out ("规范安全、高效" for "规范、安全、高效"), is scored below 0.9; the same
    sentence with nothing left out stays sure, and so does a short figure with a speck seen at its edge."""
    sure = _score(_sentence_table(), fitted)
    lost = _score(_sentence_table({(1, 1): (0.38, 0.0), (3, 1): (0.0, 0.33)}), fitted)
    assert sure[(1, 1)].confidence >= 0.9 and sure[(3, 1)].confidence >= 0.9
    assert lost[(1, 1)].confidence < 0.9 and lost[(3, 1)].confidence < 0.9
    figure = _doc(ROWS)
    cell = figure.tables()[0].cells[7]
    assert cell.text == "1,021.29"
    cell.ocr.missed_edge = 0.4  # a speck seen after the figure
    assert _score(figure, fitted)[(1, 2)].confidence >= 0.9


def test_lone_edges_mark_a_cell_cut_by_a_boundary_its_neighbours_lack():
    """Rows 0 and 2 of a 3-column table are cut at a column boundary that the rows next to them (1
    and 3; row 0 has only row 1) span over: both pieces of each cut row are marked; the spanning
    cells are not, nor is any row boundary."""
    def cell(r, k, cs=1, rs=1):
        return Cell(row=r, col=k, rowspan=rs, colspan=cs, bbox=[100 * k, 50 * r, 100 * (k + cs), 50 * (r + rs)],
                    text="x", confidence=0.9)

    cells = [cell(0, 0), cell(0, 1), cell(0, 2),
             cell(1, 0), cell(1, 1, cs=2),
             cell(2, 0), cell(2, 1), cell(2, 2),
             cell(3, 0), cell(3, 1, cs=2)]
    t = Table(id="p1-t0", bbox=[0, 0, 300, 200], n_rows=4, n_cols=3, cells=cells, col_edges=[0, 100, 200, 300])
    lone = confidence._lone_edges(t)
    marked = {(c.row, c.col) for c in cells if lone[id(c)][0]}
    assert marked == {(0, 1), (0, 2), (2, 1), (2, 2)}
    assert not any(v[1] for v in lone.values())


def test_a_model_fitted_before_a_feature_was_added_still_scores_the_same():
    names = confidence.FEATURES[:-2]
    rng = np.random.default_rng(0)
    w = rng.normal(size=len(names)).tolist()
    old = confidence.EvidenceModel(w, names)
    f = rng.normal(size=len(confidence.FEATURES)).tolist()
    z = sum(a * b for a, b in zip(w, f[:-2]))
    assert old.score(f) == pytest.approx(1 / (1 + np.exp(-z)))
    assert old.to_json()["features"] == names
    with pytest.raises(ValueError):
        confidence.EvidenceModel([0.1, 0.2], ["bias", "no_such_feature"])
