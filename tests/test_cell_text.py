"""Cell text on tables drawn the way other renderers draw them (issue 16): text set right against
the side rules (no padding), narrow cells whose wrapped lines touch, lone "1"s, placeholders.
The synth renderer pads every cell generously, so these pages are drawn here and degraded with
its scan model (synth.degrade)."""
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from extractor.evaluate import norm
from synth import degrade
from synth.render import FONTS

FONT = {"sans": FONTS[0][0], "serif": FONTS[1][0], "wqy": FONTS[2][0], "uming": FONTS[3][0], "ukai": FONTS[4][0]}

# (row, col, rowspan, lines, align): a project name wrapped in a tall merged cell and in a narrow
# one, row heads numbered 二、 （一） 1. 1、 set flush left, amounts and a lone 1 against the rules,
# KPI targets, template placeholders
ROWS = [
    (0, 0, 1, ["项目名称"], "center"), (0, 1, 1, ["科目名称"], "center"), (0, 2, 1, ["金额"], "center"),
    (0, 3, 1, ["指标值"], "center"), (0, 4, 1, ["数"], "center"),
    (1, 0, 2, ["晋兴板挂", "牌上市奖", "励资金"], "center"), (1, 1, 1, ["二、政府性基金预算"], "left"),
    (1, 2, 1, ["1,464,000"], "left"), (1, 3, 1, ["≥1.00(个)"], "left"), (1, 4, 1, ["1"], "left"),
    (2, 1, 1, ["（一）基本支出"], "left"), (2, 2, 1, ["1"], "center"), (2, 3, 1, ["≥8.00(次)"], "left"),
    (2, 4, 1, ["…"], "center"),
    (3, 0, 1, ["晋兴板挂牌上", "市奖励资金"], "left"), (3, 1, 1, ["1.项目支出"], "left"), (3, 2, 1, ["11,210.00"], "left"),
    (3, 3, 1, ["≤1.5(天)"], "left"), (3, 4, 1, ["。。。"], "center"),
    (4, 0, 1, ["一、一般公共", "预算拨款收入"], "left"), (4, 1, 1, ["1、人员经费"], "left"), (4, 2, 1, ["164,000"], "right"),
    (4, 3, 1, ["≥98%"], "left"), (4, 4, 1, ["1"], "right"),
]


