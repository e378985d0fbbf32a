"""Born-digital budget PDFs (issue 20): the same documents as the scans, written with real text and
vector rulings, as Word or Excel would export them, and the hard cases of mixed archives.

    from synth.digital import write_digital, write_ocr_layer, write_mojibake, write_mixed
    write_digital(truth, "digital.pdf", style="excel", seed=1)

The drawing reads only a rendered document's ground truth (``truth.json``: page sizes, table cells
with boxes and text, paragraphs), so the born-digital file has exactly that truth: a cell's text is
written inside its box (wrapped to its width, lines joined again by the truth), every box where the
scan has it. Styles, independent ways of drawing (fit and check on different ones):

- ``excel``: every cell's border its own thin filled rectangle (as spreadsheet exports draw them),
  text in 宋体-like AR PL UMing, figures right-aligned;
- ``word``: each row and column rule one stroked line across the table, text in WenQuanYi Zen Hei,
  centred; 三线表 and borderless families keep their own rules (top, header, bottom, or none).

Hard cases: ``write_ocr_layer`` (the scan with an invisible OCR text layer over it, as scanners
write), ``write_pasted`` (born-digital pages with their tables pasted in as pictures of the scan),
``write_mojibake`` (a born-digital file whose fonts' ToUnicode maps point into the private
use area: it prints right and extracts as garbage) and ``write_mixed`` (scanned and born-digital
pages in one file).
"""
from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Optional

FONTS = {"excel": ("/usr/share/fonts/truetype/arphic/uming.ttc", 0, "uming"),
         "word": ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0, "zenhei")}
STYLES = tuple(FONTS)
NUMERIC = set("0123456789.,-%()（）")


def _font(style: str) -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    path, idx, name = FONTS[style]
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, path, subfontIndex=idx))
    return name


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines, cur = [], ""
    for ch in text:
        if cur and stringWidth(cur + ch, font, size) > width:
            lines.append(cur)
            cur = ""
        cur += ch
    return lines + ([cur] if cur else [])


def _fit(text: str, font: str, w: float, h: float, size: float) -> tuple[float, list[str]]:
    """The largest size up to ``size`` at which ``text`` wraps into the box."""
    while True:
        lines = _wrap(text, font, size, max(w, size))
        if len(lines) * size * 1.25 <= h or size <= 4:
            return size, lines
        size *= 0.9


def _text_in_box(c, text: str, box, font: str, size: float, align: str) -> None:
    x0, y0, x1, y1 = box  # points, y up
    pad = min(3.0, (x1 - x0) / 8)
    size, lines = _fit(text, font, x1 - x0 - 2 * pad, y1 - y0 - 2, size)
    lead = size * 1.25
    top = (y0 + y1) / 2 + len(lines) * lead / 2 - size * 0.95
    from reportlab.pdfbase.pdfmetrics import stringWidth

    c.setFont(font, size)
    for i, ln in enumerate(lines):
        y = top - i * lead
        if align == "right":
            c.drawRightString(x1 - pad, y, ln)
        elif align == "center":
            c.drawString((x0 + x1) / 2 - stringWidth(ln, font, size) / 2, y, ln)
        else:
            c.drawString(x0 + pad, y, ln)


