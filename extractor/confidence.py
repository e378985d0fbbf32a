"""Confidence: one number per extracted value from the evidence kept on it.

Three layers:
- ``cell_confidence``: a fixed first score from the OCR character probabilities, the ruling-line
  support and the ink of an empty cell, set when the cell is read;
- ``EvidenceModel``: a logistic model over everything known once the whole document is read
  (the weakest characters, the cell's shape against its column's: a number in a column of numbers
  with the column's decimals and separators, the arithmetic checks it passed or broke, the name
  vote, a character the recogniser saw in a gap but left out, doubtful punctuation),
  fitted on rendered scans by scripts/calibrate.py (the fitting itself: scripts/calfit.py) and
  stored in models/calibration.json;
- ``Calibration``: an isotonic map from that score to the probability of being right.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from . import policy
from .kpi import lexicon
from .model import Cell, OcrEvidence, Table


def text_confidence(ev: OcrEvidence) -> float:
    if ev.n_chars == 0:
        return 0.0
    # the weakest character decides most: one misread character makes the value wrong
    return round(max(0.0, min(1.0, 0.65 * ev.min_prob + 0.35 * ev.mean_prob ** max(1, ev.n_chars // 4))), 4)


def cell_confidence(cell: Cell, ink: float) -> float:
    """Probability-like score that the cell's text (including 'empty') is right."""
    s = cell.structure
    struct = 0.8 + 0.2 * s.borders_seen
    if s.span_inferred:
        struct *= 0.85
    if s.pieces and s.pieces > 1:  # a grid from text with pieces apart in one cell: columns run together?
        struct *= 0.5
    if cell.ocr is None or cell.ocr.n_chars == 0:
        # empty: sure when there is no ink at all, doubtful when ink was there but nothing was read
        empty = 0.99 if ink < 0.002 else max(0.3, 0.99 - 40 * ink)
        return unsure_cap(round(empty * struct, 4), cell.ocr)
    return unsure_cap(round(text_confidence(cell.ocr) * struct, 4), cell.ocr)


# a cell whose ink the text may not account for is never surer than this (and less, the more doubt):
# below the review threshold, so a doubtful "1" or an unread placeholder is looked at
UNSURE_CAP = 0.85


def unsure_cap(conf: float, ev: Optional[OcrEvidence]) -> float:
    """``conf`` capped by the read's doubt that its text accounts for the cell's ink."""
    if ev is None or not ev.unsure:
        return conf
    return round(min(conf, UNSURE_CAP * (1.0 - min(1.0, ev.unsure))), 4)


