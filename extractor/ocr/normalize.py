"""Repairs of recognised text: of one token (figures, specks), and of a table column read as a
whole (``repair_columns``: numbering marks and 科目编码 digits, judged against the column)."""
from __future__ import annotations

import re
from typing import Optional

_NUMLIKE = re.compile(r"^[-+]?[0-9OoóòÓÒ]+([,.，][0-9OoóòÓÒ]+)*%?$")
# a figure whose digit 1 was read as a letter ("l,464,000", "L,464,000": the 1's foot): the letter
# stands where a digit does, next to a digit or a thousands comma, and the rest is a figure
_FIGURE = re.compile(r"^[-+]?\d[\d,]*(\.\d+)?%?$")
_ZERO = str.maketrans({"O": "0", "o": "0", "ó": "0", "ò": "0", "Ó": "0", "Ò": "0"})


_STRAY_DOTS = re.compile(r"^[.·,]*([≥≤<>=]?[-+]?\d[\d,]*(?:\.\d+)?%?)[.·,]*$")


_DECIMAL_COMMA = re.compile(r"^([-+]?\d{1,3}(?:,\d{3})*)[,，:：](\d{2})$")
_DOUBLE_DOT = re.compile(r"^([-+]?[\d,]*\d)\.{2,}(\d+%?)$")
_GROUP_SEMICOLON = re.compile(r"^[-+]?\d{1,3}([,;；]\d{3})+(\.\d+)?%?$")
_SPECK_ONLY = re.compile(r"^[•·.。,，、'`‘’\"“”:：;；_~]+$")


def fix_numeric(text: str) -> str:
    """A number whose zeros were read as the letter O ("O", "1,OOO.00") gets its zeros back, a
    speck read as a dot before or after a number ("6.", ".0") goes, and a decimal point read as a
    comma or a colon ("0,00", "692，30", "171:26": a thousands comma never has two digits after
    it, and no figure of a disclosure holds a colon) is restored; a doubled decimal point
    ("520..91") is made one, and a thousands separator read as a semicolon ("5,061;583") a comma; a
    1 read as l, I, | (or L, leading) among digits is a 1 again ("l,464,000"). Only whole
    tokens made of digits, O-like letters and separators are touched."""
    if text and _NUMLIKE.match(text) and any(ch in text for ch in "OoóòÓÒ"):
        text = text.translate(_ZERO)
    if text and any(ch.isdigit() for ch in text) and any(ch in text for ch in "lI|L"):
        ones = re.sub(r"^L", "1", re.sub(r"[lI|]", "1", text))
        if _FIGURE.match(ones):
            text = ones
    m = _DOUBLE_DOT.match(text or "")
    if m:  # "520..91": a speck beside the decimal point read as a second one
        text = f"{m.group(1)}.{m.group(2)}"
    if text and _GROUP_SEMICOLON.match(text) and any(ch in text for ch in ";；"):
        text = text.replace(";", ",").replace("；", ",")  # "5,061;583": a thousands comma with a speck above it
    m = _DECIMAL_COMMA.match(text or "")
    if m:
        text = f"{m.group(1)}.{m.group(2)}"
    m = _STRAY_DOTS.match(text or "")
    if m and m.group(1) != text:
        return m.group(1)
    return text


def is_speck_text(text: str) -> bool:
    """Text that is nothing but dots, commas or quotes: a speck of dirt read as punctuation, not
    a cell's content (a dash is content: it means zero or not applicable)."""
    return bool(_SPECK_ONLY.match(text or ""))


def _cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


# the labels of a form's sign-off line, always followed by a colon (负责人：… 联系电话：…)
FORM_LABEL = re.compile(r"(负责人|经办人|填报人|联系人|联系电话|填报日期|填表日期)$")


# a dot read with less confidence than this inside a long run of digits is a speck
SPECK_DOT_DOUBT = 0.97
# a full stop read this surely at the end of a short cell text is the sentence's own
SURE_STOP = 0.95
# an ASCII dot between Chinese characters read this surely is printed there, not a speck
SURE_MID_DOT = 0.98


def _digits_before(chars: list[tuple[str, float]], i: int) -> int:
    """The index just before the run of digits that ends at ``i`` (-1 at the text's start)."""
    j = i - 1
    while j >= 0 and chars[j][0].isdigit():
        j -= 1
    return j


def _long_digit_run(chars: list[tuple[str, float]], i: int) -> bool:
    """The dot at ``i`` stands between digits with five or more digits after it and no other
    separator in the token (a figure of the disclosure has at most four decimals)."""
    j = _digits_before(chars, i)
    k = i + 1
    while k < len(chars) and chars[k][0].isdigit():
        k += 1
    before, after = i - 1 - j, k - i - 1
    edge_ok = (j < 0 or chars[j][0] not in ".,，") and (k >= len(chars) or chars[k][0] not in ".,，")
    return before >= 1 and after >= 5 and edge_ok


