"""Tables without rulings (issue 18): structure from text alignment (extractor.table.align), on
boxes laid out by hand and on rendered borderless / 三线表 pages read by the real pipeline."""
from __future__ import annotations

import numpy as np
import pytest

import synth
from extractor.evaluate import score_document
from extractor.model import Document
from extractor.table.align import Line, extend_up, is_table, split_at_gaps, table_from_lines, text_table_regions

H = 30  # a detected text box's height (its characters ~18 px)


def _row(y: float, *spans: tuple[float, float, str]) -> list[Line]:
    return [Line((x0, y, x1, y + H), t) for x0, x1, t in spans]


def _budget_lines() -> list[Line]:
    """A header over two bands and five body rows: code | name | three right-aligned amounts."""
    lines = _row(100, (420, 480, "项目"), (900, 1080, "2024年预算数")) + \
        _row(150, (100, 200, "科目编码"), (400, 500, "科目名称"), (760, 830, "合计"), (900, 1000, "基本支出"),
             (1080, 1180, "项目支出"))
    body = [("201", "一般公共服务支出", "225.55", "82.02", "143.53"), ("20103", "政府办公厅（室）及相关机构事务", "64.47", "64.47", ""),
            ("2010350", "事业运行", "64.47", "64.47", "0.00"), ("207", "文化旅游体育与传媒支出", "43.10", "", "43.10"),
            ("20701", "文化和旅游", "43.10", "", "43.10")]
    for k, (code, name, a, b, c) in enumerate(body):
        y = 200 + 50 * k
        spans = [(100, 100 + 15 * len(code), code), (260, 260 + 20 * len(name), name)]
        spans += [(850 - 15 * len(v), 850, v) for v in [a] if v]
        spans += [(1020 - 15 * len(v), 1020, v) for v in [b] if v]
        spans += [(1190 - 15 * len(v), 1190, v) for v in [c] if v]
        lines += _row(y, *spans)
    return lines


def test_columns_rows_and_edges_from_alignment():
    g = table_from_lines(_budget_lines())
    assert g is not None and (g.n_rows, g.n_cols) == (7, 5)
    # each body text falls in its own column, between the edges
    ce = g.col_edges
    assert ce[0] < 100 and 200 < ce[1] < 260 and 560 < ce[2] < 760 and 850 < ce[3] < 960 and 1020 < ce[4] < 1080
    assert ce[5] > 1190
    # right-aligned amounts: the edge after them sits close to their right end, not mid-gap
    assert ce[3] - 850 < 0.6 * (960 - 850)


def test_header_only_column_and_wrapped_lines():
    """A column that only the header fills (no figure under it), and a name wrapped onto three
    lines beside one line of the row's other cells: one row, five columns."""
    lines = _row(100, (100, 220, "项目名称"), (300, 400, "项目类型"), (520, 580, "合计"), (700, 820, "一般公共预算"),
                 (900, 1020, "政府性基金"))
    lines += [Line((100, 150, 220, 150 + H), "机关事业单"), Line((100, 178, 220, 178 + H), "位人员培训"),
              Line((100, 206, 160, 206 + H), "费")]
    lines += _row(178, (300, 420, "经常性项目"), (520, 590, "39.06"), (750, 820, "39.06"))
    lines += [Line((100, 260, 220, 260 + H), "办公楼维修")] + _row(274, (300, 420, "经常性项目"), (520, 590, "72.26"),
                                                              (750, 820, "72.26"))
    lines += [Line((100, 288, 220, 288 + H), "改造经费")]
    g = table_from_lines(lines)
    assert g is not None and g.n_cols == 5, (g and g.col_edges)
    assert g.n_rows == 3, g.row_edges


def test_prose_and_titles_are_not_tables():
    prose = [Line((100, 100 + 40 * k, 1500, 130 + 40 * k), "用于保障网络舆情监测服务工作顺利开展，提升服务能力") for k in range(6)]
    assert table_from_lines(prose) is None and text_table_regions(prose, 1650) == []
    title_and_meta = _row(100, (600, 1050, "2024年预算支出总表")) + _row(160, (100, 400, "部门名称：某局"), (1300, 1450, "单位：万元"))
    assert text_table_regions(title_and_meta + prose, 1650) == []
    # a grid of a diagram's few labels: most of it empty
    sparse = _row(100, (100, 200, "甲"), (900, 1000, "乙")) + _row(300, (500, 600, "丙")) + _row(500, (100, 200, "丁"))
    g = table_from_lines(sparse)
    assert g is None or not is_table(g, sparse)