def _rules(c, table: dict, family: str, style: str, k: float, H: float, rng: random.Random) -> None:
    """The table's rulings in points (``k``: points per truth pixel, ``H``: page height in points)."""
    cells = table["cells"]
    x0, y0, x1, y1 = table["bbox"]
    P = lambda y: H - y * k  # noqa: E731
    if family == "borderless":
        return
    if family == "threeline":
        head = min((cc["bbox"][3] for cc in cells if cc["row"] == 0), default=y0)
        c.setLineWidth(1.2)
        for y in (y0, y1):
            c.line(x0 * k, P(y), x1 * k, P(y))
        c.setLineWidth(0.6)
        c.line(x0 * k, P(head), x1 * k, P(head))
        return
    lw = rng.choice([0.4, 0.5, 0.75])
    if style == "excel":  # every cell's four borders, each a thin filled rectangle
        for cc in cells:
            a, b, e, d = cc["bbox"]
            for (u0, v0, u1, v1) in ((a, b, e, b), (a, d, e, d), (a, b, a, d), (e, b, e, d)):
                if v0 == v1:
                    c.rect(u0 * k, P(v0) - lw / 2, (u1 - u0) * k, lw, stroke=0, fill=1)
                else:
                    c.rect(u0 * k - lw / 2, P(v1), lw, (v1 - v0) * k, stroke=0, fill=1)
        return
    c.setLineWidth(lw)  # word: each cell edge stroked as a line (runs of them make the rules)
    edges = set()
    for cc in cells:
        a, b, e, d = cc["bbox"]
        edges |= {(a, b, e, b), (a, d, e, d), (a, b, a, d), (e, b, e, d)}
    for (u0, v0, u1, v1) in sorted(edges):
        c.line(u0 * k, P(v0), u1 * k, P(v1))


def write_digital(truth: dict, out: Path, style: str = "excel", seed: int = 0, pasted: Optional[dict] = None) -> Path:
    """``truth``'s document written born-digital in ``style`` (see the module docstring).
    ``pasted``: {page number: the scan of that page (PIL image at the truth's dpi)}: that page's
    tables are pasted in as pictures cut from the scan (no text, no vector rules), the rest of the
    page is born-digital."""
    from reportlab.pdfgen import canvas

    rng = random.Random(f"{style}:{seed}")
    font = _font(style)
    dpi = float(truth.get("dpi", 200))
    k = 72.0 / dpi
    family = truth.get("family") or "base"
    pages = truth["pages"]
    c = canvas.Canvas(str(out), pagesize=(pages[0]["width"] * k, pages[0]["height"] * k))
    for p in pages:
        W, H = p["width"] * k, p["height"] * k
        c.setPageSize((W, H))
        size = rng.choice([9.0, 10.0, 10.5])
        for t in p["tables"]:
            if pasted and p["page"] in pasted:
                from reportlab.lib.utils import ImageReader

                a, b, e, d = (int(v) for v in t["bbox"])
                crop = pasted[p["page"]].crop((a - 4, b - 4, e + 4, d + 4))
                buf = io.BytesIO()
                crop.save(buf, format="PNG")
                c.drawImage(ImageReader(io.BytesIO(buf.getvalue())), (a - 4) * k, H - (d + 4) * k, (e - a + 8) * k, (d - b + 8) * k)
                continue
            _rules(c, t, family, style, k, H, rng)
            for cc in t["cells"]:
                if not cc["text"]:
                    continue
                a, b, e, d = cc["bbox"]
                flat = cc["text"].replace(" ", "")
                align = "right" if style == "excel" and flat and set(flat) <= NUMERIC else \
                    ("center" if style == "word" or cc["row"] == 0 else "left")
                _text_in_box(c, cc["text"], (a * k, H - d * k, e * k, H - b * k), font, size, align)
        for para in p.get("paragraphs", []):
            a, b, e, d = para["bbox"]
            line_h = min(d - b, 60) * k
            psize = max(6.0, min(line_h * 0.8, 22.0)) if para.get("kind") == "title" else size
            right = min(W - 20, max(e * k, a * k + len(para["text"]) * psize))  # wrapped inside the page
            _text_in_box(c, para["text"], (a * k, H - d * k, right, H - b * k), font, psize, "left")
        c.showPage()
    c.save()
    return Path(out)


def write_pasted(scan_pdf: Path, truth: dict, out: Path, pages: list[int], style: str = "word", seed: int = 0) -> Path:
    """Born-digital, but the tables of ``pages`` pasted in as pictures cut from the scan: a
    mixed page (text layer for the prose and the other tables, OCR for the pictures)."""
    import pypdfium2 as pdfium

    src = pdfium.PdfDocument(str(scan_pdf))
    dpi = float(truth.get("dpi", 200))
    imgs = {n: src[n - 1].render(scale=dpi / 72.0, grayscale=True).to_pil() for n in pages}
    src.close()
    return write_digital(truth, out, style, seed, pasted=imgs)