def _decimal_before(chars: list[tuple[str, float]], i: int) -> bool:
    """The figure ending just before ``i`` already has its decimal point ("81.5" of "81.5.万元")."""
    j = _digits_before(chars, i)
    return j >= 1 and chars[j][0] == "." and chars[j - 1][0].isdigit()


def _date_before_digits(chars: list[tuple[str, float]], i: int) -> bool:
    """The run of digits ending just before ``i`` follows 年 or 月 (a month or day of a date)."""
    j = _digits_before(chars, i)
    return j >= 0 and chars[j][0] in "年月"


def _unopened_close(chars: list[tuple[str, float]], i: int) -> bool:
    """A closing bracket follows position ``i`` with no opening one between, and none before it."""
    before = "".join(c for c, _ in chars[:i])
    if before.count("(") + before.count("（") > before.count(")") + before.count("）"):
        return False
    for c, _ in chars[i + 1:]:
        if c in "(（":
            return False
        if c in ")）":
            return True
    return False


def drop_speck_punct(chars: list[tuple[str, float]]) -> None:
    """In a table cell's text (a list of (char, probability), changed in place), drop the
    punctuation that Chinese cell text never carries where it was read: a middle dot or bullet
    next to a Chinese character, a ASCII dot between two Chinese characters ("成.本"; an ASCII comma there is a real comma, made
    full-width), and a
    full stop or dot ending a short label that holds no other punctuation ("一般行政管理事务。"),
    and a dot just inside an opening bracket ("(.元)"), a mark after a sentence's final stop
    ("任务。.") or a dot before a Chinese mark ("运转.，"); a doubtful "C" before Chinese text that a
    lone closing bracket follows is the opening bracket ("C元)" -> "（元)").
    Numbers keep their dots and commas: only marks beside Chinese characters are touched. A cell
    that is nothing but a sign-off label (负责人, 联系电话 …) gets back the colon that always follows
    it, when the scan lost it."""
    i = 0
    while i < len(chars):
        ch = chars[i][0]
        prev = chars[i - 1][0] if i > 0 else ""
        nxt = chars[i + 1][0] if i + 1 < len(chars) else ""
        drop = False
        if ch in "·•" and (_cjk(prev) or _cjk(nxt)):
            drop = True
        elif ch == "." and _cjk(prev) and _cjk(nxt):
            drop = chars[i][1] < SURE_MID_DOT  # a dot printed there (a typo of the source) is read surely
        elif ch == "." and prev.isdigit() and (_cjk(nxt) or nxt == "%") and _decimal_before(chars, i):
            drop = True  # "≤81.5.万元": a figure has one decimal point
        elif ch in ".·," and prev in "≥≤<>＜＞=" and nxt.isdigit():
            drop = True  # "≥.80%": a speck between the comparator and the figure
        elif ch == "." and prev.isdigit() and nxt in "月日号底份" and _date_before_digits(chars, i):
            drop = True  # "2025年7.月至9月": a speck inside a date
        elif ch == "," and _cjk(prev) and _cjk(nxt):  # a real comma the recogniser read as ASCII
            chars[i] = ("，", chars[i][1])
        elif ch in ".。·" and not nxt and _cjk(prev):
            text = "".join(c for c, _ in chars)
            if FORM_LABEL.search(text[:-1]):  # "负责人." : the colon's upper dot was lost
                chars[i] = ("：", chars[i][1])
            elif ch in ".·":  # an ASCII dot or middle dot never ends Chinese text: a speck
                drop = True
            else:  # a full stop ends a sentence, not a short label; a doubtful one is a speck
                drop = len(text) <= 16 and not any(p in text for p in "，,、；;：:") and (
                    chars[i][1] < SURE_STOP or len(text) <= 5)  # no sentence is four characters long

        elif ch in ".·" and prev in "(（":  # "项目资金(.元)": a speck inside the bracket
            drop = True
        elif ch in ".·。，," and not nxt and prev in "。！？；":  # "…全部工作任务。.": after the final stop
            drop = True
        elif ch in ".·" and _cjk(prev) and nxt in "，。、；：":  # "正常运转.，确有": a speck before a mark
            drop = True
        elif ch in "Cc" and chars[i][1] < 0.9 and _cjk(nxt) and _unopened_close(chars, i):
            chars[i] = ("（", chars[i][1])  # "项目资金C元)": an opening bracket read as a letter
        elif ch in ".·," and not prev and (_cjk(nxt) or nxt in "≥≤<>＜＞"):
            drop = True
        elif ch in ",，、" and not prev and nxt.isdigit():  # no figure starts with a comma
            drop = True
        elif ch == "." and chars[i][1] < SPECK_DOT_DOUBT and _long_digit_run(chars, i):
            drop = True  # "20241.007155159": no amount or rate has five decimals; a date or code has none
        if drop:
            chars.pop(i)
        else:
            i += 1
    text = "".join(c for c, _ in chars)
    if FORM_LABEL.match(text):  # "负责人" alone: its colon was lost
        chars.append(("：", min(p for _, p in chars)))