def test_meta_lines_and_titles_bound_the_regions():
    lines = _row(40, (600, 1000, "2024年预算支出总表")) + _row(90, (100, 400, "部门名称：某局"), (1050, 1190, "单位：万元"))
    lines += _budget_lines()
    lines += _row(560, (550, 1000, "2024年项目支出预算表"))
    regions = text_table_regions(lines, 1300)
    assert len(regions) == 1
    x0, y0, x1, y1 = regions[0]
    assert y0 >= 100 and y1 <= 500 and x0 >= 100 and x1 <= 1190


def test_a_box_running_two_cells_together_is_cut_at_the_blank():
    img = np.full((60, 600), 235, np.uint8)
    img[20:40, 50:150] = 30  # "97.44"
    img[20:40, 220:330] = 30  # "160.12", 70 px further on: a column gap
    img[20:40, 400:420] = 30
    img[20:40, 426:446] = 30  # two glyphs 6 px apart: one word
    out = split_at_gaps([Line((40, 10, 460, 50), "97.44 160.12 4 5")], img)
    assert [(round(ln.bbox[0]), round(ln.bbox[2])) for ln in out] == [(50, 150), (220, 330), (400, 446)]
    assert [ln.text for ln in out][:2] == ["97.44", "160.12"]


@pytest.mark.parametrize("family", ["borderless", "threeline"])
def test_rendered_unruled_tables_are_read(pipeline, family):
    """A page of the 2024 budget table drawn with no rules (or only the three rules), light scan:
    the pipeline finds the table, builds its grid from the text and reads most cells right."""
    images, truths = synth.render_pages(synth.build_doc(7501, kind="compact", family=family), seed=7501,
                                        severity="light", dpi=150, max_pages=3)
    k = next(i for i, t in enumerate(truths) if t["tables"] and t["tables"][0].get("kind") == "budget")
    page = pipeline.process_image(images[k], k + 1, 150)
    budget = [t for t in page.tables if t.source == "text"]
    assert budget, [t.source for t in page.tables]
    truth = {"dpi": 150, "pages": [dict(truths[k], page=k + 1)]}
    doc = Document(source="x.pdf", n_pages=1, pages=[page])
    s = score_document(doc, truth).summary()
    assert s["tables_f1"] >= 0.66 and s["text"] >= 0.8 and s["numeric"] >= 0.8, s
    # cells of a grid built from text alone are scored by their own map (the ruled grids' evidence
    # model would put them all near 0): the cells read right are mostly sure
    cells = [c for t in budget for c in t.cells if c.text]
    assert all(c.structure.source == "text" for c in cells)
    assert np.mean([c.confidence for c in cells]) > 0.6


def test_a_form_is_cut_at_its_prose_rows_and_joined_back_into_one_table():
    """A project page without rules: label / value pairs on four columns, two prose rows, then a KPI
    grid on six other columns. No single set of columns fits the whole block; its parts are each a
    table, and the parts of one form are joined into one (as a ruled form is one table), the prose
    rows as a label and a text across the rest. A title between two tables keeps them apart."""
    lines = []
    for k, (a, b, c, d) in enumerate([("项目名称", "档案数字化", "项目期", "3年"), ("主管部门", "某局", "实施单位", "某局"),
                                      ("实施期资金", "10,000", "年度资金", "10,000")]):
        lines += _row(100 + 50 * k, (100, 250, a), (330, 500, b), (800, 950, c), (1100, 1180, d))
    lines += _row(260, (100, 220, "项目概况"), (330, 1300, "用于保障档案数字化工作顺利开展，提升服务能力"))
    lines += _row(310, (100, 220, "立项依据"), (330, 1300, "根据部门职能和年度工作计划，经会议研究决定"))
    lines += _row(370, (100, 200, "一级指标"), (260, 380, "二级指标"), (480, 600, "三级指标"), (700, 780, "指标值"),
                  (900, 1020, "二级指标"), (1150, 1270, "三级指标"))
    for k in range(3):
        y = 420 + 50 * k
        lines += _row(y, (260, 380, "数量指标"), (480, 640, "维修维护次数"), (700, 770, "≤6次"), (900, 1020, "数量指标"),
                      (1150, 1290, "维修维护次数"))
    regions = text_table_regions(lines, 1400)
    assert len(regions) == 2, regions
    from extractor.table.align import merge_stacked

    grids = [table_from_lines([ln for ln in lines if reg[1] - 1 <= ln.bbox[1] and ln.bbox[3] <= reg[3] + 1])
             for reg in regions]
    assert all(g is not None for g in grids)
    (one,) = merge_stacked(grids, lines, max_gap=500)
    assert one.n_rows == 3 + 2 + 4 and one.bbox[1] < 110 and one.bbox[3] > 520
    prose = [c for c in one.cells if c.row in (3, 4)]
    assert [c.colspan > 1 for c in prose if c.col > 0] == [True, True]
    titled = grids[:1] + [grids[1]]
    title = _row(330, (560, 840, "项目支出绩效目标表"))
    assert len(merge_stacked(titled, lines[:12] + title + lines[16:], max_gap=500)) == 2


