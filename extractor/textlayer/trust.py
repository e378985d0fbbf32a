"""Whether a page's text layer can be read instead of the page's pixels, and why not.

A layer is trusted only when every test holds (each failure names itself in the reason the page
records):

- there is one: at least ``MIN_CHARS`` visible characters;
- it is not an OCR layer laid over a scan: not an image over most of the page with most of the
  characters on it, and the text not invisible (render mode 3) — such a layer is some other
  program's OCR, so this page is OCR'd (a born-digital page with a large picture beside its text is
  read from its layer, the picture's tables by OCR: textlayer/page.py);
- it decodes to sensible text: few private-use, CJK-compatibility, radical, replacement or control
  code points (a broken ToUnicode map gives these), and most Chinese characters among the common
  ones (the recogniser's own dictionary, ~6,600 characters, given by the caller: a map that sends glyphs to arbitrary
  CJK code points gives mostly rare ones);
- its characters fall on ink: the boxes of nearly all visible characters hold dark pixels on the
  printed page (a layer that is offset, or whose glyphs are not where it says, fails). The few
  that do not (white on white) are left out of the text (read.unseen_hidden): no cell holds a
  character a reader cannot see.
"""
from __future__ import annotations

from dataclasses import dataclass

# MIN_CHARS: fewer characters, no usable layer (a page number); SCAN_COVER: image objects over this
# share of the page make it a scan (both in read.py, which skips drawing the rulings of such pages)
from .read import MIN_CHARS, SCAN_COVER, Layer, over_images

MAX_INVISIBLE = 0.2  # share of invisible characters above which the layer is an OCR layer
MAX_BAD = 0.02  # share of private-use / compatibility / replacement / control code points
MIN_COMMON = 0.9  # share of CJK characters among the common ones
MIN_ON_INK = 0.9  # share of visible characters whose box holds ink (read.on_ink)


@dataclass
class Verdict:
    use: bool  # read the layer (True) or OCR the page (False)
    reason: str  # why, in words (recorded on the page)


def _bad(ch: str) -> bool:
    o = ord(ch)
    return (0xE000 <= o <= 0xF8FF or o >= 0xF0000 or 0xF900 <= o <= 0xFAFF or 0x2F800 <= o <= 0x2FA1F
            or 0x2E80 <= o <= 0x2FDF or o == 0xFFFD or (o < 32 and ch not in "\t\n\r") or 0x7F <= o < 0xA0
            or 0x202A <= o <= 0x202E or 0x2066 <= o <= 0x2069)  # bidi overrides: text shown other than it reads


def _cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def common_set(chars) -> frozenset:
    """The Chinese characters among ``chars`` (the recogniser's dictionary, ``Recognizer.chars``)."""
    return frozenset(ch for ch in chars if len(ch) == 1 and _cjk(ch))


def decode_problem(text: str, common: frozenset = frozenset()) -> str:
    """'' when ``text`` (a page's or a cell's characters, spaces left out) reads as sensible text;
    otherwise what is wrong with it. ``common``: the common Chinese characters (``common_set``;
    empty: that test is skipped)."""
    if not text:
        return ""
    bad = sum(_bad(ch) for ch in text)
    if bad > MAX_BAD * len(text):
        return f"{bad / len(text):.0%} of its characters are private-use, compatibility or control code points"
    cjk = [ch for ch in text if _cjk(ch)]
    if len(cjk) >= 20 and common:
        share = sum(ch in common for ch in cjk) / len(cjk)
        if share < MIN_COMMON:
            return f"only {share:.0%} of its Chinese characters are common ones"
    return ""


def judge(layer: Layer, common: frozenset = frozenset()) -> Verdict:
    """Read this page's text layer, or OCR the page? (see the module docstring)"""
    if layer.error:
        return Verdict(False, f"the text layer could not be read ({layer.error}); the page is OCR'd")
    chars = [c for c in layer.chars if not c[0].isspace()]
    visible = [c for c in chars if not c[5]]
    if len(chars) < MIN_CHARS:
        return Verdict(False, "no text layer" if not chars else f"text layer of {len(chars)} characters only")
    if layer.rotation:
        return Verdict(False, f"page turned {layer.rotation}° in the PDF: read by OCR")
    if layer.image_cover > SCAN_COVER and over_images(layer) > 0.5:
        return Verdict(False, f"text layer over a scanned image ({layer.image_cover:.0%} of the page): "
                              "another program's OCR, not trusted; the page is OCR'd")
    if layer.n_invisible > MAX_INVISIBLE * len(chars):
        return Verdict(False, "the text layer is invisible (an OCR layer): not trusted; the page is OCR'd")
    problem = decode_problem("".join(c[0] for c in chars), common)
    if problem:
        return Verdict(False, f"the text layer decodes to garbage ({problem}); the page is OCR'd")
    ink = layer.ink
    if ink < MIN_ON_INK:
        return Verdict(False, f"the text layer's characters do not fall on the page's ink (only {ink:.0%} do); "
                              "the page is OCR'd")
    unseen = sum(c[5] for c in layer.chars) - layer.n_invisible
    if unseen:  # drawn where the page shows no ink (white on white): left out of the text
        return Verdict(True, f"text layer read ({len(visible)} characters, {ink:.0%} on ink; "
                             f"{unseen} drawn without ink left out)")
    return Verdict(True, f"text layer read ({len(visible)} characters, {ink:.0%} on ink)")
