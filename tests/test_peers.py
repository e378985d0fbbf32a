"""The peer baselines (scripts/peers) run on a rendered page and give tables with text.
Each test is skipped, with the reason, where its peer is not installed (scripts/peers/setup.sh)."""
import pytest

import peers
import synth
from extractor.evaluate import norm

CELLS = [
    (0, 0, 1, 1, "项目"), (0, 1, 1, 1, "2023年"), (0, 2, 1, 1, "2024年"),
    (1, 0, 1, 1, "一般公共服务支出"), (1, 1, 1, 1, "545.01"), (1, 2, 1, 1, "560.20"),
    (2, 0, 1, 1, "住房保障支出"), (2, 1, 1, 1, "14.91"), (2, 2, 1, 1, "15.30"),
    (3, 0, 1, 1, "合计"), (3, 1, 1, 1, "559.93"), (3, 2, 1, 1, "575.50"),
]


@pytest.fixture(scope="module")
def page():
    img, truth = synth.render_table_page(CELLS, 4, 3, seed=5, severity="light", title="2024年预算支出总表")
    return img, truth


def _run(name, page):
    why = peers.available([name])[name]
    if why:
        pytest.skip(f"{name} not available here: {why}")
    img, truth = page
    p = peers.load(name)
    try:
        doc = p.extract([img])
    finally:
        p.close()
    assert len(doc.pages) == 1 and doc.pages[0].seconds is not None
    tables = doc.pages[0].tables
    assert tables, f"{name} found no table"
    texts = [norm(c.text) for t in tables for c in t.cells if c.text.strip()]
    assert texts, f"{name} read no text"
    for t in tables:
        assert t.n_rows >= 1 and t.n_cols >= 1 and len(t.bbox) == 4
        assert all(0.0 <= c.confidence <= 1.0 for c in t.cells)
    # the numbers of a clean ruled page are read by any of them
    assert sum(v in texts for v in ("545.01", "559.93", "14.91")) >= 2, texts
    return doc


def test_rapidocr_rows(page):
    doc = _run("rapidocr-rows", page)
    t = doc.pages[0].tables[0]
    assert t.n_cols == 3, t.grid()


def test_img2table_rapidocr(page):
    doc = _run("img2table-rapidocr", page)
    t = doc.pages[0].tables[0]
    assert (t.n_rows, t.n_cols) == (4, 3), t.grid()


def test_registry():
    assert set(peers.PEERS) == {"img2table-rapidocr", "img2table-tesseract", "slanet-rapidocr", "rapidocr-rows"}
    why = peers.available()
    assert set(why) == set(peers.PEERS)
    assert all(v is None or isinstance(v, str) for v in why.values())