def test_a_table_title_set_close_under_a_table_ends_it():
    """A centred "…表" title only a line's gap under the table before it (closer than the gap a
    title usually leaves) still ends that table: the grid under it has other columns, and one region
    over both would lose the column gaps of each."""
    lines = _budget_lines()
    last = max(ln.bbox[3] for ln in lines)
    lines += _row(last + 8, (420, 900, "预算部门（单位）项目支出绩效目标表"))
    for k, (a, b) in enumerate([("项目名称", "档案数字化建设经费"), ("主管部门", "某局"), ("项目属性", "经常性项目")]):
        lines += _row(last + 60 + 50 * k, (130, 250, a), (560, 760, b))
    regions = text_table_regions(lines, 1320)
    assert len(regions) == 2, regions
    assert regions[0][3] <= last + 1 and regions[1][1] >= last + 60 - 1


def test_broken_rulings_give_no_table_inside_a_table(pipeline):
    """A heavy scan whose rulings break at many junctions: a few cells of the KPI form close into a
    small grid of their own inside the form's grid. It is not a second table (the same cells twice)."""
    from extractor.geometry import inside_frac

    images, truths = synth.render_pages(synth.build_doc(8300, kind="compact", family="base"), seed=8300,
                                        severity="heavy", dpi=200, max_pages=3)
    page = pipeline.process_image(images[2], 3, 200)
    boxes = [t.bbox for t in page.tables]
    assert not any(i != j and inside_frac(a, b) > 0.8 for i, a in enumerate(boxes) for j, b in enumerate(boxes)), boxes
    doc = Document(source="x.pdf", n_pages=1, pages=[page])
    s = score_document(doc, {"dpi": 200, "pages": [dict(truths[2], page=3)]}).summary()
    assert s["tables_f1"] == 1.0 and s["text"] >= 0.9, s


def test_sentences_cut_a_form_into_its_parts_before_one_set_of_columns_is_sought():
    """A form whose label / value rows and KPI grid share a few column gaps, and whose long texts
    (总体目标: two sentences side by side, neither across half the block) cross the others: the
    sentences cut it into parts, each with its own columns, instead of one grid whose columns only
    the gaps common to all rows make. KPI targets (≥95%, ≤42人) count as the figures that start a
    table's body."""
    lines = []
    for k, (a, b, c, d) in enumerate([("项目名称", "档案数字化建设经费", "项目期", "3年"), ("主管部门", "某局", "实施单位", "某局"),
                                      ("项目属性", "经常性项目", "项目类型", "其他")]):
        lines += _row(100 + 50 * k, (100, 250, a), (330, 560, b), (800, 950, c), (1100, 1180, d))
    lines += _row(270, (100, 220, "总体目标"), (330, 780, "通过项目实施，保障单位正常运转，确保"),
                  (820, 1290, "通过项目实施，保障单位正常运转，确保"))
    lines += _row(330, (100, 200, "一级指标"), (260, 380, "二级指标"), (480, 600, "三级指标"), (700, 780, "指标值"),
                  (900, 1020, "二级指标"), (1110, 1230, "三级指标"), (1260, 1330, "指标值"))
    for k, (name, v) in enumerate([("检查次数", "≥28次"), ("公务出行人数", "≤42人"), ("设备完好率", "≥95%"), ("培训人次", "175人次")]):
        y = 380 + 50 * k
        lines += _row(y, (100, 200, "产出指标"), (260, 340, "数量"), (480, 480 + 20 * len(name), name), (700, 780, v),
                      (900, 980, "数量"), (1110, 1110 + 20 * len(name), name), (1260, 1335, v))
    regions = text_table_regions(lines, 1400)
    assert len(regions) >= 2, regions
    assert not any(r[1] < 275 < r[3] for r in regions), regions  # the sentence row is in no part
    kpi = next(r for r in regions if r[1] >= 320)
    g = table_from_lines([ln for ln in lines if kpi[1] - 1 <= ln.bbox[1] and ln.bbox[3] <= kpi[3] + 1])
    assert g is not None and g.n_cols == 7 and g.n_rows == 5, (g.n_rows, g.n_cols) if g else None


