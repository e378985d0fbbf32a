"""The OCR stage on real rendered crops: batched recognition keeps order and gives per-character
probabilities, empty cells are skipped, wrapped cells are joined, specks are not read as text."""
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from extractor.ocr.normalize import fix_numeric

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


@pytest.fixture(scope="module")
def reader(pipeline):
    return pipeline.reader


def _line(text, size=29):
    f = ImageFont.truetype(FONT, size)
    im = Image.new("L", (int(f.getlength(text)) + 20, size + 16), 255)
    ImageDraw.Draw(im).text((10, 6), text, font=f, fill=0)
    return np.array(im)


def test_batched_recognition_keeps_order_and_char_probs(pipeline):
    texts = ["一般公共服务支出", "1,021.29", "≥98%", "市县（区）财政资金", "300,000", "读者满意度"] * 5
    res = pipeline.recognizer([_line(t) for t in texts])
    assert [r.text for r in res] == texts
    for r in res:
        assert len(r.char_probs) == len(r.text) and min(r.char_probs) > 0.5


def _page_with_cells():
    """A 1x4 ruled strip: text / empty / lone dash + a speck / two-line wrapped text."""
    f = ImageFont.truetype(FONT, 29)
    im = Image.new("L", (1400, 300), 255)
    d = ImageDraw.Draw(im)
    xs, y0, y1 = [50, 400, 700, 1000, 1350], 50, 200
    for x in xs:
        d.line([(x, y0), (x, y1)], fill=0, width=3)
    for y in (y0, y1):
        d.line([(xs[0], y), (xs[-1], y)], fill=0, width=3)
    d.text((70, 105), "公用经费13.45", font=f, fill=0)
    d.text((840, 105), "-", font=f, fill=0)
    d.ellipse([760, 70, 765, 75], fill=0)  # a speck of dirt
    d.text((1020, 80), "市县（区）财政资", font=f, fill=0)
    d.text((1020, 125), "金", font=f, fill=0)
    boxes = [(xs[i], y0, xs[i + 1], y1) for i in range(4)]
    return np.array(im), boxes


def test_cells_empty_dash_speck_and_wrapped(reader):
    gray, boxes = _page_with_cells()
    r = reader.read(gray, boxes)
    assert r[0].text == "公用经费13.45" and r[0].n_lines == 1
    assert r[1].empty and r[1].text == ""  # nothing to read: recognition never ran on it
    assert r[2].text in ("-", "—", "一") and not r[2].empty  # a lone dash is content, the speck is not
    assert r[3].text == "市县（区）财政资金" and r[3].n_lines == 2  # wrapped text joined without the break


def test_box_cutting_through_text_is_widened_to_the_whole_glyphs(reader):
    """A grid that lost a table's faint outer border puts the cell's edge inside the text: the
    crop moves out to the first clear column, so no radical is cut off (绩 read as 责)."""
    f = ImageFont.truetype(FONT, 29)
    im = Image.new("L", (700, 200), 255)
    d = ImageDraw.Draw(im)
    d.text((60, 80), "绩效指标", font=f, fill=0)
    d.text((400, 80), "经济成本指标", font=f, fill=0)
    gray = np.array(im)
    ink = np.flatnonzero((gray < 128).any(axis=0))
    first = int(ink[0])
    # the left box starts 6 px inside the first glyph; the right one ends inside its last glyph
    boxes = [(first + 6, 40, 330, 160), (380, 40, int(ink[-1]) - 6, 160)]
    r = reader.read(gray, boxes, inset_px=0)
    assert [x.text for x in r] == ["绩效指标", "经济成本指标"]


def test_fix_numeric_only_touches_numbers():
    assert fix_numeric("O") == "0"
    assert fix_numeric("1,O21.29") == "1,021.29"
    assert fix_numeric("3O%") == "30%"
    assert fix_numeric("OA办公") == "OA办公"
    assert fix_numeric("Ok") == "Ok"
    assert fix_numeric("6.") == "6" and fix_numeric(".0") == "0" and fix_numeric("1,021.29·") == "1,021.29"
    assert fix_numeric("0.5") == "0.5" and fix_numeric("39.23%") == "39.23%" and fix_numeric("≥85%.") == "≥85%"


@pytest.mark.parametrize("raw,want", [
    ("0,00", "0.00"), ("692，30", "692.30"), ("171:26", "171.26"), ("520..91", "520.91"), ("5,061;583", "5,061,583"), ("12;30", "12;30"), ("1,234,56", "1,234.56"), ("1,000", "1,000"), ("1,021.29", "1,021.29"),
])
def test_decimal_point_read_as_comma_is_restored(raw, want):
    from extractor.ocr.normalize import fix_numeric

    assert fix_numeric(raw) == want