def render(font, *, fs, spacing, line_w, pad, seed, severity="medium", widths=(210, 330, 190, 200, 90)):
    """One A4 page at 200 DPI holding the table of ``ROWS``: text ``pad`` px from the rules, wrapped
    lines ``spacing`` font sizes apart, text centred vertically in its (merged) cell."""
    im = Image.new("L", (1654, 2339), 255)
    d = ImageDraw.Draw(im)
    f = ImageFont.truetype(FONT[font], fs)
    xs = [150]
    for w in widths:
        xs.append(xs[-1] + w)
    n_rows = max(r + rs for r, _, rs, _, _ in ROWS)
    heights = [int(fs * 1.9)] * n_rows
    for r, _, rs, ls, _ in ROWS:
        if rs == 1:
            heights[r] = max(heights[r], int(len(ls) * fs * spacing + 2 * pad + 4))
    ys = [300]
    for h in heights:
        ys.append(ys[-1] + h)
    owner = {(r + k, c): i for i, (r, c, rs, _, _) in enumerate(ROWS) for k in range(rs)}
    segs = []
    for k in range(len(xs)):
        for r in range(n_rows):
            if k in (0, len(widths)) or owner[(r, k - 1)] != owner[(r, k)]:
                segs.append((xs[k], ys[r], xs[k], ys[r + 1]))
    for r in range(n_rows + 1):
        for k in range(len(widths)):
            if r in (0, n_rows) or owner[(r - 1, k)] != owner[(r, k)]:
                segs.append((xs[k], ys[r], xs[k + 1], ys[r]))
    lo, hi = -(line_w // 2), (line_w - 1) // 2
    rects = [(x0 + lo, y0 + lo, x1 + hi, y1 + hi) for x0, y0, x1, y1 in segs]
    for rect in rects:
        d.rectangle(rect, fill=0)
    truth = {}
    for r, c, rs, ls, al in ROWS:
        x0, y0, x1, y1 = xs[c], ys[r], xs[c + 1], ys[r + rs]
        lh = fs * spacing
        for j, ln in enumerate(ls):
            y = (y0 + y1) / 2 - len(ls) * lh / 2 + lh / 2 + j * lh
            if al == "left":
                d.text((x0 + pad + line_w // 2, y), ln, font=f, fill=0, anchor="lm")
            elif al == "right":
                d.text((x1 - pad - line_w // 2, y), ln, font=f, fill=0, anchor="rm")
            else:
                d.text(((x0 + x1) / 2, y), ln, font=f, fill=0, anchor="mm")
        truth[(r, c)] = ("".join(ls), len(ls))
    img, _ = degrade.degrade(np.asarray(im, np.uint8).copy(), severity=severity, seed=seed, skew=0.0, segments=rects)
    return img, truth


def _cells(pipeline, font, **kw):
    img, truth = render(font, **kw)
    page = pipeline.process_image(img, 1, 200)
    assert len(page.tables) == 1
    t = page.tables[0]
    assert (t.n_rows, t.n_cols) == (5, 5)
    return {(c.row, c.col): c for c in t.cells}, truth


@pytest.mark.parametrize("font,seed,pad,severity", [("wqy", 1, 1, "medium"), ("sans", 3, 1, "medium"),
                                                    ("serif", 2, 1, "medium"), ("wqy", 1, 1, "clean")])
def test_every_line_of_a_wrapped_cell_is_read_in_order(pipeline, font, seed, pad, severity):
    """Wrapped lines set so close that no clear row parts them (line spacing 1.0) made one band
    taller than a line: the text detector found one box in it and the other lines were lost
    ("晋兴板挂牌上市奖励资金" read "励资金", "一、一般公共预算拨款收入" lost "一、"). The band is
    cut at the emptiest rows where the line pitch puts the breaks."""
    cells, truth = _cells(pipeline, font, fs=26, spacing=1.0, line_w=2, pad=pad, seed=seed, severity=severity)
    # a rowspan-merged cell of three centred lines; two left-aligned lines of unequal length (twice)
    for rc in ((1, 0), (3, 0), (4, 0)):
        text, n = truth[rc]
        assert (cells[rc].text, cells[rc].ocr.n_lines) == (text, n)


@pytest.mark.parametrize("font,seed", [("uming", 1), ("uming", 2), ("serif", 2)])
def test_leading_list_numerals_set_against_the_rule_are_kept(pipeline, font, seed):
    """A row head set flush left put its "1" inside the crop's inset, next to the rule, where it
    was cut or dropped as a stub of ruling ("1.项目支出" -> "项目支出", "1、人员经费" -> "、人员经费")."""
    cells, truth = _cells(pipeline, font, fs=22, spacing=1.2, line_w=1, pad=1, seed=seed)
    for rc in ((1, 1), (2, 1), (3, 1), (4, 1)):
        assert norm(cells[rc].text) == norm(truth[rc][0])


@pytest.mark.parametrize("font,seed,fs,line_w", [("uming", 1, 22, 1), ("uming", 2, 22, 1), ("uming", 1, 18, 2),
                                                 ("ukai", 2, 18, 2), ("sans", 2, 18, 2)])
def test_a_one_against_the_rule_is_read_not_erased(pipeline, font, seed, fs, line_w):
    """A "1" standing a pixel from the cell's rule was erased as ruling: a cell holding only "1"
    came back empty at 0.99, "1,464,000" as "464,000". It is the height of the text and stands on
    its line, so it is read; a lone "1" read with doubt is never sure."""
    cells, truth = _cells(pipeline, font, fs=fs, spacing=1.2, line_w=line_w, pad=1, seed=seed)
    for rc in ((1, 2), (3, 2), (1, 4), (4, 4)):
        c = cells[rc]
        assert c.text == truth[rc][0] or (c.text != "" and c.confidence < 0.9), (rc, c.text, c.confidence)
    assert cells[(1, 2)].text == "1,464,000" or cells[(1, 2)].confidence < 0.9
    assert all(cells[rc].text for rc in ((1, 4), (4, 4)))


@pytest.mark.parametrize("font,seed", [("sans", 1), ("serif", 2), ("uming", 1), ("ukai", 2)])
def test_placeholders_are_read_and_targets_keep_their_ends(pipeline, font, seed):
    """"…" and "。。。" came back empty at high confidence (their marks are speck-sized, and alone
    the recogniser reads "。。。" as "000"): a row of three or more marks of one size, evenly
    spaced on one line, is a placeholder, told by its marks' shape. A KPI target filling its cell
    up to the right rule keeps its closing "(次)"."""
    cells, truth = _cells(pipeline, font, fs=22, spacing=1.2, line_w=2, pad=3, seed=seed, widths=(210, 330, 190, 118, 90))
    for rc in ((2, 4), (3, 4)):
        assert norm(cells[rc].text) == norm(truth[rc][0]), (rc, cells[rc].text)
    for rc in ((1, 3), (2, 3), (3, 3)):  # "≥" may be read as ">" by the recogniser: the ends are what is checked
        assert norm(cells[rc].text).endswith(norm(truth[rc][0])[-4:]), (rc, cells[rc].text)


def test_a_cell_with_marks_read_as_nothing_is_not_sure(pipeline):
    """Whatever the recogniser makes of a placeholder or a stroke at the rule, a read that does not
    account for them is capped below the review threshold."""
    from extractor import confidence
    from extractor.model import OcrEvidence

    assert confidence.unsure_cap(0.99, OcrEvidence(unsure=0.5)) < 0.5
    assert confidence.unsure_cap(0.99, OcrEvidence(unsure=0.0)) == 0.99
    assert confidence.unsure_cap(0.99, None) == 0.99


def test_a_stroke_at_the_crop_side_is_ruling_only_when_it_outgrows_the_text():
    """In a line band, a thin stroke at the crop's side taller than the text beside it (or broken
    like a dashed rule) is ruling and blanked; one of the text's height on its line is a
    character, kept and said to be in doubt."""
    from extractor.ocr.cells import _text_span

    line_h = 20.0
    band = np.zeros((16, 120), np.uint8)  # a band is the rows of one line's ink
    band[0:16, 30:45] = 1  # glyphs
    band[0:16, 60:75] = 1
    one = band.copy()
    one[1:15, 0:3] = 1  # a "1" against the left side, on the line
    x0, _, drop, level, notes = _text_span(one, line_h)
    assert x0 == 0 and not drop and level == 2 and notes == ["l"]
    rule = np.zeros((30, 120), np.uint8)
    rule[7:23] = band
    rule[0:30, 118:120] = 1  # a rule remnant twice the text's height at the right
    x0, x1, drop, _, notes = _text_span(rule, line_h)
    assert x1 < 80 and drop and notes == []  # the span ends at the text
    dashed = band.copy()
    dashed[0:16:3, 0:2] = 1  # a dashed rule, bridged into one piece
    x0, _, drop, _, notes = _text_span(dashed, line_h)
    assert x0 >= 29 and drop and notes == []


def test_a_stroke_read_as_a_letter_beside_figures_is_a_one_and_leaves_doubt():
    from extractor.ocr.cells import _edge_strokes
    from extractor.ocr.normalize import fix_numeric

    line = [(c, 0.9) for c in "l,464,000"]
    assert _edge_strokes(line, ["l"]) == 0.5 and "".join(c for c, _ in line) == "1,464,000"
    assert _edge_strokes([("1", 0.99)], ["r"]) == 0.0  # a sure 1: no doubt
    assert _edge_strokes([("1", 0.6)], ["r"]) == pytest.approx(0.4)
    assert _edge_strokes([("丨", 0.8)], ["l"]) == 0.5  # kept, but it may be ruling
    assert _edge_strokes([("项", 0.99), ("目", 0.99)], ["l"]) == 0.0
    for raw, want in [("l,464,000", "1,464,000"), ("L,464,000", "1,464,000"), ("1l,210.00", "11,210.00"),
                      ("I", "I"), ("LED", "LED"), ("A1", "A1"), ("3L", "3L")]:
        assert fix_numeric(raw) == want


def test_touching_lines_are_cut_at_the_pitch_and_a_tall_line_is_left_whole():
    from extractor.ocr.cells import _split_band

    line_h = 20.0
    m = np.zeros((60, 100), np.uint8)
    for top in (0, 20, 40):  # three lines 20 px apart, touching through one stroke
        m[top + 2: top + 18, 10:90] = 1
        m[top + 18: top + 22, 50] = 1
    assert len(_split_band(m, 0, 60, line_h)) == 3
    tall = np.ones((40, 100), np.uint8)  # one line of big text: no row much emptier
    assert _split_band(tall, 0, 40, line_h) == [(0, 40)]


def test_a_row_of_like_marks_is_a_placeholder_and_specks_are_not():
    from extractor.ocr.cells import _dot_row, _placeholder

    line_h = 20.0
    dots = [(10 + 12 * i, 8, 4, 4, 14) for i in range(3)]
    assert _dot_row(dots, line_h)
    assert not _dot_row(dots[:2], line_h)  # two marks: as likely two specks
    assert not _dot_row([(10, 8, 4, 4, 14), (22, 2, 4, 4, 14), (34, 14, 4, 4, 14)], line_h)  # not on one line
    assert not _dot_row([(10 + 12 * i, 8, 8, 2, 14) for i in range(3)], line_h)  # dashes
    assert not _dot_row([(10 + 16 * i, 2, 12, 14, 90) for i in range(3)], line_h)  # "000": text height
    band = np.zeros((8, 60), np.uint8)
    for i in range(3):  # three rings
        x = 5 + 15 * i
        band[1:7, x:x + 6] = 1
        band[3:5, x + 2:x + 4] = 0
    assert _placeholder(band, 6.0, line_h) == "。。。"
    band = np.zeros((8, 60), np.uint8)
    for i in range(3):
        band[3:5, 5 + 10 * i: 7 + 10 * i] = 1
    assert _placeholder(band, 0.0, line_h) == "…"
