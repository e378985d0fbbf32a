"""Born-digital and mixed PDFs (issue 20): a trusted text layer is read with no OCR, and every page
whose layer cannot be trusted is OCR'd and says why. The documents are real PDFs: a scan rendered by
scripts/synth and the same document written born-digital with reportlab (scripts/synth/digital.py),
plus the hard cases built from them."""
from __future__ import annotations

import json

import pytest

from extractor.evaluate import score_document
from extractor.textlayer.trust import common_set, decode_problem



@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    from synth import render_document
    from synth.digital import write_digital, write_mixed, write_mojibake, write_ocr_layer, write_pasted

    d = tmp_path_factory.mktemp("digital")
    truth = render_document(d, seed=9700, severity="light", dpi=200, max_pages=4, family="union", kind="compact")
    out = {"truth": truth, "scan": d / "doc.pdf",
           "excel": write_digital(truth, d / "excel.pdf", "excel", seed=9700),
           "word": write_digital(truth, d / "word.pdf", "word", seed=9700)}
    out["ocr_layer"] = write_ocr_layer(out["scan"], truth, d / "ocr_layer.pdf")
    out["mojibake"] = write_mojibake(out["excel"], d / "mojibake.pdf")
    out["pasted"] = write_pasted(out["scan"], truth, d / "pasted.pdf", [2])
    n = len(truth["pages"])
    out["mixed"] = write_mixed([(out["scan"] if i % 2 else out["word"], [i + 1]) for i in range(n)], d / "mixed.pdf")
    return out


@pytest.fixture(scope="module")
def serial():
    """Pages in this process (a spy set on the recogniser sees every crop)."""
    from extractor.config import Settings
    from extractor.pipeline import Pipeline

    pipe = Pipeline(Settings(workers=1))
    yield pipe
    pipe.close()


