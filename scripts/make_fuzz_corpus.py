"""Write the hostile-input corpus (by default under tests/fuzz/, which git ignores; tests/test_fuzz.py
writes it afresh for each test session).

Every file here is something a user's archive or an attacker could hand the service or the batch
runner; tests/test_fuzz.py runs each through the pipeline, the service and the batch runner and
expects a clear failure naming the file and the reason, never a lost worker or a hung job:

- ``form_bomb_60.pdf``: form XObjects nested four deep, 60 draws each, full-page fills (60^4 = 13
  million fills in a few KB: time and memory grow without bound in the renderer);
- ``form_bomb_small_60.pdf``: the same with tiny fills (memory first);
- ``flate_bomb.pdf``: a 64 KB content stream that inflates to 64 MB of drawing operators;
- ``deep_nesting.pdf``: arrays nested 50,000 deep in the page dictionary;
- ``huge_mediabox.pdf``: a page of 14,400 x 14,400 pt (5 m a side) and one of 10^9 pt;
- ``broken_xref.pdf``: the cross-reference table points at the wrong bytes; ``truncated.pdf``: cut
  in the middle of a stream; ``no_pages.pdf``: a catalog without pages;
- ``polyglot_png_pdf.png``: a PNG signature followed by a PDF; ``polyglot_pdf_zip.pdf``: a PDF
  with a ZIP archive appended; ``html_named.pdf``: an HTML page named .pdf;
- ``tiny_1x1.png``: a one-pixel image; ``empty.pdf``: zero bytes;
- ``png_bomb.png``: a 1-bit PNG of 12,000 x 12,000 pixels (144 Mpx) in a few KB.

Names with bytes that are not UTF-8, or with a newline, cannot be kept in git on every system:
the tests make them at run time (``odd_names``).

    python scripts/make_fuzz_corpus.py [--out tests/fuzz]
"""
from __future__ import annotations

import argparse
import struct
import zlib
from pathlib import Path


def pdf(objects: list[bytes], root: int = 1, xref_shift: int = 0) -> bytes:
    """A PDF of ``objects`` (object i+1 = objects[i]) with a correct cross-reference table
    (or one whose offsets are all ``xref_shift`` bytes off)."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % (off + xref_shift)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


def stream(dict_body: bytes, data: bytes, flate: bool = False) -> bytes:
    if flate:
        data = zlib.compress(data, 9)
        dict_body += b" /Filter /FlateDecode"
    return b"<< %s /Length %d >>\nstream\n" % (dict_body, len(data)) + data + b"\nendstream"


def page_doc(content: bytes, media: bytes = b"[0 0 595 842]", resources: bytes = b"<< >>",
             extra: list[bytes] = (), flate: bool = False) -> bytes:
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox %s /Resources %s /Contents 4 0 R >>" % (media, resources),
            stream(b"", content, flate)]
    return pdf(objs + list(extra))


def form_bomb(n: int = 60, depth: int = 4, full_page: bool = True) -> bytes:
    """Form XObjects nested ``depth`` deep, each drawing the next ``n`` times: n^depth fills."""
    first = 5  # objects 1-4: catalog, pages, page, page content
    forms = []
    for k in range(depth):
        if k + 1 < depth:
            draw = b"".join(b"q 0.98 0 0 0.98 %d %d cm /F Do Q\n" % (j % 7, j % 5) for j in range(n))
            res = b"/Resources << /XObject << /F %d 0 R >> >>" % (first + k + 1)
        else:
            draw = b"".join((b"0.%d g 0 0 595 842 re f\n" % (j % 9)) if full_page else
                            (b"%d %d 5 5 re f\n" % (j * 9 % 590, j * 13 % 830)) for j in range(n))
            res = b""
        forms.append(stream(b"/Type /XObject /Subtype /Form /BBox [0 0 595 842] " + res, draw))
    return page_doc(b"q /F0 Do Q\n", resources=b"<< /XObject << /F0 %d 0 R >> >>" % first, extra=forms)


def png(width: int, height: int, bit_depth: int = 8, row: bytes = b"") -> bytes:
    """A greyscale PNG whose every row is ``row`` (default: white)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    stride = (width * bit_depth + 7) // 8
    line = b"\x00" + (row or b"\xff" * stride)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(line) for _ in range(height)) + comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def corpus() -> dict[str, bytes]:
    text = b"BT /F1 24 Tf 72 720 Td (fuzz) Tj ET\n"
    font = b"<< /Font << /F1 5 0 R >> >>"
    helv = [b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    good = page_doc(text, resources=font, extra=helv)
    deep = b"[" * 50_000 + b"]" * 50_000
    zip_tail = (b"PK\x03\x04" + b"\x00" * 26 + b"PK\x05\x06" + b"\x00" * 18)
    out = {
        "form_bomb_60.pdf": form_bomb(60, 4, full_page=True),
        "form_bomb_small_60.pdf": form_bomb(60, 4, full_page=False),
        "flate_bomb.pdf": page_doc(b"0.5 g 10 10 5 5 re f\n" * 3_000_000, flate=True),
        "deep_nesting.pdf": pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                                 b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                                 b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Deep " + deep + b" >>"]),
        "huge_mediabox.pdf": pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                                  b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
                                  b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] >>",
                                  b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 1000000000 1000000000] >>"]),
        "broken_xref.pdf": page_doc(text, resources=font, extra=helv).replace(b"0000000", b"0000001", 3),
        "truncated.pdf": good[: len(good) // 2],
        "no_pages.pdf": pdf([b"<< /Type /Catalog >>"]),
        "polyglot_png_pdf.png": png(64, 64)[:33] + good,
        "polyglot_pdf_zip.pdf": good + zip_tail,
        "html_named.pdf": b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>\n",
        "tiny_1x1.png": png(1, 1),
        "empty.pdf": b"",
        "png_bomb.png": png(12_000, 12_000, bit_depth=1),
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in corpus().items():
        (out / name).write_bytes(data)
        print(f"{name:28s} {len(data):>9,d} bytes")


if __name__ == "__main__":
    main()