def test_a_label_centred_on_blank_cells_spans_their_rows():
    """A KPI grid without rules: 一级指标 and 二级指标 written once, centred on the rows they head (一级
    over five rows; 二级: three rows, then one, above a blank). Each is one cell spanning the rows it is
    centred on, as the rulings would have drawn it; a label not centred on the blank under it keeps its
    one row; the 三级指标 names and targets stay one per row."""
    lines = _row(100, (100, 220, "一级指标"), (300, 420, "二级指标"), (520, 640, "三级指标"), (800, 880, "指标值"))
    names = [("检查次数", "≥28次"), ("公务出行人数", "≤42人"), ("培训人次", "175人次"), ("设备完好率", "≥95%"), ("验收合格率", "96%")]
    for k, (name, v) in enumerate(names):
        lines += _row(150 + 50 * k, (520, 520 + 20 * len(name), name), (800, 800 + 15 * len(v), v))
    lines += _row(200, (300, 360, "数量"))                  # centred on rows 1-3
    lines += _row(300, (300, 360, "质量"))                  # row 4, a blank under it
    lines += _row(250, (100, 220, "产出指标"))              # centred on rows 1-5
    g = table_from_lines(lines)
    assert g is not None and (g.n_rows, g.n_cols) == (6, 4), (g.n_rows, g.n_cols) if g else None
    span = {(c.row, c.col): c.rowspan for c in g.cells}
    assert span[(1, 0)] == 5 and span[(1, 1)] == 3, sorted(span.items())
    assert span[(4, 1)] == 1 and span[(5, 1)] == 1
    assert all(span[(r, 2)] == 1 and span[(r, 3)] == 1 for r in range(6))


def test_narrow_columns_of_wrapped_labels_are_two_columns():
    """Narrow label columns (一级指标 | 二级指标) whose texts fill them, on a page that continues a
    KPI grid (no header band above to show the columns): the blank between the two columns'
    texts is only two paddings wide (two thirds of a character's height), which no row crosses.
    It was taken for too narrow a gap and the two columns were read as one ("服务对象满意度指满意度
    指标标" on heavy 三线表 KPI pages)."""
    lines = []
    body = [("产出指标", "数量指标", "发放补贴人数", "62人"), ("效益指标", "社会效益", "群众知晓率", "≥90%"),
            ("满意度指", "服务对象", "服务对象满意度", "≥95%"), ("成本指标", "经济成本", "项目总成本", "≤42万元")]
    for k, (a, b, c, d) in enumerate(body):
        lines += _row(150 + 50 * k, (100, 190, a), (202, 292, b), (400, 400 + 20 * len(c), c), (720, 780, d))
    g = table_from_lines(lines)
    assert g is not None and (g.n_rows, g.n_cols) == (4, 4), None if g is None else (g.n_rows, g.n_cols)
    assert 190 <= g.col_edges[1] <= 202


def _kpi_grid_lines(y: float) -> list[Line]:
    lines = _row(y, (100, 190, "一级指标"), (230, 320, "二级指标"), (400, 520, "三级指标"), (720, 780, "指标值"))
    body = [("产出指标", "数量指标", "发放补贴人数", "62人"), ("效益指标", "社会效益", "群众知晓率", "≥90%"),
            ("满意度指", "服务对象", "服务对象满意度", "≥95%")]
    for k, (a, b, c, d) in enumerate(body):
        lines += _row(y + 50 * (k + 1), (100, 190, a), (230, 320, b), (400, 400 + 20 * len(c), c), (720, 780, d))
    return lines


def test_form_rows_above_a_grid_from_text_join_it_up_to_the_title():
    """A KPI form continued on a new page (borderless): rows of a label and a text (立项依据 |
    …, 总体目标 | 实施期目标 / 年度目标) stand above the grid of 一级 / 二级 / 三级指标. They are the
    form's rows, so the table starts at the first of them, not at the grid (borderless heavy
    pages lost them all); the title above is not taken, nor is a prose paragraph (it runs across
    the first column's edge)."""
    grid = _kpi_grid_lines(400)
    g = table_from_lines(grid)
    assert g is not None and g.n_rows == 4
    form = _row(250, (100, 190, "立项依据"), (230, 700, "根据部门职能和年度工作计划列入年初预算")) + \
        _row(300, (100, 190, "总体目标"), (250, 380, "实施期目标"), (560, 660, "年度目标"))
    title = _row(150, (300, 600, "2025年项目支出绩效目标表"))
    t = extend_up(g, title + form + grid)
    assert t.n_rows == 6 and 150 + H < t.bbox[1] < 250, (t.n_rows, t.bbox)
    texts = {(c.row, c.col): c for c in t.cells}
    assert texts[(0, 0)].bbox[2] <= 230 and texts[(1, 0)].bbox[2] <= 250  # the labels in the first column
    assert len([c for c in t.cells if c.row == 1]) == 3  # 总体目标 | 实施期目标 | 年度目标
    prose = _row(200, (100, 700, "本单位根据年度工作安排编制项目支出绩效目标如下"))
    t = extend_up(g, prose + form + grid)
    assert t.n_rows == 6 and t.bbox[1] > 200 + H  # the paragraph ends the search
    assert extend_up(g, prose + grid).n_rows == 4  # no form row at all: the grid as it was
