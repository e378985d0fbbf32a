"""End-to-end behaviour of the pipeline on rendered scans with exact ground truth:
grids with spans, wrapped text, orientation, deskew, continuation, blank pages, the CLI."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import synth
from extractor.evaluate import norm, score_document
from extractor.export import read_json
from extractor.kpi.tables import annotate_tables
from extractor.model import SCHEMA_VERSION, Document

ROOT = Path(__file__).resolve().parents[1]

# a KPI-like grid: merged header, 一级 merged over 4 rows, 二级 over 2, wrapped long text, numbers
CELLS = [
    (0, 0, 1, 2, "绩效指标"), (0, 2, 1, 1, "三级指标"), (0, 3, 1, 1, "指标值"), (0, 4, 1, 1, "资金（元）"),
    (1, 0, 4, 1, "产出指标"), (1, 1, 2, 1, "数量指标"), (1, 2, 1, 1, "新闻稿件数量"), (1, 3, 1, 1, "≥500篇"), (1, 4, 1, 1, "1,021.29"),
    (2, 2, 1, 1, "专版再发时段为每半个月按时完成并及时归档全部稿件资料"), (2, 3, 1, 1, "按时"), (2, 4, 1, 1, "300,000"),
    (3, 1, 1, 1, "质量指标"), (3, 2, 1, 1, "刊发新闻达标率"), (3, 3, 1, 1, "100%"), (3, 4, 1, 1, "0.00"),
    (4, 1, 1, 1, "成本指标"), (4, 2, 1, 1, "出版费"), (4, 3, 1, 1, "30万元"), (4, 4, 1, 1, "39.23%"),
    (5, 0, 1, 2, "满意度指标"), (5, 2, 1, 1, "读者满意度"), (5, 3, 1, 1, "≥98%"), (5, 4, 1, 1, ""),
]
N_ROWS, N_COLS = 6, 5


def _check(page, truth, min_text=1.0):
    assert len(page.tables) == 1, [t.bbox for t in page.tables]
    t = page.tables[0]
    tt = truth["tables"][0] if "tables" in truth else truth["pages"][0]["tables"][0]
    assert (t.n_rows, t.n_cols) == (tt["n_rows"], tt["n_cols"])
    got = {(c.row, c.col): (c.rowspan, c.colspan) for c in t.cells}
    want = {(c["row"], c["col"]): (c["rowspan"], c["colspan"]) for c in tt["cells"]}
    assert got == want
    texts = {(c.row, c.col): c.text for c in t.cells}
    right = sum(norm(texts[(c["row"], c["col"])]) == norm(c["text"]) for c in tt["cells"])
    assert right / len(tt["cells"]) >= min_text, [(texts[(c["row"], c["col"])], c["text"]) for c in tt["cells"]
                                                  if norm(texts[(c["row"], c["col"])]) != norm(c["text"])]
    return t


def _truth_page(truth):
    return truth["pages"][0] if "pages" in truth else truth


def test_exact_grid_spans_and_wrapped_text(pipeline):
    img, truth = synth.render_table_page(CELLS, N_ROWS, N_COLS, seed=3, severity="light", title="2024年项目绩效目标表")
    page = pipeline.process_image(img, 1, 200)
    annotate_tables(Document(source="page", pages=[page]))
    t = _check(page, _truth_page(truth))
    wrapped = next(c for c in t.cells if (c.row, c.col) == (2, 2))
    assert wrapped.ocr.n_lines >= 2 and wrapped.text == "专版再发时段为每半个月按时完成并及时归档全部稿件资料"
    assert next(c for c in t.cells if (c.row, c.col) == (5, 4)).text == ""  # empty cell stays empty
    assert all(0.0 <= c.confidence <= 1.0 for c in t.cells)
    assert t.title and "绩效目标表" in t.title and t.kind == "kpi_project"


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_orientation_is_detected_and_undone(pipeline, rotation):
    img, truth = synth.render_table_page(CELLS, N_ROWS, N_COLS, seed=5, severity="light", rotation=rotation)
    page = pipeline.process_image(img, 1, 200)
    assert (page.transform.rotation + rotation) % 360 == 0
    tp = _truth_page(truth)
    assert (page.width, page.height) == (tp["width"], tp["height"])
    _check(page, tp, min_text=0.95)


def test_upright_page_is_settled_by_reading_a_few_lines(pipeline, monkeypatch):
    """A page whose blobs do not clearly say "horizontal" is settled by the recogniser reading its
    first few flat lines upright: no quarter-turned reads and no 0/180 classifier are needed."""
    from extractor import clean

    img, truth = synth.render_table_page(CELLS, N_ROWS, N_COLS, seed=5, severity="light")
    monkeypatch.setattr(clean, "UPRIGHT_BLOB_RATIO", 1e9)  # the blob shortcut never applies
    calls = []

    def read(crops):
        calls.append(len(crops))
        return pipeline._read_score(crops)

    res = clean.clean_page(img, lambda crops: (_ for _ in ()).throw(AssertionError("classifier ran")), read)
    assert res.rotation == 0 and calls == [clean.UPRIGHT_READ_LINES]
    for rotation in (90, 180, 270):  # a turned page never passes for upright
        turned, _ = synth.render_table_page(CELLS, N_ROWS, N_COLS, seed=5, severity="light", rotation=rotation)
        small, s = clean._binarize_small(turned)
        _, upright = clean.detect_quarter_turn(turned, pipeline._read_score)
        assert not upright


def test_specks_do_not_hide_that_a_noisy_page_runs_horizontally(pipeline):
    """A heavy scan's specks are one blob whichever way ink is joined, pulling the blob ratio
    toward 1 (this page: 1.13, so the recogniser would be asked); counted without them the page is
    clearly horizontal and no read is needed, while the same page turned is still asked about."""
    from extractor import clean

    img, _ = synth.render_table_page(CELLS, N_ROWS, N_COLS, seed=2, severity="heavy")
    small, _ = clean._binarize_small(img)
    bw = clean._text_ink(small)
    bx, by = clean._blobs(bw, True, 5), clean._blobs(bw, False, 5)
    assert len(by) < clean.UPRIGHT_BLOB_RATIO * len(bx)  # with the specks: not clearly horizontal

    def no_read(crops):
        raise AssertionError("the recogniser was asked")

    assert clean.detect_quarter_turn(img, no_read) == (False, False)
    turned, _ = synth.render_table_page(CELLS, N_ROWS, N_COLS, seed=2, severity="heavy", rotation=90)
    calls = []
    assert clean.detect_quarter_turn(turned, lambda crops: calls.append(len(crops)) or pipeline._read_score(crops))[0]
    assert calls


def test_a_noisy_upright_page_read_at_length_is_settled_by_its_first_lines(pipeline, monkeypatch):
    """A heavy scan's first flat lines read below the clean-page bar, but over twenty characters
    at 0.85 or more: upright (turned pages read that long at 0.42 at best); turned, it is not."""
    from extractor import clean

    monkeypatch.setattr(clean, "UPRIGHT_BLOB_RATIO", 1e9)
    reads = []

    def read(crops):
        reads.append(pipeline._read_score(crops))
        return reads[-1]

    img, _ = synth.render_table_page(CELLS, N_ROWS, N_COLS, seed=7, severity="heavy")
    assert clean.detect_quarter_turn(img, read) == (False, True) and len(reads) == 1
    conf, chars = clean._mean_read(reads[0]), sum(n for _, n in reads[0])
    assert clean.UPRIGHT_LONG_READ_CONF <= conf < clean.UPRIGHT_READ_CONF and chars >= clean.UPRIGHT_LONG_READ_CHARS
    for rotation in (90, 180, 270):
        turned, _ = synth.render_table_page(CELLS, N_ROWS, N_COLS, seed=7, severity="heavy", rotation=rotation)
        assert clean.detect_quarter_turn(turned, pipeline._read_score)[1] is False


def test_a_noisy_upright_page_whose_turned_reads_show_nothing_stops_there(pipeline, monkeypatch):
    """On a heavy scan the first flat lines read too doubtfully to settle the page, so the
    recogniser reads the tall blobs turned both ways. When those show no text at all, no amount
    of flat-line evidence could make the page turned: the remaining flat lines are not read."""
    from extractor import clean

    monkeypatch.setattr(clean, "UPRIGHT_BLOB_RATIO", 1e9)
    calls = []

    def read(crops):
        calls.append(len(crops))
        return pipeline._read_score(crops)

    img, _ = synth.render_table_page(CELLS, N_ROWS, N_COLS, seed=1, severity="heavy")
    assert clean.detect_quarter_turn(img, read) == (False, False)
    assert len(calls) == 3 and calls[1] == calls[2]  # the first lines, then the tall blobs cw and ccw
    for rotation in (90, 270):  # turned, the full comparison still runs and finds it
        calls.clear()
        img, _ = synth.render_table_page(CELLS, N_ROWS, N_COLS, seed=1, severity="heavy", rotation=rotation)
        assert clean.detect_quarter_turn(img, read) == (True, False) and len(calls) == 5


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_sparse_cover_page_orientation(pipeline, rotation):
    """A cover page holds two title lines and a page number: too little ink for blob counts, and
    the page number's strokes read as "一" either way up. The turn is still found."""
    import cv2
    from PIL import Image, ImageDraw, ImageFont

    from extractor import clean

    font = ImageFont.truetype("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 56)
    im = Image.new("L", (1654, 2339), 255)
    d = ImageDraw.Draw(im)
    d.text((420, 800), "原安县宣传信息中心", font=font, fill=30)
    d.text((330, 960), "2022年度部门预算公开", font=font, fill=30)
    d.text((790, 2200), "- 1 -", font=ImageFont.truetype("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 28), fill=30)
    page = np.array(im)
    turned = cv2.rotate(page, {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}[rotation])
    res = clean.clean_page(turned, pipeline.classifier.__call__, pipeline._read_score)
    assert res.rotation == rotation


@pytest.mark.parametrize("skew", [1.8, -1.2, 0.7])
def test_skew_of_a_page_filled_by_one_grid(skew):
    """A ruled grid filling the page joins all its rulings into one blob and its cells hold short
    figures: the skew is still measured (it used to come out as +-0.6, and the grid then read
    slanted cells with pieces of the rulings in them)."""
    import cv2
    from PIL import Image, ImageDraw, ImageFont

    from extractor import clean

    font = ImageFont.truetype("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 26)
    im = Image.new("L", (1654, 2339), 255)
    d = ImageDraw.Draw(im)
    xs, ys = [150, 300, 450, 800, 1100, 1500], list(range(150, 2200, 68))
    for x in xs:
        d.line([(x, ys[0]), (x, ys[-1])], fill=0, width=3)
    for y in ys:
        d.line([(xs[0], y), (xs[-1], y)], fill=0, width=3)
    for i, y in enumerate(ys[:-1]):
        for j, x in enumerate(xs[2:-1]):
            d.text((x + 20, y + 18), f"{i * 3 + j}.5", font=font, fill=0)
    d.text((170, 1100), "绩效指标", font=font, fill=0)
    page = cv2.warpAffine(np.array(im), cv2.getRotationMatrix2D((827, 1170), skew, 1.0), (1654, 2339), borderValue=255)
    assert abs(clean.clean_page(page).skew + skew) < 0.2


@pytest.mark.parametrize("skew", [-3.5, 2.0])
def test_deskew_recovers_angle_and_grid(pipeline, skew):
    img, truth = synth.render_table_page(CELLS, N_ROWS, N_COLS, seed=7, severity="medium", skew=skew)
    tp = _truth_page(truth)
    page = pipeline.process_image(img, 1, 200)
    # the clean-up rotates back by the applied angle (opposite sign)
    assert abs(page.transform.skew + tp["skew"]) < 0.25
    t = _check(page, tp, min_text=0.95)
    # boxes are in the deskewed frame: the table box lands on the truth box
    assert max(abs(a - b) for a, b in zip(t.bbox, tp["tables"][0]["bbox"])) < 12


def test_blank_page_is_reported_not_fatal(pipeline):
    page = pipeline.process_image(np.full((2339, 1654), 250, np.uint8), 4, 200)
    assert page.tables == [] and page.failures and page.failures[0].category == "empty_page"


@pytest.mark.slow
def test_sample_document_end_to_end_with_continuation(pipeline):
    truth = json.loads((ROOT / "samples" / "sample.truth.json").read_text(encoding="utf-8"))
    doc = pipeline.run(ROOT / "samples" / "sample.pdf", dpi=truth["dpi"])
    m = score_document(doc, truth).summary()
    assert m["tables_f1"] == 1.0 and m["continuation"] == 1.0
    assert m["grid"] >= 0.95 and m["text"] >= 0.95 and m["numeric"] >= 0.98
    # the continuation's id points at the fragment on the page before
    p3 = doc.pages[2].tables[0]
    assert p3.continued_from == doc.pages[1].tables[-1].id and doc.pages[1].tables[-1].continues_to == p3.id


@pytest.mark.slow
def test_cli_writes_json_and_csv(tmp_path):
    out = tmp_path / "o.json"
    r = subprocess.run([sys.executable, "-m", "extractor.cli", "extract", str(ROOT / "samples" / "sample.pdf"),
                        "-o", str(out), "--csv", str(tmp_path / "csv"), "--pages", "1", "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    doc = read_json(out)
    assert doc.schema_version == SCHEMA_VERSION and doc.pages[0].tables[0].kind and doc.pages[0].tables[0].unit == "万元" and [p.page for p in doc.pages] == [1] and doc.n_pages == 3
    t = doc.pages[0].tables[0]
    csvs = sorted((tmp_path / "csv").glob("*_p*_t*.csv"))
    assert len(csvs) == len(doc.pages[0].tables)
    rows = csvs[0].read_text(encoding="utf-8-sig").splitlines()
    assert len(rows) == t.n_rows


def test_failing_document_stage_is_recorded_and_the_rest_goes_on(pipeline, monkeypatch):
    import extractor.finish as P

    def broken(doc):
        raise ValueError("planted fault")

    monkeypatch.setattr(P, "validate", broken)
    doc = pipeline.run(ROOT / "samples" / "sample.pdf", pages="1")
    assert doc.pages[0].tables and doc.pages[0].tables[0].kind  # the stages before and after still ran
    assert [(f.stage, "planted fault" in f.message) for f in doc.failures] == [("validate", True)]


@pytest.mark.slow
def test_page_workers_give_the_same_document(pipeline, tmp_path):
    """Pages spread over two worker processes come back in order and identical to a serial run,
    also when several files go through one after another with the next file's pages queued
    (run_many); an unreadable file among them is raised when its turn comes, named."""
    from extractor.config import Settings
    from extractor.ingest import InputError
    from extractor.pipeline import Pipeline

    sample = Path(__file__).resolve().parents[1] / "samples" / "sample.pdf"
    bad = tmp_path / "scan.pdf"
    bad.write_bytes(b"%PDF-1.4 this is not a PDF")
    par = Pipeline(Settings(workers=2))
    try:
        par.warm_up()  # both workers started and their models loaded before the first document
        assert len(par._pool._processes) == 2 and par._level_model is not None
        a = par.run(sample)
        many = list(par.run_many([sample, sample]))
        it = par.run_many([sample, bad, sample])
        first = next(it)
        with pytest.raises(InputError, match="scan.pdf"):
            next(it)
    finally:
        par.close()
    serial = Pipeline(Settings(workers=1)).run(sample)
    for doc in [a, *many, first]:
        assert [p.page for p in doc.pages] == [p.page for p in serial.pages] == [1, 2, 3]
        assert [t.grid() for t in doc.tables()] == [t.grid() for t in serial.tables()]
        assert len(doc.kpis) == len(serial.kpis) > 0


def test_missing_classifier_is_said_on_the_document_and_the_rest_runs(monkeypatch):
    """Without torch (or the model files) the KPI levels are not voted, every document with KPI
    rows says why, and everything else is extracted."""
    from extractor.config import Settings
    from extractor.kpi import classifier
    from extractor.pipeline import Pipeline

    def unavailable(*a, **k):
        raise ImportError("No module named 'torch'")

    monkeypatch.setattr(classifier.KpiClassifier, "load", classmethod(lambda cls, *a, **k: unavailable()))
    pipe = Pipeline(Settings(workers=1))
    pipe.warm_up()
    sample = Path(__file__).resolve().parents[1] / "samples" / "sample.pdf"
    for _ in range(2):
        doc = pipe.run(sample, pages="2-3")
        assert doc.kpis and doc.tables()
        assert [f.category for f in doc.failures] == ["classifier_unavailable"]
        assert "torch" in doc.failures[0].message


class _CountingLayout:
    """Stands in for the pipeline's layout model and counts the pages it is asked about."""

    def __init__(self, model):
        self.model, self.calls = model, 0

    def __call__(self, gray):
        self.calls += 1
        return self.model(gray)


UNRULED_NAMES = ["一般公共服务支出", "行政运行", "一般行政管理事务", "住房保障支出", "住房公积金", "教育支出",
                 "普通教育", "社会保障和就业支出", "卫生健康支出", "节能环保支出", "城乡社区支出", "农林水支出"]


def _unruled_table_page() -> np.ndarray:
    """A title and a 13 x 5 table laid out in aligned columns with no ruling at all."""
    from PIL import Image, ImageDraw, ImageFont

    font = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
    if not Path(font).exists():
        pytest.skip("fonts-noto-cjk is not installed")
    img = Image.new("L", (1654, 2339), 255)
    d = ImageDraw.Draw(img)
    f, ft = ImageFont.truetype(font, 28, index=2), ImageFont.truetype(font, 40, index=2)
    d.text((560, 200), "2024年部门收支预算表", font=ft, fill=0)
    xs = [200, 700, 920, 1140, 1360]
    for r in range(13):
        row = (["科目名称", "合计", "基本支出", "项目支出", "上年结转"] if r == 0 else
               [UNRULED_NAMES[r - 1]] + [f"{(r * 37 + k * 11) % 900 + 1.29:,.2f}" for k in range(4)])
        for x, t in zip(xs, row):
            d.text((x, 400 + 55 * r), t, font=f, fill=0)
    return np.asarray(img)


def test_unruled_table_is_found_through_the_layout_fallback(pipeline, monkeypatch):
    """Text in aligned columns outside any ruled grid asks the layout model, whose table region is
    rebuilt from the text's alignment."""
    spy = _CountingLayout(pipeline.layout)
    monkeypatch.setattr(pipeline, "layout", spy)
    page = pipeline.process_image(_unruled_table_page(), 1, 200)
    assert spy.calls == 1
    assert len(page.tables) == 1 and page.tables[0].source == "text"
    t = page.tables[0]
    assert t.n_rows >= 12 and t.n_cols >= 4
    texts = {c.text for c in t.cells}
    assert {"科目名称", "基本支出", "住房公积金"} <= texts
    assert any(r.source == "layout" for r in page.regions)


def test_ruled_page_skips_the_layout_model(pipeline, monkeypatch):
    """A page whose only table is ruled (a title and a prose line beside it) never runs the layout
    model: it could only propose tables the grid already has; the title is named by rule."""
    spy = _CountingLayout(pipeline.layout)
    monkeypatch.setattr(pipeline, "layout", spy)
    img, truth = synth.render_table_page(CELLS, N_ROWS, N_COLS, seed=3, severity="light", title="2024年项目绩效目标表")
    page = pipeline.process_image(img, 1, 200)
    assert spy.calls == 0
    _check(page, _truth_page(truth))
    assert [p.kind for p in page.paragraphs if "绩效目标表" in p.text] == ["title"]
    assert all(p.kind == "text" for p in page.paragraphs if p.text.endswith("。"))


def test_tabular_rows_tell_aligned_columns_from_prose():
    from extractor.layout import tabular_rows as _tabular_rows

    prose = [(100, 100 + 40 * i, 1500, 130 + 40 * i) for i in range(10)]
    assert not _tabular_rows(prose)
    # one row of two pieces far apart ("部门名称：…" … "单位：万元") above a ruled table
    assert not _tabular_rows(prose[:3] + [(100, 600, 500, 630), (1300, 600, 1500, 630)])
    # three rows of three pieces, or two close rows split at the same place
    cols = [(100, 300), (700, 820), (1100, 1220)]
    table = [(a, 600 + 45 * r, b, 630 + 45 * r) for r in range(3) for a, b in cols]
    assert _tabular_rows(prose[:3] + table)
    assert _tabular_rows(prose[:3] + table[:6])


def test_speckle_outside_the_tables_does_not_send_the_whole_page_to_text_detection(pipeline):
    """A noisy scan's lone specks darken a few pixels of nearly every row; the text detector is
    given only the bands of real ink (the title, the page number), not the whole page."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 40)
    im = Image.new("L", (1654, 2339), 255)
    draw = ImageDraw.Draw(im)
    draw.text((420, 150), "2024年部门预算公开表", font=font, fill=0)
    draw.text((800, 2230), "- 3 -", font=font, fill=0)
    page = np.array(im)
    rng = np.random.default_rng(4)
    ys, xs = rng.integers(0, page.shape[0], 15000), rng.integers(0, page.shape[1], 15000)
    page[ys, xs] = 0  # lone dark pixels: about 6 in every row
    assert ((page < 160).sum(axis=1) > 2).mean() > 0.9
    seen = []
    det = pipeline.detector

    class Spy:
        def __call__(self, img, **kw):
            seen.append(img.shape)
            return det(img, **kw)

    from extractor.ocr.bands import text_lines

    boxes = text_lines(Spy(), page, pipeline.s.det_band_max_side, pipeline.s.det_max_side)
    assert len(seen) == 1 and seen[0][0] < 0.15 * page.shape[0]  # two bands, not the page
    assert any(b[1] < 200 < b[3] and b[0] < 500 for b in boxes)  # the title
    assert any(b[1] < 2260 < b[3] for b in boxes)  # the page number


@pytest.mark.slow
def test_public_api_extracts_a_file_and_an_image_and_exports(tmp_path):
    """``from extractor import extract``: a file by path and a page image both give a finished
    Document (KPI/validate stages ran), and the Document writes JSON, CSV and Excel itself."""
    import openpyxl

    from extractor import extract
    from extractor.config import Settings

    s = Settings(workers=1)
    doc = extract(ROOT / "samples" / "sample.pdf", pages="1", settings=s)
    t = doc.pages[0].tables[0]
    assert [p.page for p in doc.pages] == [1] and t.kind and t.n_rows >= 5 and any(c.checks for c in t.cells)
    img, truth = synth.render_table_page(CELLS, N_ROWS, N_COLS, seed=5, severity="light")
    one = extract(img, dpi=200, settings=s)
    assert one.source == "<image>" and len(one.pages) == 1 and one.pages[0].tables
    assert one.pages[0].tables[0].n_rows == N_ROWS and one.pages[0].tables[0].n_cols == N_COLS
    assert Document.model_validate_json(doc.to_json(tmp_path / "d.json")).pages[0].tables[0].id == t.id
    rows = doc.to_csv(tmp_path / "c.csv").splitlines()
    assert rows[0].startswith("table_id,") and len(rows) == 1 + sum(len(x.cells) for x in doc.tables())
    assert (tmp_path / "c.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    wb = openpyxl.load_workbook(doc.to_excel(tmp_path / "d.xlsx"))
    assert len(wb.sheetnames) >= 1
    with pytest.raises(ValueError):
        extract(np.zeros((10, 10, 2), np.uint8), settings=s)