class Calibration:
    """A monotone map from raw confidence to the probability of being right (isotonic regression
    fitted by scripts/calibrate.py with scripts/calfit.py), applied by linear interpolation between
    its knots."""

    def __init__(self, x: list[float], y: list[float], meta: dict | None = None):
        self.x, self.y, self.meta = list(x), list(y), meta or {}

    def __call__(self, c: float) -> float:
        import numpy as np

        return float(np.interp(c, self.x, self.y))

    def save(self, path, meta: dict | None = None) -> None:
        import json
        from pathlib import Path

        Path(path).write_text(json.dumps({"x": [round(v, 5) for v in self.x], "y": [round(v, 5) for v in self.y],
                                          "meta": meta or self.meta}, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path) -> "Calibration":
        import json
        from pathlib import Path

        d = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(d["x"], d["y"], d.get("meta"))


# ------------------------------------------------------------------ evidence model
_NUMBER = re.compile(r"^[-+]?[\d,.]*\d[\d,.]*%?$")
_WELL_FORMED = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?%?$")
# The evidence features, in the order of the vector ``table_features`` gives (each cell's values are
# built by name, ``feature_vector`` puts them in this order). A model names the features it weighs
# (models/calibration.json, "evidence"), so one fitted before a feature was added still scores the
# same: add a feature at the end, never between.
FEATURES = [
    "bias", "empty", "ink_empty", "log_chars", "lines",
    "borders_missing", "span_inferred", "numeric", "numeric_col", "text_in_numeric_col", "number_in_text_col",
    "malformed_number", "decimals_off", "checks_ok", "checks_broken", "name_voted", "header_row",
    "empty_in_full_col", "doubt_min_numeric", "odd_punct", "edge_punct", "one_char",
    "table_doubt", "table_borders_missing", "table_low_share", "spans_cols", "spans_rows",
    "p_min", "p_text", "p_text_sq",
    "doubt_x_table_low", "ptext_x_table_low", "empty_x_table_doubt", "doubt_x_missing",
    "dash", "letters_in_number", "variant_of_common", "repeated",
    "dropped", "strict_comparator", "doubt_min_clean", "edge_doubt", "edge_doubt_clean", "glued_number",
    "multi_dot", "one_char_doubt", "lexicon_known", "lexicon_near", "lexicon_extra", "one_row_table",
    "broken_unvouched", "broken_twice", "missed", "missed_long", "missed_edge_long",
    "punct_doubt", "latin_alone", "lone_col_edge", "lone_row_edge", "unsure",
]
# computed for the interactions but not fitted: the surety of the weakest character, 4 - its doubt
# (it, the second weakest's, the mean's and its product with the table's doubt were fitted once;
# their weights came out with mixed signs, so that a doubtful read could raise the score)
_UNFITTED = ("doubt_min",)
_COMPUTED = frozenset(FEATURES) | frozenset(_UNFITTED)
# a figure glued to Chinese text that is not its unit: two cells read as one ("0单位自筹", "资金0")
_GLUED = re.compile(r"^[-+]?\d[\d,.]*(?![\d,.])(?![万亿元年月日个人次件项天%％台辆所份篇期场户名家座条]|以[上下内])[\u4e00-\u9fff]"
                    r"|[\u4e00-\u9fff][-+]?\d[\d,.]*$")
_DASH = re.compile(r"^[-—–/]+$")
_ODD = set("•·。|」「'`‘’\"“”_~;；*★●■▲")
_EDGE_OK = set("%）)：:")
# sentence punctuation: where the recogniser's doubt in a long sentence goes
_PUNCT = set("，。、；：,.;:！？!?")


def _doubt(p: float) -> float:
    """-log10 of the probability of a misread: 0 for a sure character, up to 4."""
    return min(4.0, -math.log10(max(1e-4, 1.0 - min(p, 0.9999)))) if p < 1 else 4.0


def _decimals(t: str) -> Optional[int]:
    t = t.rstrip("%")
    return len(t.rpartition(".")[2]) if "." in t else 0


class TextCounts:
    """How often each cell text occurs in a document, and which rarer texts are near-copies of a
    common one: headers and labels repeat across a disclosure's tables (科目名称, 项目支出,
    负责人：), so "童科目名称" next to twenty "科目名称" is most likely a misread."""

    def __init__(self, tables: Sequence[Table]):
        from collections import Counter

        self.counts = Counter(_key(c.text) for t in tables for c in t.cells if _key(c.text))
        self.common = [t for t, n in self.counts.most_common(300) if n >= 3]
        self._variant: dict[str, bool] = {}

    def variant(self, text: str) -> bool:
        from rapidfuzz.distance import Levenshtein

        k = _key(text)
        if len(k) < 2 or _NUMBER.match(k):
            return False
        if k not in self._variant:
            own = max(1, self.counts.get(k, 0))
            found = False
            for t in self.common:  # most common first
                edits = max(1, len(t) // 5)
                if (t != k and self.counts[t] >= 3 * own and abs(len(t) - len(k)) <= edits
                        and Levenshtein.distance(k, t, score_cutoff=edits) <= edits):
                    found = True
                    break
            self._variant[k] = found
        return self._variant[k]


def _key(text: str) -> str:
    return re.sub(r"\s+", "", text or "")


def table_features(table: Table, counts: Optional[TextCounts] = None) -> list[tuple[Cell, list[float]]]:
    """One feature vector (``FEATURES`` order) per cell of ``table``; ``counts``: the document's
    text counts (the table's own when not given)."""
    return [(c, feature_vector(v)) for c, v in cell_features(table, counts)]


def feature_vector(values: dict[str, float]) -> list[float]:
    """A cell's feature values (by name) as the vector the evidence model scores, in ``FEATURES``
    order: the one place where names become positions."""
    if values.keys() != _COMPUTED:
        raise ValueError(f"feature values unlike the features: {sorted(values.keys() ^ _COMPUTED)}")
    return [values[n] for n in FEATURES]


def cell_features(table: Table, counts: Optional[TextCounts] = None) -> list[tuple[Cell, dict[str, float]]]:
    """Every cell of ``table`` with its feature values by name (``FEATURES``, and the unfitted
    ``_UNFITTED``)."""
    ts = _table_stats(table, counts or TextCounts([table]))
    return [(c, _cell_values(c, ts)) for c in table.cells]


@dataclass
class _TableStats:
    """What a cell's features need from the rest of its table (and document)."""

    counts: TextCounts  # the document's texts
    texts: dict[int, str]  # id(cell) -> its text, spaces out
    numeric: dict[int, bool]  # id(cell) -> its text is a number
    col_num: dict[int, float]  # column -> share of numbers among its filled body cells
    col_dec: dict[int, Optional[int]]  # column -> its numbers' decimals (None: no three agree)
    col_fill: dict[int, float]  # column -> share of its body cells filled
    doubt: float  # the table's mean surety of a read's weakest character (4 - doubt)
    low: float  # share of the table's reads with a character under 0.9
    missing: float  # mean share of a cell's borders not seen
    lone: dict[int, tuple[float, float]]  # id(cell) -> _lone_edges
    one_row: bool  # a strip of one row


def _table_stats(table: Table, counts: TextCounts) -> _TableStats:
    """``table``'s texts, column kinds and share of doubtful reads (``counts``: the document's)."""
    texts = {id(c): _key(c.text) for c in table.cells}
    numeric = {id(c): bool(_NUMBER.match(texts[id(c)])) and any(ch.isdigit() for ch in texts[id(c)]) for c in table.cells}
    col_num, col_dec, col_fill = _column_stats(table, texts, numeric)
    read = [c.ocr for c in table.cells if c.ocr is not None and c.ocr.n_chars]
    return _TableStats(
        counts=counts, texts=texts, numeric=numeric, col_num=col_num, col_dec=col_dec, col_fill=col_fill,
        doubt=sum(4.0 - _doubt(e.min_prob) for e in read) / len(read) if read else 0.0,
        low=sum(e.min_prob < 0.9 for e in read) / len(read) if read else 0.0,
        missing=sum(1.0 - c.structure.borders_seen for c in table.cells) / max(1, len(table.cells)),
        lone=_lone_edges(table), one_row=table.n_rows == 1)


def _column_stats(table: Table, texts: dict[int, str], numeric: dict[int, bool]
                  ) -> tuple[dict[int, float], dict[int, Optional[int]], dict[int, float]]:
    """Per column, over its body cells (rows after the first): the share of numbers among the
    filled cells, the decimals that at least three of its numbers have (None: none such), the share
    of cells filled."""
    from collections import Counter

    by_col: dict[int, list[Cell]] = {}
    for c in table.cells:
        if c.row > 0:
            by_col.setdefault(c.col, []).append(c)
    col_num: dict[int, float] = {}
    col_dec: dict[int, Optional[int]] = {}
    col_fill: dict[int, float] = {}
    for k, cs in by_col.items():
        filled = [c for c in cs if texts[id(c)]]
        col_fill[k] = len(filled) / len(cs)
        nums = [c for c in filled if numeric[id(c)]]
        col_num[k] = len(nums) / len(filled) if filled else 0.0
        decs = Counter(_decimals(texts[id(c)]) for c in nums if "." in texts[id(c)] or not texts[id(c)].endswith("%"))
        col_dec[k] = decs.most_common(1)[0][0] if decs and decs.most_common(1)[0][1] >= 3 else None
    return col_num, col_dec, col_fill


def _cell_values(c: Cell, ts: _TableStats) -> dict[str, float]:
    """The feature values of one cell, by name."""
    t = ts.texts[id(c)]
    ev = c.ocr or OcrEvidence(n_chars=0)
    empty = ev.n_chars == 0 or not t
    is_num = ts.numeric[id(c)]
    v = {"bias": 1.0}
    v.update(_read_values(ev, t, empty, is_num))
    v.update(_shape_values(c, ts, t, empty, is_num))
    v.update(_check_values(c.checks))
    v.update(_text_values(t, empty, is_num, ts.counts))
    v.update(_interaction_values(v, ts, t))
    return v


def _read_values(ev: OcrEvidence, t: str, empty: bool, is_num: bool) -> dict[str, float]:
    """From the recogniser's read: its probabilities, its lines, what it left out or doubted."""
    low = min(ev.char_probs) if ev.char_probs else (ev.min_prob if ev.n_chars else None)
    d_min = _doubt(low) if low is not None else 0.0
    p_text = 0.0 if empty else text_confidence(ev)
    # the first and last characters are where a speck is read as a character ("斋2022年预算数")
    edge = 0.0 if empty or len(ev.char_probs) < 2 else 4.0 - _doubt(min(ev.char_probs[0], ev.char_probs[-1]))
    # a character the recogniser saw in a gap between the characters it read, or after the last,
    # but left out: in a sentence (a lost 、 or 。 where every character read is sure) it is
    # nearly always a lost character (on the calibration scans 52 of 54 such long cells were
    # wrong); beside a short cell's figure it is mostly a speck at the edge
    long_text = float(len(t) >= 10)
    missed = min(1.0, ev.missed / 0.1)
    # the marks are what the recogniser gets wrong in a long sentence read surely otherwise
    pp = [p for ch, p in zip(t, ev.char_probs) if ch in _PUNCT] if len(ev.char_probs) == len(t) else []
    return {
        "empty": float(empty), "ink_empty": min(1.0, 50 * (ev.ink or 0.0)) if empty else 0.0,
        "doubt_min": 0.0 if empty else 4.0 - d_min, "doubt_min_numeric": (4.0 - d_min) * float(is_num),
        "log_chars": 0.0 if empty else math.log1p(len(t)), "lines": float(max(0, ev.n_lines - 1)),
        "p_min": 0.0 if empty else ev.min_prob, "p_text": p_text, "p_text_sq": 0.0 if empty else p_text ** 8,
        "edge_doubt": edge, "dropped": 0.0 if empty and not ev.dropped else float(ev.dropped),
        "missed": missed, "missed_long": missed * long_text,
        "missed_edge_long": min(1.0, ev.missed_edge / 0.1) * long_text,
        "punct_doubt": 4.0 - _doubt(min(pp)) if pp else 0.0,
        # the read's doubt that its text accounts for the cell's ink (a stroke at the rule that may be
        # a 1, placeholder marks the recogniser reads otherwise)
        "unsure": min(1.0, ev.unsure),
    }


def _shape_values(c: Cell, ts: _TableStats, t: str, empty: bool, is_num: bool) -> dict[str, float]:
    """From the cell's place: its borders and spans, its column's kind, its table's reads."""
    cn = ts.col_num.get(c.col, 0.0)
    dec = ts.col_dec.get(c.col)
    body = c.row > 0
    lone_col, lone_row = ts.lone[id(c)]
    return {
        "borders_missing": 1.0 - c.structure.borders_seen, "span_inferred": float(c.structure.span_inferred),
        "header_row": float(c.row == 0),
        "spans_cols": float(c.colspan > 1 and body), "spans_rows": float(c.rowspan > 1),
        "numeric": float(is_num), "numeric_col": cn,
        "text_in_numeric_col": float(not empty and not is_num and not _DASH.match(t) and cn >= 0.8 and body),
        "number_in_text_col": float(is_num and cn < 0.3 and body),
        "decimals_off": float(is_num and dec is not None and _decimals(t) != dec and body),
        "empty_in_full_col": float(empty and ts.col_fill.get(c.col, 0.0) >= 0.9 and body),
        "letters_in_number": float(bool(re.search(r"\d", t)) and bool(re.search(r"[A-Za-z]", t)) and cn >= 0.5),
        "table_doubt": ts.doubt, "table_borders_missing": ts.missing, "table_low_share": ts.low,
        # a strip of one row (a sign-off line, the tail of a table cut by the page) has no rows
        # around it to align its columns with
        "one_row_table": float(ts.one_row),
        "lone_col_edge": lone_col, "lone_row_edge": lone_row,
    }


def _check_values(checks: Sequence[str]) -> dict[str, float]:
    """From the arithmetic checks on the cell (extractor/policy.py reads their marks)."""
    ok, bad = len(policy.passed(checks)), len(policy.broken(checks))
    return {
        "checks_ok": float(min(ok, 3)), "checks_broken": float(min(bad, 3)),
        # a name the KPI name vote corrected ("~name_vote", kpi/vote.py)
        "name_voted": float(bool(policy.mended(checks))),
        # a broken check with none satisfied, and two broken checks crossing at the cell, point at
        # it rather than at the other cells they cover
        "broken_unvouched": float(bad > 0 and ok == 0), "broken_twice": float(bad >= 2),
    }


def _text_values(t: str, empty: bool, is_num: bool, counts: TextCounts) -> dict[str, float]:
    """From the text alone: its marks and shape, the document's other texts, the standard names."""
    return {
        "malformed_number": float(is_num and not _WELL_FORMED.match(t)),
        "multi_dot": float(is_num and t.count(".") >= 2),
        "glued_number": float(bool(_GLUED.search(t)) and not is_num),
        "odd_punct": float(min(2, sum(ch in _ODD for ch in t))),
        "edge_punct": float(bool(t) and (not (t[0].isalnum() or t[0] in "（(-—≥≤<>+") or
                                         not (t[-1].isalnum() or t[-1] in _EDGE_OK or t[-1] in "-—"))),
        "one_char": float(len(t) == 1), "dash": float(bool(_DASH.match(t))),
        "strict_comparator": float(bool(t) and t[0] in "<>＜＞"),
        # a cell of one or two Latin letters and nothing else: a digit or a mark misread ("Q" for 0)
        "latin_alone": float(bool(re.fullmatch(r"[A-Za-z]{1,2}", t))),
        "variant_of_common": float(counts.variant(t)),
        "repeated": float(not empty and not is_num and counts.counts.get(_key(t), 0) >= 3),
        "lexicon_known": float(not is_num and lexicon.is_known(t)),
        "lexicon_near": float(not is_num and lexicon.near_known(t)),
        "lexicon_extra": float(not is_num and lexicon.extra_at_edge(t)),
    }


def _interaction_values(v: dict[str, float], ts: _TableStats, t: str) -> dict[str, float]:
    """Products of the read's doubt with its table's: a clean table (few doubtful reads) makes one
    doubtful character telling."""
    clean = max(0.0, 1.0 - 10.0 * ts.low)
    sure = v["doubt_min"]
    return {
        "doubt_x_table_low": sure * ts.low, "ptext_x_table_low": v["p_text"] * ts.low,
        "empty_x_table_doubt": v["empty"] * ts.doubt, "doubt_x_missing": sure * ts.missing,
        "doubt_min_clean": sure * clean, "edge_doubt_clean": v["edge_doubt"] * clean,
        "one_char_doubt": sure * float(len(t) == 1),
    }


def _lone_edges(table: Table) -> dict[int, tuple[float, float]]:
    """Per cell: (a side boundary of the cell is drawn in none of the rows just above and below it,
    a top or bottom boundary in none of the columns just left and right of it). A boundary that
    exists in one row alone is where a character's stroke is taken for a ruling ("公务接待费" cut
    into pieces); the cell is then cut by a line that its neighbours do not have. Layout-neutral:
    it is the ruling of the page, not one renderer's habit."""
    slots = table.slot_map()
    nr, nc = table.n_rows, table.n_cols

    def vb(r: int, k: int) -> bool:  # a column boundary at edge k in row r
        return slots.get((r, k - 1)) is not slots.get((r, k))

    def hb(r: int, k: int) -> bool:  # a row boundary at edge r in column k
        return slots.get((r - 1, k)) is not slots.get((r, k))

    out = {}
    for c in table.cells:
        col = row = 0.0
        for k in (c.col, c.col + c.colspan):
            nb = [r for r in (c.row - 1, c.row + c.rowspan) if 0 <= r < nr]
            if 0 < k < nc and nb and not any(vb(r, k) for r in nb):
                col = 1.0
        for r in (c.row, c.row + c.rowspan):
            nb = [k for k in (c.col - 1, c.col + c.colspan) if 0 <= k < nc]
            if 0 < r < nr and nb and not any(hb(r, k) for k in nb):
                row = 1.0
        out[id(c)] = (col, row)
    return out


class EvidenceModel:
    """Logistic regression over ``table_features``: P(cell text right | evidence)."""

    def __init__(self, weights: Sequence[float], features: Sequence[str] = tuple(FEATURES)):
        names = list(features)
        unknown = [n for n in names if n not in FEATURES]
        if unknown or len(names) != len(weights):
            raise ValueError(f"evidence model has features this version does not compute ({unknown}) "
                             "or a weight count unlike its feature count; refit it (scripts/calibrate.py)")
        # a model names its features: one fitted before a feature was added still scores the same
        self.names = names
        self.idx = [FEATURES.index(n) for n in names]
        self.w = list(weights)

    def score(self, f: Sequence[float]) -> float:
        z = sum(w * f[i] for w, i in zip(self.w, self.idx))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def apply(self, tables: Sequence[Table]) -> None:
        counts = TextCounts(tables)
        for t in tables:
            for c, f in table_features(t, counts):
                c.confidence = round(self.score(f), 4)

    def to_json(self) -> dict:
        return {"features": self.names, "weights": [round(w, 5) for w in self.w]}


def load_map(data: dict, key: str) -> Optional[Calibration]:
    """A map of models/calibration.json (``data``: its parsed content) fitted by
    scripts/calibrate_text_tables.py on some layout families and checked on others: ``text_cells``
    for cells of tables built from text alignment (their raw confidence to the share right),
    ``faint_cells`` for cells of ruled tables on pages the enhancement found faint or unevenly lit
    (applied after the cell map); ``layer_cells`` (scripts/calibrate_layer.py) for cells read from a
    PDF's text layer. None when the file has none."""
    d = data.get(key)
    return Calibration(d["x"], d["y"], d.get("meta")) if d else None


def load_calibration(path, data: Optional[dict] = None) -> tuple[Optional[EvidenceModel], Optional[Calibration],
                                                                  Optional[Calibration]]:
    """(evidence model, cell map, KPI record map) from models/calibration.json (or its parsed
    content ``data``, when the caller has read it already)."""
    import json
    from pathlib import Path

    d = data if data is not None else json.loads(Path(path).read_text(encoding="utf-8"))
    ev = d.get("evidence")
    model = EvidenceModel(ev["weights"], ev["features"]) if ev else None
    cells = Calibration(d["cells"]["x"], d["cells"]["y"]) if "cells" in d else Calibration(d["x"], d["y"])
    kpis = Calibration(d["kpis"]["x"], d["kpis"]["y"]) if "kpis" in d else None
    return model, cells, kpis


# a text-layer cell (its table's text_source "pdf") that breaks an arithmetic check: the characters are the file's,
# so either the document's own figures disagree or the cell holds another cell's characters
LAYER_BROKEN = 0.5


def layer_confidence(c: Cell) -> float:
    """A text-layer cell's confidence: the raw score the page gave it (textlayer/page.py: decoding
    and placement), capped where one of its arithmetic checks breaks."""
    return min(c.confidence, LAYER_BROKEN) if policy.check_failed(c.checks) else c.confidence