def write_ocr_layer(scan_pdf: Path, truth: dict, out: Path, dpi: float = 150) -> Path:
    """The scan's pages as images with the truth's text laid over them invisibly (render mode 3),
    where an OCR program would put it: a searchable scan."""
    import pypdfium2 as pdfium
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    font = _font("word")
    k = 72.0 / float(truth.get("dpi", 200))
    src = pdfium.PdfDocument(str(scan_pdf))
    c = canvas.Canvas(str(out))
    for i, p in enumerate(truth["pages"]):
        W, H = p["width"] * k, p["height"] * k
        c.setPageSize((W, H))
        img = src[i].render(scale=dpi / 72.0, grayscale=True).to_pil()
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        c.drawImage(ImageReader(io.BytesIO(buf.getvalue())), 0, 0, W, H)
        boxes = [(cc["bbox"], cc["text"]) for t in p["tables"] for cc in t["cells"] if cc["text"]] + \
                [(q["bbox"], q["text"]) for q in p.get("paragraphs", [])]
        for (a, b, e, d), text in boxes:
            to = c.beginText()
            to.setTextRenderMode(3)
            size = max(4.0, min((d - b) * k * 0.7, 12.0))
            to.setFont(font, size)
            to.setTextOrigin(a * k, H - d * k + 2)
            to.textLine(text)
            c.drawText(to)
        c.showPage()
    c.save()
    src.close()
    return Path(out)


def write_mojibake(digital_pdf: Path, out: Path) -> Path:
    """``digital_pdf`` with every font's ToUnicode map pointed into the private use area: it prints
    as before and its text extracts as garbage (a common fault of Chinese PDFs)."""
    import re

    import pikepdf

    pdf = pikepdf.open(str(digital_pdf))
    seen = set()
    for page in pdf.pages:
        for _, font in (page.Resources.get("/Font") or {}).items():
            tu = font.get("/ToUnicode")
            if tu is None or tu.objgen in seen:
                continue
            seen.add(tu.objgen)
            data = tu.read_bytes().decode("latin-1")
            n = [0]

            def pua(m: "re.Match") -> str:
                n[0] += 1
                return f"<{m.group(1)}> <{0xE000 + (n[0] % 6000):04X}>"

            data = re.sub(r"<([0-9A-Fa-f]{2,4})>\s*<[0-9A-Fa-f]{4,8}>", pua, data)
            tu.write(data.encode("latin-1"))
    pdf.save(str(out))
    return Path(out)


def write_mixed(parts: list[tuple[Path, list[int]]], out: Path) -> Path:
    """Pages (1-based) of several PDFs in one file, in the order given."""
    import pypdfium2 as pdfium

    dst = pdfium.PdfDocument.new()
    for path, pages in parts:
        src = pdfium.PdfDocument(str(path))
        dst.import_pages(src, [n - 1 for n in pages])
        src.close()
    dst.save(str(out))
    dst.close()
    return Path(out)


def render_digital_set(out: Path, families: list, seeds: list, styles: Optional[list] = None,
                       max_pages: Optional[int] = 6) -> list[tuple[str, str, Path]]:
    """[(family, style, doc dir)]: each family/seed rendered as a scan first (synth.render_document,
    light), then written born-digital in each style as ``digital_<style>.pdf`` beside its truth."""
    import json

    from . import render_document

    done = []
    for fam in families:
        for s in seeds:
            d = out / fam / f"compact_{s}"
            if not (d / "truth.json").exists():
                render_document(d, seed=s, severity="light", dpi=200, max_pages=max_pages, family=fam, kind="compact")
            truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))
            for st in styles or STYLES:
                p = d / f"digital_{st}.pdf"
                if not p.exists():
                    write_digital(truth, p, st, seed=s)
                done.append((fam, st, d))
    return done