class _CountingRecognizer:
    def __init__(self, inner):
        self.inner, self.crops = inner, 0
        self.chars = inner.chars

    def __call__(self, crops, **kw):
        self.crops += len(crops)
        return self.inner(crops, **kw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.mark.parametrize("style", ["excel", "word"])
def test_a_born_digital_document_is_read_from_its_text_layer_without_ocr(serial, docs, style, monkeypatch):
    spy = _CountingRecognizer(serial.recognizer)
    monkeypatch.setattr(serial, "recognizer", spy)
    monkeypatch.setattr(serial.reader, "rec", spy)  # the cell reader holds its own reference
    doc = serial.run(docs[style], dpi=200)
    assert spy.crops == 0  # not one crop sent to the recogniser
    assert {p.text_source for p in doc.pages} == {"pdf"} and all(p.text_layer for p in doc.pages)
    m = score_document(doc, docs["truth"]).summary()
    assert m["tables_f1"] == 1.0 and m["text"] == 1.0 and m["numeric"] == 1.0 and m["kpi_f1"] == 1.0
    cells = [c for t in doc.tables() for c in t.cells]
    assert cells and all(t.text_source == "pdf" for t in doc.tables())
    assert min(c.confidence for c in cells if c.text and not any(ch.startswith("-") for ch in c.checks)) >= 0.9
    # the boxes are the scan's: the same page size at the same dpi (to the renderer's rounding)
    for p, tp in zip(doc.pages, docs["truth"]["pages"]):
        assert abs(p.width - tp["width"]) <= 1 and abs(p.height - tp["height"]) <= 1


def test_text_layer_off_reads_the_same_file_by_ocr(docs):
    from extractor.config import Settings
    from extractor.pipeline import Pipeline

    pipe = Pipeline(Settings(workers=1, text_layer=False))
    try:
        doc = pipe.run(docs["word"], pages="2", dpi=200)
    finally:
        pipe.close()
    p = doc.pages[0]
    assert p.text_source == "ocr" and "text_layer: false" in p.text_source_reason and not p.text_layer
    assert p.tables and all(t.text_source is None for t in p.tables)


def test_an_ocr_layer_over_a_scan_is_not_trusted(serial, docs):
    doc = serial.run(docs["ocr_layer"], pages="2-3", dpi=200)
    for p in doc.pages:
        assert p.text_source == "ocr" and "scanned image" in p.text_source_reason
    assert score_document(doc, docs["truth"]).summary()["numeric"] >= 0.95  # the OCR's own reading


def test_mojibake_text_layer_is_ocrd_and_the_page_says_why(serial, docs):
    doc = serial.run(docs["mojibake"], pages="2", dpi=200)
    p = doc.pages[0]
    assert p.text_source == "ocr" and "garbage" in p.text_source_reason and "private-use" in p.text_source_reason
    cells = [c for t in p.tables for c in t.cells if c.text]
    assert cells and not any("\ue000" <= ch <= "\uf8ff" for c in cells for ch in c.text)


def test_a_mixed_file_is_read_page_by_page(serial, docs):
    doc = serial.run(docs["mixed"], dpi=200)
    assert [p.text_source for p in doc.pages] == ["pdf" if i % 2 == 0 else "ocr" for i in range(len(doc.pages))]
    assert all(p.text_source_reason == "no text layer" for p in doc.pages if p.text_source == "ocr")
    m = score_document(doc, docs["truth"]).summary()
    assert m["tables_f1"] == 1.0 and m["numeric"] >= 0.98
    links = [t for t in doc.tables() if t.continued_from]
    true_links = [t for p in docs["truth"]["pages"] for t in p["tables"] if t.get("continued_from") is not None]
    assert len(links) == len(true_links)  # continuations joined across a scanned and a born-digital page


def test_a_table_pasted_in_as_a_picture_is_ocrd_on_a_born_digital_page(serial, docs):
    """Page 2's tables are pictures cut from the scan (no characters, no vector rules); its other
    text is the file's: the page is mixed, the pictured tables read by OCR, nothing left empty."""
    doc = serial.run(docs["pasted"], pages="2-3", dpi=200)
    p2, p3 = doc.pages
    assert p2.text_source == "mixed" and "pasted in as images" in p2.text_source_reason and p2.text_layer
    assert p2.tables and all(t.text_source is None for t in p2.tables)  # OCR'd
    assert p3.text_source == "pdf" and all(t.text_source == "pdf" for t in p3.tables)
    truth = dict(docs["truth"], pages=[tp for tp in docs["truth"]["pages"] if tp["page"] in (2, 3)])
    m = score_document(doc, truth).summary()
    assert m["tables_f1"] == 1.0 and m["numeric"] >= 0.98 and m["text"] >= 0.97


def test_decode_checks_name_what_is_wrong(serial):
    common = common_set(serial.recognizer.chars)  # the recogniser's own dictionary, as the reader uses it
    sensible = "一般公共服务支出住房保障支出社会保障和就业支出行政运行合计基本支出项目支出"
    assert decode_problem(sensible, common) == ""
    assert "private-use" in decode_problem("".join(chr(0xE000 + i) for i in range(40)), common)
    rare = "".join(chr(0x9F00 + i) for i in range(40))  # rare CJK: what a map to arbitrary code points gives
    assert "common" in decode_problem(rare, common)
    assert decode_problem(rare) == ""  # without a dictionary that test is not made


def test_schema_names_the_text_source():
    from extractor.model import SCHEMA_VERSION, Document

    schema = json.dumps(Document.model_json_schema())
    assert SCHEMA_VERSION == "1.5" and "text_source" in schema and "text_source_reason" in schema


def test_text_drawn_without_ink_never_reaches_a_cell(serial, tmp_path):
    """A hostile born-digital file hides a white "9" in front of a figure: the page shows 1000.00,
    and so must the output (a character a reader cannot see is left out, and the page says so)."""
    from reportlab.pdfgen import canvas

    from synth.digital import _font

    font, path = _font("word"), tmp_path / "white.pdf"
    c = canvas.Canvas(str(path), pagesize=(595, 842))
    c.setFont(font, 10)
    for r in range(12):
        y = 700 - r * 25
        c.rect(80, y, 200, 25)
        c.rect(280, y, 120, 25)
        c.drawString(85, y + 8, f"科目名称第{r}行支出")
        c.drawRightString(395, y + 8, f"{1000 + r}.00")
    c.setFillColorRGB(1, 1, 1)
    c.drawString(330, 708, "9")
    c.showPage()
    c.save()
    p = serial.run(path, dpi=200).pages[0]
    assert p.text_source == "pdf" and "1 drawn without ink left out" in p.text_source_reason
    figures = [c.text for t in p.tables for c in t.cells if c.col == 1]
    assert figures[:2] == ["1000.00", "1001.00"] and not any("9" in f[:1] for f in figures)