def test_a_surely_read_full_stop_ends_a_sentence_and_stays():
    from extractor.ocr.normalize import drop_speck_punct

    sure = [(c, 0.99) for c in "用于保障部门职工正常公务出行。"]
    doubtful = [(c, 0.99) for c in "一般行政管理事务"] + [("。", 0.6)]
    drop_speck_punct(sure)
    drop_speck_punct(doubtful)
    assert "".join(c for c, _ in sure) == "用于保障部门职工正常公务出行。"
    assert "".join(c for c, _ in doubtful) == "一般行政管理事务"


@pytest.mark.parametrize("raw,want", [
    ("项目.", "项目"), ("九、·社会保险基金支出", "九、社会保险基金支出"), ("一般行政管理事务。", "一般行政管理事务"),
    ("生态环境成.本", "生态环境成本"), ("有效保障·", "有效保障"), (".≥3年", "≥3年"), ("负责人.", "负责人："), ("负责人", "负责人："), ("经办人：", "经办人："),
    # real punctuation and numbers stay
    ("用于保障，确保资金安全。", "用于保障，确保资金安全。"), ("工作计划,经单位研究", "工作计划，经单位研究"), ("1,021.29", "1,021.29"), ("2024.12", "2024.12"), ("≥95%", "≥95%"),
    # a speck read as a dot inside a date or code; a figure keeps its decimals
    ("20241.007155159", "20241007155159"), ("1381.2345678", "13812345678"), ("1,021.29", "1,021.29"), ("3.1416", "3.1416"), ("1.021.29", "1.021.29"),
    ("，30305", "30305"), (",1,021.29", "1,021.29"),
    # an ASCII dot never ends Chinese text, whatever else the text holds
    ("九、社会保险基金支出.", "九、社会保险基金支出"),
    # a second decimal point, a speck after the comparator, a full stop after a word
    ("≤81.5.万元", "≤81.5万元"), ("≥.80%", "≥80%"), ("改善。", "改善"), ("81.5万元", "81.5万元"),
    # a speck after a sentence's final stop, or before a Chinese mark
    ("年底前完成全部工作任务。.", "年底前完成全部工作任务。"), ("保障各项业务工作正常运转.，确有必要", "保障各项业务工作正常运转，确有必要"),
    ("第1.5项，", "第1.5项，"),
])
def test_specks_read_as_punctuation_are_dropped(raw, want):
    from extractor.ocr.normalize import drop_speck_punct

    chars = [(c, 0.9) for c in raw]
    drop_speck_punct(chars)
    assert "".join(c for c, _ in chars) == want


def test_doubtful_stub_of_ruling_beside_chinese_text_is_trimmed():
    from extractor.ocr.cells import _trim_specks

    for chars, want in [
        ([("效", 1.0), ("益", 1.0), ("1", 0.16)], "效益"),  # a stub of the cell's border read as "1"
        ([("i", 0.3), ("社", 1.0), ("会", 1.0)], "社会"),
        ([("第", 1.0), ("1", 0.95)], "第1"),  # a confidently read digit stays
        ([("1", 0.3), ("2", 1.0)], "12"),  # only beside Chinese characters
    ]:
        _trim_specks(chars)
        assert "".join(c for c, _ in chars) == want


def test_a_numbered_item_that_lost_its_comma_gets_it_back():
    from extractor.ocr.normalize import chinese_ordinal, restore_numbering

    assert [chinese_ordinal(x) for x in ("一", "十", "十七", "二十", "二十三", "一二")] == [1, 10, 17, 20, 23, None]
    col = ["项目", "十六、援助其他地区支出", "十七金融支出", "十八、其他支出", "合计"]
    assert restore_numbering(col) == ["项目", "十六、援助其他地区支出", "十七、金融支出", "十八、其他支出", "合计"]
    # at the end, only the next number; a number used elsewhere, a lone 一 (一般) or an unnumbered column: untouched
    assert restore_numbering(["一、一般公共服务支出", "二、外交支出", "三国防支出"])[2] == "三、国防支出"
    assert restore_numbering(["一、一般公共服务支出", "二、外交支出", "五国防支出"])[2] == "五国防支出"
    assert restore_numbering(["二、外交支出", "三、国防支出", "二十金融支出"])[2] == "二十金融支出"
    assert restore_numbering(["一般公共服务支出", "二、外交支出", "三、国防支出"])[0] == "一般公共服务支出"
    assert restore_numbering(["一般公共服务支出", "三国防支出"]) == ["一般公共服务支出", "三国防支出"]


