"""Fast tests of the synthetic scan generator (scripts/synth)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import synth  # noqa: E402
from synth.seeds import parse_seed  # noqa: E402
from synth.spec import TableSpec  # noqa: E402

SEEDS = sorted((ROOT.parent / "shared" / "seeds").glob("*.txt"))


def _check_tiling(tb):
    n_rows, n_cols = tb["n_rows"], tb["n_cols"]
    cover = np.zeros((n_rows, n_cols), int)
    x0, y0, x1, y1 = tb["bbox"]
    for c in tb["cells"]:
        assert c["rowspan"] >= 1 and c["colspan"] >= 1
        cover[c["row"]:c["row"] + c["rowspan"], c["col"]:c["col"] + c["colspan"]] += 1
        bx0, by0, bx1, by1 = c["bbox"]
        assert x0 <= bx0 < bx1 <= x1 and y0 <= by0 < by1 <= y1, (c, tb["bbox"])
    assert (cover == 1).all(), "cells must tile the grid exactly once"
    assert len(tb["cells"]) == len({(c["row"], c["col"]) for c in tb["cells"]})


def _all_tables(truth):
    for p in truth["pages"]:
        for tb in p["tables"]:
            yield p, tb


@pytest.fixture(scope="module")
def synthetic_doc(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn")
    truth = synth.render_document(out, seed=3, source=None, severity="medium", dpi=100, max_pages=6)
    return out, truth


def test_render_document_pdf_and_truth(synthetic_doc):
    out, truth = synthetic_doc
    import pypdfium2 as pdfium
    assert (out / "truth.json").exists()
    on_disk = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    assert on_disk["pages"] == json.loads(json.dumps(truth["pages"], ensure_ascii=False))
    pdf = pdfium.PdfDocument(str(out / "doc.pdf"))
    assert len(pdf) == len(truth["pages"]) <= 6
    for i in range(len(pdf)):
        page = pdf[i]
        assert page.get_textpage().get_text_range() == ""
        w, h = page.get_size()
        assert abs(w - truth["pages"][i]["width"] * 72 / 100) < 2
        assert abs(h - truth["pages"][i]["height"] * 72 / 100) < 2
    pdf.close()
    assert truth["dpi"] == 100 and truth["source"] == "doc.pdf"
    for p in truth["pages"]:
        assert p["rotation"] == 0 and abs(p["skew"]) <= 2.0
        for para in p["paragraphs"]:
            x0, y0, x1, y1 = para["bbox"]
            assert 0 <= x0 < x1 <= p["width"] and 0 <= y0 < y1 <= p["height"] and para["text"]


def test_tables_tile_and_nest(synthetic_doc):
    _, truth = synthetic_doc
    n = 0
    for p, tb in _all_tables(truth):
        _check_tiling(tb)
        x0, y0, x1, y1 = tb["bbox"]
        assert 0 <= x0 < x1 <= p["width"] and 0 <= y0 < y1 <= p["height"]
        if tb["continued_from"] is not None:
            pg, idx = tb["continued_from"]
            assert pg == p["page"] - 1
            prev = truth["pages"][pg - 1]["tables"][idx]
            assert prev["n_cols"] == tb["n_cols"]
            assert tb["title"] is None
        n += 1
    assert n >= 3


def test_deterministic(tmp_path):
    a = synth.render_document(tmp_path / "a", seed=11, severity="light", dpi=72, max_pages=2)
    b = synth.render_document(tmp_path / "b", seed=11, severity="light", dpi=72, max_pages=2)
    assert a == b
    assert (tmp_path / "a" / "doc.pdf").read_bytes() == (tmp_path / "b" / "doc.pdf").read_bytes()
    c = synth.render_document(tmp_path / "c", seed=12, severity="light", dpi=72, max_pages=2)
    assert c["pages"] != a["pages"]


def test_wrapped_text_is_joined():
    long = "市县（区）财政资金用于保障部门职工正常公务出行以及其他业务工作的顺利开展，" * 3
    cells = [(0, 0, 1, 1, "项目"), (0, 1, 1, 1, "说明"), (1, 0, 1, 1, "A"), (1, 1, 1, 1, long),
             (2, 0, 1, 2, "合计 1,021.29")]
    img, truth = synth.render_table_page(cells, 3, 2, seed=1, dpi=100, title="测试表")
    tb = truth["tables"][0]
    _check_tiling(tb)
    texts = {(c["row"], c["col"]): c["text"] for c in tb["cells"]}
    assert texts[(1, 1)] == long
    assert texts[(2, 0)] == "合计 1,021.29"
    assert tb["title"] == "测试表"
    # the long cell wrapped: its row is taller than the one-line row
    rows = {c["row"]: c["bbox"] for c in tb["cells"] if c["col"] == 0}
    assert (rows[1][3] - rows[1][1]) > 1.5 * (rows[0][3] - rows[0][1])
    assert img.dtype == np.uint8 and img.ndim == 2 and truth["width"] == img.shape[1]


def test_table_page_rotation_and_skew():
    cells = [(r, c, 1, 1, f"{r}-{c}") for r in range(4) for c in range(3)]
    img0, t0 = synth.render_table_page(cells, 4, 3, dpi=72, severity="clean")
    img1, t1 = synth.render_table_page(cells, 4, 3, dpi=72, severity="medium", rotation=90, skew=1.5)
    assert img1.shape == (img0.shape[1], img0.shape[0])
    assert t1["rotation"] == 90 and t1["skew"] == 1.5 and t0["skew"] == 0.0
    assert t1["tables"][0]["bbox"] == t0["tables"][0]["bbox"]   # truth stays in the upright frame
    # clean render: the ruling lines lie where the truth says
    x0, y0, x1, y1 = t0["tables"][0]["bbox"]
    assert img0[y0, (x0 + x1) // 2] < 128 and img0[(y0 + y1) // 2, x0] < 128


def test_merged_cells_from_spans():
    cells = [(0, 0, 2, 1, "科目编码"), (0, 1, 1, 2, "预算数"), (1, 1, 1, 1, "基本支出"), (1, 2, 1, 1, "项目支出"),
             (2, 0, 1, 1, "201"), (2, 1, 1, 1, "1,021.29"), (2, 2, 1, 1, "0.00")]
    _, truth = synth.render_table_page(cells, 3, 3, dpi=72, header_rows=2)
    tb = truth["tables"][0]
    _check_tiling(tb)
    by = {(c["row"], c["col"]): c for c in tb["cells"]}
    assert by[(0, 0)]["rowspan"] == 2 and by[(0, 1)]["colspan"] == 2
    assert by[(0, 1)]["bbox"][2] == by[(1, 2)]["bbox"][2]


@pytest.mark.skipif(not SEEDS, reason="seed transcripts not available")
def test_seed_parsing_gives_valid_grids():
    doc = parse_seed(SEEDS[0])
    tables = [b for b in doc.blocks if isinstance(b, TableSpec)]
    assert len(tables) >= 5
    assert any(t.kind == "kpi" for t in tables)
    for t in tables:
        t.validate()
    kpi = next(t for t in tables if t.kind == "kpi")
    # 一级指标 column merges vertically
    assert any(c.col == 1 and c.rowspan > 1 for c in kpi.cells)
    assert doc.dept


@pytest.mark.skipif(not SEEDS, reason="seed transcripts not available")
def test_seed_document_varied(tmp_path):
    truth = synth.render_document(tmp_path, seed=2, source=str(SEEDS[0]), severity="heavy", dpi=72, max_pages=4)
    assert len(truth["pages"]) == 4
    for _, tb in _all_tables(truth):
        _check_tiling(tb)
    seed_text = SEEDS[0].read_text(encoding="utf-8")
    assert truth["department"] and truth["department"] not in seed_text


def test_sample_is_committed_and_consistent():
    pdf_path = ROOT / "samples" / "sample.pdf"
    truth_path = ROOT / "samples" / "sample.truth.json"
    if not pdf_path.exists():
        pytest.skip("sample not rendered")
    import pypdfium2 as pdfium
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    pdf = pdfium.PdfDocument(str(pdf_path))
    assert len(pdf) == len(truth["pages"]) == 3
    assert pdf_path.stat().st_size < 1.5e6
    assert truth["pages"][2]["tables"][0]["continued_from"] == [2, 0]
    pdf.close()