_CODE = re.compile(r"^\d{3}(?:\d{2}){0,2}$")
_CODE_WITH_MARK = re.compile(r"^\d+[.,，·]\d+$")


def restore_codes(texts: list[str]) -> list[str]:
    """A column of 科目编码 (3-, 5- and 7-digit codes, each 5- or 7-digit code under the 3- or 5-digit
    code it starts with): a code read with a speck inside it as a dot or comma ("208080.1") gets
    its digits back when, without the mark, it is a code whose parent is in the column. A figure
    never passes: the column must hold at least three codes and no figure but the marked ones, and
    the repaired code's parent must be there."""
    codes = {t for t in texts if _CODE.match(t)}
    marked = [t for t in texts if _CODE_WITH_MARK.match(t)]
    figures = [t for t in texts if re.search(r"\d", t) and not _CODE.match(t)]
    if len(codes) < 3 or len(figures) > len(marked) or len(marked) > max(2, len(codes) // 3):
        return texts
    out = list(texts)
    for i, t in enumerate(texts):
        if not _CODE_WITH_MARK.match(t):
            continue
        d = re.sub(r"\D", "", t)
        if len(d) in (5, 7) and d[:-2] in codes:
            out[i] = d
    return out


_NUMERALS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_NUMBERED = re.compile(r"^([一二三四五六七八九十]+)、")
_BARE_NUMBER = re.compile(r"^([一二三四五六七八九十]+)(?=[\u4e00-\u9fff]{2})(?![、一二三四五六七八九十])")


def chinese_ordinal(run: str) -> Optional[int]:
    """一 … 九十九 as a number; None for anything else."""
    vals = [_NUMERALS.get(ch) for ch in run]
    if not run or None in vals or len(run) > 3:
        return None
    if len(run) == 1:
        return vals[0]
    if run[0] == "十":  # 十, 十七
        return 10 + (vals[1] if len(run) == 2 else 0) if len(run) <= 2 else None
    if run[1] == "十":  # 二十, 二十三
        return vals[0] * 10 + (vals[2] if len(run) == 3 else 0)
    return None


def restore_numbering(texts: list[str]) -> list[str]:
    """A column that numbers its items "一、…", "二、…" (the 类 rows of a budget table): an item
    whose "、" the scan lost ("十七金融支出") gets it back when its number falls between the
    numbers of the items above and below it (or right after the last one) and is not used by
    another. A single 一 is never taken for a number: 一般, 一次 are words."""
    nums: list[Optional[int]] = []
    for t in texts:
        m = _NUMBERED.match(t)
        nums.append(chinese_ordinal(m.group(1)) if m else None)
    used = {n for n in nums if n is not None}
    if len(used) < 2:
        return texts
    out = list(texts)
    for i, t in enumerate(texts):
        m = _BARE_NUMBER.match(t)
        if nums[i] is not None or not m or m.group(1) == "一":
            continue
        n = chinese_ordinal(m.group(1))
        if n is None or n in used:
            continue
        before = next((nums[j] for j in range(i - 1, -1, -1) if nums[j] is not None), None)
        after = next((nums[j] for j in range(i + 1, len(nums)) if nums[j] is not None), None)
        if before is not None and before < n and (n < after if after is not None else n == before + 1):
            out[i] = m.group(1) + "、" + t[len(m.group(1)):]
            used.add(n)
    return out


# the probability given to a character the pipeline inferred rather than read
INFERRED_MARK_PROB = 0.5


def repair_columns(cells: list, reads: list) -> None:
    """Column by column of a table (``cells``: its grid cells, with ``row`` and ``col``; ``reads``:
    their reads, changed in place), the "、" a numbered item lost in the scan (restore_numbering);
    the restored mark gets a doubtful probability, as it was inferred, not read; and the digits of
    a 科目编码 that a speck split (restore_codes)."""
    by_col: dict[int, list[int]] = {}
    for i, c in enumerate(cells):
        by_col.setdefault(c.col, []).append(i)
    for idx in by_col.values():
        idx.sort(key=lambda i: cells[i].row)
        texts = [reads[i].text for i in idx]
        for i, old, new in zip(idx, texts, restore_numbering(texts)):
            if new != old and len(reads[i].char_probs) == len(old):
                k = new.index("、")
                reads[i].text = new
                reads[i].char_probs = reads[i].char_probs[:k] + [INFERRED_MARK_PROB] + reads[i].char_probs[k:]
        # a 科目编码 with a speck read as a dot inside it ("208080.1"): the mark goes, counted as dropped
        texts = [reads[i].text for i in idx]
        for i, old, new in zip(idx, texts, restore_codes(texts)):
            if new != old and len(reads[i].char_probs) == len(old):
                gone = [p for ch, p in zip(old, reads[i].char_probs) if not ch.isdigit()]
                reads[i].text = new
                reads[i].char_probs = [p for ch, p in zip(old, reads[i].char_probs) if ch.isdigit()]
                reads[i].dropped = max(reads[i].dropped, *gone)