def test_a_code_split_by_a_speck_gets_its_digits_back():
    from extractor.ocr.normalize import restore_codes

    # read on rendered medium scans: a speck inside a 7-digit 科目编码 read as a decimal point
    col = ["科目编码", "208", "20805", "2080501", "2080505", "208050.5", "20808", "208080.1", "合计"]
    assert restore_codes(col) == ["科目编码", "208", "20805", "2080501", "2080505", "2080505", "20808", "2080801", "合计"]
    # no parent code in the column, a column of amounts ("45,154" is a figure), too few codes: untouched
    assert restore_codes(["208", "20805", "2080501", "209080.1"])[3] == "209080.1"
    amounts = ["208", "20805", "2080501", "45,154", "1,021.29", "208050.5"]
    assert restore_codes(amounts) == amounts
    assert restore_codes(["208", "208050.5"]) == ["208", "208050.5"]


@pytest.mark.parametrize("raw,c_prob,want", [
    ("项目资金(.元)", 0.9, "项目资金(元)"),  # a speck inside the bracket
    ("项目资金C元)", 0.38, "项目资金（元)"),  # the opening bracket read as a doubtful C
    ("项目资金C元)", 0.97, "项目资金C元)"),  # a sure C stays
    ("CPI指数(元)", 0.5, "CPI指数(元)"),  # no lone closing bracket after it
])
def test_brackets_misread_in_cell_text(raw, c_prob, want):
    from extractor.ocr.normalize import drop_speck_punct

    chars = [(c, c_prob if c == "C" else 0.99) for c in raw]
    drop_speck_punct(chars)
    assert "".join(c for c, _ in chars) == want


def test_marks_dropped_as_specks_leave_their_probability_as_evidence():
    """The speck rules remove marks; how surely the recogniser read the surest of them stays on
    the read (``dropped``), so the confidence model can doubt a removal ("专刊. 阳城版")."""
    from extractor.ocr.cells import CellReader
    from extractor.ocr.engine import RecResult

    text = "专刊.阳城版"
    probs = [0.99, 0.99, 0.6, 0.99, 0.98, 0.99]
    clean = "合计"
    jobs = [([None], 0.1), ([None], 0.1)]
    out, k = CellReader._assemble(jobs, [RecResult(text, probs), RecResult(clean, [0.99, 0.99])], 0, False)
    assert k == 2
    assert out[0].text == "专刊阳城版" and out[0].dropped == 0.6 and len(out[0].char_probs) == 5
    assert out[1].text == "合计" and out[1].dropped == 0.0


@pytest.mark.parametrize("raw,want", [
    ("2025年7.月至9月", "2025年7月至9月"),  # a speck inside a date
    ("1.完成培训", "1.完成培训"),  # a numbered item keeps its dot
    ("年度3.5万元", "年度3.5万元"),  # a decimal point
])
def test_a_speck_dot_inside_a_date_goes(raw, want):
    from extractor.ocr.normalize import drop_speck_punct

    chars = [(c, 0.9) for c in raw]
    drop_speck_punct(chars)
    assert "".join(c for c, _ in chars) == want


def test_a_dot_between_chinese_characters_stays_only_when_read_surely():
    """A speck between two characters is read as a doubtful dot; a dot printed there (a typo in the
    source, "专刊. 阳城版") is read surely and transcribed as printed."""
    from extractor.ocr.normalize import drop_speck_punct

    for p, want in ((0.6, "专刊阳城版"), (0.999, "专刊.阳城版")):
        chars = [(c, p if c == "." else 0.99) for c in "专刊.阳城版"]
        drop_speck_punct(chars)
        assert "".join(c for c, _ in chars) == want


def _frames(recognizer, seq):
    """A recogniser output (frames x classes) from (character, probability, {other: probability})
    per frame; "" is the blank."""
    idx = {ch: i for i, ch in enumerate(recognizer.chars) if i}
    pred = np.zeros((len(seq), len(recognizer.chars)), np.float32)
    for t, (ch, p, others) in enumerate(seq):
        k = idx[ch] if ch else 0
        pred[t, k] = p
        for o, q in others.items():
            pred[t, idx[o] if o != " " else len(recognizer.chars) - 1] = q
        pred[t, 0 if k else idx["一"]] += 1.0 - pred[t].sum()  # the rest on the blank (or on 一)
    return pred


