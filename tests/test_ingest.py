"""Ingest and bad input: every kind of unreadable file gets a one-line error naming the file and
the reason, from the library and from the CLI (exit status 1, no traceback)."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from extractor.ingest import InputError, iter_pages, open_source, parse_page_range


def _pdf_from_images(path, images, dpi=100):
    pil = [Image.fromarray(a) for a in images]
    pil[0].save(path, save_all=True, append_images=pil[1:], resolution=dpi)


@pytest.fixture
def two_page_pdf(tmp_path):
    a = np.full((300, 200), 255, np.uint8)
    a[100:120, 50:150] = 0
    b = np.full((300, 200), 200, np.uint8)
    p = tmp_path / "two.pdf"
    _pdf_from_images(p, [a, b])
    return p


def test_pdf_pages_render_at_requested_dpi(two_page_pdf):
    pages = list(iter_pages(two_page_pdf, dpi=200))
    assert [p.number for p in pages] == [1, 2]
    # 200 px at 100 dpi = 2 inch -> 400 px at 200 dpi
    assert pages[0].gray.shape == (600, 400) and pages[0].gray.dtype == np.uint8
    assert pages[0].gray[200:240, 100:300].mean() < 60 and pages[1].gray.mean() > 150


def test_page_range_and_multipage_tiff(tmp_path):
    assert parse_page_range("1-3,5", 10) == [1, 2, 3, 5]
    assert parse_page_range("8-", 10) == [8, 9, 10]
    assert parse_page_range(None, 3) == [1, 2, 3]
    frames = [Image.fromarray(np.full((64, 64), v, np.uint8)) for v in (10, 120, 250)]
    p = tmp_path / "scan.tiff"
    frames[0].save(p, save_all=True, append_images=frames[1:])
    got = list(iter_pages(p, pages="2-3"))
    assert [g.number for g in got] == [2, 3]
    assert got[0].gray.mean() == pytest.approx(120, abs=1)


@pytest.mark.parametrize("kind", ["corrupt", "empty", "text", "truncated", "encrypted", "huge", "missing"])
def test_bad_input_error_names_file_and_reason(tmp_path, two_page_pdf, kind):
    p = tmp_path / f"{kind}.pdf"
    reason = {"corrupt": "corrupt", "empty": "empty", "text": "not a PDF", "truncated": "corrupt",
              "encrypted": "encrypted", "huge": "too large", "missing": "no such file"}[kind]
    if kind == "corrupt":
        p.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
    elif kind == "empty":
        p.write_bytes(b"")
    elif kind == "text":
        p = tmp_path / "notes.txt"
        p.write_text("this is not a pdf")
    elif kind == "truncated":
        data = two_page_pdf.read_bytes()
        p.write_bytes(data[: len(data) // 3])
    elif kind == "encrypted":
        import pikepdf

        with pikepdf.open(two_page_pdf) as pdf:
            pdf.save(p, encryption=pikepdf.Encryption(user="secret", owner="owner"))
    elif kind == "huge":
        p = tmp_path / "huge.png"
        Image.new("L", (12000, 12000), 255).save(p)
    with pytest.raises(InputError) as ei:
        src = open_source(p)
        for n in range(1, src.n_pages + 1):
            from extractor.ingest import render_page

            render_page(src, n)
    assert str(p) in str(ei.value) and reason in ei.value.reason


def _extract_corrupt(tmp_path, name: str):
    """`extractor extract` run on a corrupt PDF called ``name``: (the run, its non-blank stderr lines)."""
    p = tmp_path / name
    p.write_bytes(b"%PDF-1.4 garbage")
    r = subprocess.run([sys.executable, "-m", "extractor.cli", "extract", str(p), "-o", str(tmp_path / "o.json")],
                       capture_output=True, text=True)
    assert r.returncode == 1
    return r, [l for l in r.stderr.splitlines() if l.strip()]


def test_cli_reports_bad_file_in_one_line(tmp_path):
    r, lines = _extract_corrupt(tmp_path, "broken.pdf")
    assert len(lines) == 1 and "broken.pdf" in lines[0] and "corrupt" in lines[0]
    assert "Traceback" not in r.stderr and not (tmp_path / "o.json").exists()


def test_cli_a_file_name_cannot_forge_a_line_of_output(tmp_path):
    """A corrupt file whose name holds a newline, a carriage return and an ESC (a hostile name in an
    archive): the error is still one line, the name's control characters written as escapes, so
    the name cannot print a line of its own (a fake "done") or send a terminal escape sequence."""
    r, lines = _extract_corrupt(tmp_path, "a.pdf\nok: 3 pages, 2 tables\r\x1b[2K.pdf")
    assert len(lines) == 1 and "corrupt" in lines[0], r.stderr
    assert "\r" not in r.stderr and "\x1b" not in r.stderr
    assert "a.pdf\\nok: 3 pages, 2 tables\\r\\x1b[2K.pdf" in lines[0]


def test_cli_reads_a_file_whose_name_is_not_utf8(tmp_path):
    """A file name with bytes that are not UTF-8 (issue 17): the file is read, and the JSON and the
    CSVs carry the name with each such byte written \\xNN (the OS gives them as lone surrogates,
    which JSON refuses: the extraction used to crash on writing its output)."""
    import json
    import os
    import shutil
    from pathlib import Path

    name = os.fsdecode(os.fsencode(str(tmp_path)) + b"/bad\xff\xfe.pdf")
    shutil.copy(Path(__file__).resolve().parents[1] / "samples" / "sample.pdf", name)
    r = subprocess.run([sys.executable, "-m", "extractor.cli", "extract", name, "-o", str(tmp_path / "o.json"),
                        "--pages", "1", "--csv", str(tmp_path / "csv")], capture_output=True)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    doc = json.loads((tmp_path / "o.json").read_text(encoding="utf-8"))
    assert doc["source"] == f"{tmp_path}/bad\\xff\\xfe.pdf" and doc["pages"][0]["tables"]
    assert [p.name for p in (tmp_path / "csv").iterdir()] == ["bad\\xff\\xfe_p1_t0.csv"]