def test_a_character_the_decoder_left_out_is_kept_as_evidence(pipeline):
    """A mark seen in a blank frame but not emitted ("规范安全" for "规范、安全") leaves its
    probability on the read (``missed``, ``missed_edge`` after the last character); the tails of
    the characters on either side of the gap and the space are not counted."""
    rec = pipeline.recognizer
    seq = [("规", 0.99, {}), ("", 0.9, {"规": 0.08}), ("范", 0.99, {}), ("", 0.6, {"、": 0.38}),
           ("安", 0.99, {}), ("", 0.7, {" ": 0.3}), ("全", 0.99, {}), ("", 0.6, {"。": 0.33})]
    r = rec._decode(_frames(rec, seq))
    assert r.text == "规范安全" and len(r.char_probs) == 4
    assert r.missed == pytest.approx(0.38, abs=1e-3) and r.missed_edge == pytest.approx(0.33, abs=1e-3)
    clean = rec._decode(_frames(rec, [("合", 0.99, {}), ("", 0.95, {"合": 0.05}), ("计", 0.99, {}), ("", 0.99, {})]))
    assert clean.text == "合计" and clean.missed == 0.0 and clean.missed_edge == 0.0


def test_clean_lines_leave_nothing_missed(pipeline):
    texts = ["确保资金使用规范、安全、高效。", "1,021.29", "其中：中央财政资金", "≥98%"]
    for t, r in zip(texts, pipeline.recognizer([_line(t) for t in texts])):
        assert r.text == t and r.missed < 0.05 and r.missed_edge < 0.05


def _noisy(img, sigma, seed):
    rng = np.random.default_rng(seed)
    return np.clip(img.astype(np.float32) + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def test_int8_reads_are_kept_only_when_the_full_model_reads_the_same(pipeline):
    """On CPU the recogniser reads every crop with models/rec_int8.onnx and reads again at full
    precision every crop it is not sure of: the texts are the full model's, clean or noisy, as cell
    text is scored (NFKC, whitespace ignored): at 18 px int8 surely reads "（一）" and the space
    of "第二部分 2024年", where the full model reads "(一)" and drops the space."""
    from extractor.evaluate import norm
    from extractor.ocr.engine import Recognizer

    rec = pipeline.recognizer
    if rec.sess.get_providers()[0] != "CPUExecutionProvider":
        pytest.skip("on a GPU the full model alone runs")
    assert rec.sess_int8 is not None
    full = Recognizer("cpu", 1, batch_size=48, precision="fp32")
    assert full.sess_int8 is None
    texts = ["一般公共服务支出", "1,021.29", "≥98%", "市县（区）财政资金", "2080801", "读者满意度", "第二部分 2024年部门预算报表",
             "确保资金使用规范、安全、高效。", "0.35", "（一）机构设置", "其中：中央财政资金", "合计"]
    crops = [_line(t, size) for t in texts for size in (18, 29)]
    crops += [_noisy(c, s, i) for i, c in enumerate(crops) for s in (40, 70)]
    mixed, exact = rec(crops), full(crops)
    assert [norm(r.text) for r in mixed] == [norm(r.text) for r in exact]
    first = rec._run(rec.sess_int8, [rec._resize(c) for c in crops])
    unsure = [i for i, r in enumerate(first) if not Recognizer.sure(r)]
    assert 0 < len(unsure) < len(crops) // 2  # both ways are taken
    again = rec._run(rec.sess, [rec._resize(crops[i]) for i in unsure])
    for i, r in zip(unsure, again):  # read again: the full model's read, probabilities and all
        assert mixed[i].text == r.text and mixed[i].char_probs == r.char_probs
    scores = rec(crops, exact=False)  # for orientation scores: the int8 reads as they are
    assert [r.char_probs for r in scores] == [r.char_probs for r in first]


def test_a_space_read_in_doubt_makes_an_int8_read_unsure(pipeline):
    from extractor.ocr.engine import Recognizer

    rec = pipeline.recognizer
    sure = rec._decode(_frames(rec, [("合", 0.99, {}), ("", 0.99, {}), ("计", 0.99, {})]))
    spaced = rec._decode(_frames(rec, [("合", 0.99, {}), ("", 0.7, {" ": 0.3}), ("计", 0.99, {})]))
    assert sure.text == spaced.text == "合计" and spaced.space == pytest.approx(0.3, abs=1e-3)
    assert Recognizer.sure(sure) and not Recognizer.sure(spaced)
    doubtful = rec._decode(_frames(rec, [("合", 0.99, {}), ("", 0.99, {}), ("计", 0.8, {"汁": 0.2})]))
    assert not Recognizer.sure(doubtful)


def test_recogniser_precision_is_checked(monkeypatch, tmp_path):
    from extractor.ocr.engine import Recognizer

    with pytest.raises(ValueError, match="precision"):
        Recognizer("cpu", 1, precision="fp16")
    monkeypatch.setenv("EXTRACTOR_MODELS", str(tmp_path))  # no int8 model there
    with pytest.raises(FileNotFoundError, match="quantize_rec"):
        Recognizer("cpu", 1, precision="int8")
    assert Recognizer("cpu", 1, precision="auto").sess_int8 is None  # auto falls back to the full model
