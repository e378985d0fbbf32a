"""Confidence: one number per extracted value from the evidence kept on it.

Three layers:
- ``cell_confidence``: a fixed first score from the OCR character probabilities, the ruling-line
  support and the ink of an empty cell, set when the cell is read;
- ``EvidenceModel``: a logistic model over everything known once the whole document is read
  (the weakest characters, the cell's shape against its column's: a number in a column of numbers
  with the column's decimals and separators, the arithmetic checks it passed or broke, the name
  vote, a character the recogniser saw in a gap but left out, doubtful punctuation),
  fitted on rendered scans by scripts/calibrate.py and stored in models/calibration.json;
- ``Calibration``: an isotonic map from that score to the probability of being right.
"""
from __future__ import annotations

import math
import re
from typing import Optional, Sequence

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
    fitted by scripts/calibrate.py), applied by linear interpolation between its knots."""

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


def fit_isotonic(scores, right) -> Calibration:
    """Pool-adjacent-violators: the non-decreasing step function closest to the right/wrong
    labels, over the distinct scores (ties pooled first)."""
    import numpy as np

    xs = np.asarray(scores, float)
    ys = np.asarray(right, float)
    if len(xs) == 0:
        return Calibration([0.0, 1.0], [0.0, 1.0])
    ux, inv = np.unique(xs, return_inverse=True)
    sums = np.bincount(inv, weights=ys)
    counts = np.bincount(inv).astype(float)
    blocks: list[list[float]] = []  # [sum_y, count, first knot, last knot]
    for x, s_, n in zip(ux, sums, counts):
        blocks.append([s_, n, x, x])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            s2, n2, _, hi = blocks.pop()
            blocks[-1][0] += s2
            blocks[-1][1] += n2
            blocks[-1][3] = hi
    kx, ky = [], []
    for s_, n, lo, hi in blocks:
        v = s_ / n
        kx += [lo, hi] if hi > lo else [lo]
        ky += [v, v] if hi > lo else [v]
    return Calibration(kx, ky)


# ------------------------------------------------------------------ evidence model
_NUMBER = re.compile(r"^[-+]?[\d,.]*\d[\d,.]*%?$")
_WELL_FORMED = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?%?$")
_ALL_FEATURES = [
    "bias", "empty", "ink_empty", "doubt_min", "doubt_min2", "doubt_mean", "log_chars", "lines",
    "borders_missing", "span_inferred", "numeric", "numeric_col", "text_in_numeric_col", "number_in_text_col",
    "malformed_number", "decimals_off", "checks_ok", "checks_broken", "name_voted", "header_row",
    "empty_in_full_col", "doubt_min_numeric", "odd_punct", "edge_punct", "one_char",
    "table_doubt", "table_borders_missing", "table_low_share", "spans_cols", "spans_rows",
    "p_min", "p_text", "p_text_sq",
    "doubt_x_table_doubt", "doubt_x_table_low", "ptext_x_table_low", "empty_x_table_doubt", "doubt_x_missing",
    "dash", "letters_in_number", "variant_of_common", "repeated",
    "dropped", "strict_comparator", "doubt_min_clean", "edge_doubt", "edge_doubt_clean", "glued_number",
    "multi_dot", "one_char_doubt", "lexicon_known", "lexicon_near", "lexicon_extra", "one_row_table",
    "broken_unvouched", "broken_twice", "missed", "missed_long", "missed_edge_long",
    "punct_doubt", "latin_alone", "lone_col_edge", "lone_row_edge", "unsure",
]
# computed (the interactions use them) but not fitted: other forms of the same probabilities whose
# weights came out with mixed signs, so that a doubtful read could raise the score
_UNFITTED = {"doubt_min", "doubt_min2", "doubt_mean", "doubt_x_table_doubt"}
FEATURES = [n for n in _ALL_FEATURES if n not in _UNFITTED]
_KEEP = [i for i, n in enumerate(_ALL_FEATURES) if n not in _UNFITTED]
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
    from collections import Counter

    counts = counts or TextCounts([table])
    body = [c for c in table.cells if c.row > 0]
    texts = {id(c): _key(c.text) for c in table.cells}
    numeric = {id(c): bool(_NUMBER.match(texts[id(c)])) and any(ch.isdigit() for ch in texts[id(c)]) for c in table.cells}
    by_col: dict[int, list[Cell]] = {}
    for c in body:
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
    read = [c.ocr for c in table.cells if c.ocr is not None and c.ocr.n_chars]
    t_doubt = sum(4.0 - _doubt(e.min_prob) for e in read) / len(read) if read else 0.0
    t_low = sum(e.min_prob < 0.9 for e in read) / len(read) if read else 0.0
    t_missing = sum(1.0 - c.structure.borders_seen for c in table.cells) / max(1, len(table.cells))
    lone = _lone_edges(table)
    out = []
    for c in table.cells:
        t = texts[id(c)]
        ev = c.ocr or OcrEvidence(n_chars=0)
        probs = sorted(ev.char_probs) if ev.char_probs else ([ev.min_prob] if ev.n_chars else [])
        empty = ev.n_chars == 0 or not t
        cn = col_num.get(c.col, 0.0)
        is_num = numeric[id(c)]
        dec = col_dec.get(c.col)
        checks_ok = sum(1 for x in c.checks if x.startswith("+"))
        checks_bad = sum(1 for x in c.checks if x.startswith("-"))
        d_min = _doubt(probs[0]) if probs else 0.0
        f = [
            1.0, float(empty), min(1.0, 50 * (ev.ink or 0.0)) if empty else 0.0,
            0.0 if empty else 4.0 - d_min,
            0.0 if empty or len(probs) < 2 else 4.0 - _doubt(probs[1]),
            0.0 if empty else 4.0 - _doubt(ev.mean_prob),
            0.0 if empty else math.log1p(len(t)), float(max(0, ev.n_lines - 1)),
            1.0 - c.structure.borders_seen, float(c.structure.span_inferred),
            float(is_num), cn,
            float(not empty and not is_num and not _DASH.match(t) and cn >= 0.8 and c.row > 0),
            float(is_num and cn < 0.3 and c.row > 0),
            float(is_num and not _WELL_FORMED.match(t)),
            float(is_num and dec is not None and _decimals(t) != dec and c.row > 0),
            float(min(checks_ok, 3)), float(min(checks_bad, 3)),
            float(any(x.startswith("~") for x in c.checks)), float(c.row == 0),
            float(empty and col_fill.get(c.col, 0.0) >= 0.9 and c.row > 0),
            (4.0 - d_min) * float(is_num),
            float(min(2, sum(ch in _ODD for ch in t))),
            float(bool(t) and (not (t[0].isalnum() or t[0] in "（(-—≥≤<>+") or
                               not (t[-1].isalnum() or t[-1] in _EDGE_OK or t[-1] in "-—"))),
            float(len(t) == 1),
            t_doubt, t_missing, t_low,
            float(c.colspan > 1 and c.row > 0), float(c.rowspan > 1),
            0.0 if empty else ev.min_prob, 0.0 if empty else text_confidence(ev), 0.0 if empty else text_confidence(ev) ** 8,
        ]
        f += [f[3] * t_doubt, f[3] * t_low, f[-2] * t_low, f[1] * t_doubt, f[3] * t_missing,
              float(bool(_DASH.match(t))), float(bool(re.search(r"\d", t)) and bool(re.search(r"[A-Za-z]", t)) and cn >= 0.5),
              float(counts.variant(t)), float(not empty and not is_num and counts.counts.get(_key(t), 0) >= 3)]
        # a clean table (few doubtful reads) makes one doubtful character telling; the first and
        # last characters are where a speck is read as a character ("斋2022年预算数")
        clean = max(0.0, 1.0 - 10.0 * t_low)
        edge = 0.0 if empty or len(ev.char_probs) < 2 else 4.0 - _doubt(min(ev.char_probs[0], ev.char_probs[-1]))
        f += [0.0 if empty and not ev.dropped else float(ev.dropped),
              float(bool(t) and t[0] in "<>＜＞"),
              f[3] * clean, edge, edge * clean,
              float(bool(_GLUED.search(t)) and not is_num),
              float(is_num and t.count(".") >= 2),
              f[3] * float(len(t) == 1),
              float(not is_num and lexicon.is_known(t)), float(not is_num and lexicon.near_known(t)),
              float(not is_num and lexicon.extra_at_edge(t)),
              # a strip of one row (a sign-off line, the tail of a table cut by the page) has no
              # rows around it to align its columns with
              float(table.n_rows == 1),
              # a broken check with none satisfied, and two broken checks crossing at the cell, point
              # at it rather than at the other cells they cover
              float(checks_bad > 0 and checks_ok == 0), float(checks_bad >= 2)]
        # a character the recogniser saw in a gap between the characters it read, or after the last,
        # but left out: in a sentence (a lost 、 or 。 where every character read is sure) it is
        # nearly always a lost character (on the calibration scans 52 of 54 such long cells were
        # wrong); beside a short cell's figure it is mostly a speck at the edge
        long_text = float(len(t) >= 10)
        missed = min(1.0, ev.missed / 0.1)
        f += [missed, missed * long_text, min(1.0, ev.missed_edge / 0.1) * long_text]
        # the marks are what the recogniser gets wrong in a long sentence read surely otherwise
        pp = [p for ch, p in zip(t, ev.char_probs) if ch in _PUNCT] if len(ev.char_probs) == len(t) else []
        f += [4.0 - _doubt(min(pp)) if pp else 0.0,
              # a cell of one or two Latin letters and nothing else: a digit or a mark misread ("Q" for 0)
              float(bool(re.fullmatch(r"[A-Za-z]{1,2}", t)))]
        f += list(lone[id(c)])
        # the read's doubt that its text accounts for the cell's ink (a stroke at the rule that may be
        # a 1, placeholder marks the recogniser reads otherwise)
        f += [min(1.0, ev.unsure)]
        out.append((c, [f[i] for i in _KEEP]))
    return out


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


# evidence that is rare in any calibration set but certain in kind (the arithmetic checks): a
# lighter penalty, so that a handful of examples can give it its weight
LIGHT_PENALTY = {"checks_ok": 0.05, "checks_broken": 0.05, "broken_unvouched": 0.05, "broken_twice": 0.05}


def fit_logistic(X, y, l2: float = 1.0, iters: int = 50, names: Optional[Sequence[str]] = None) -> EvidenceModel:
    """L2-regularised logistic regression by Newton's method (the bias is not penalised, the
    features of ``LIGHT_PENALTY`` less than the others)."""
    import numpy as np

    X = np.asarray(X, float)
    y = np.asarray(y, float)
    w = np.zeros(X.shape[1])
    reg = np.full(X.shape[1], l2)
    reg[0] = 0.0
    for i, n in enumerate(names or FEATURES):
        if n in LIGHT_PENALTY:
            reg[i] = l2 * LIGHT_PENALTY[n]
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(X @ w, -30, 30)))
        g = X.T @ (p - y) + reg * w
        H = (X * (p * (1 - p))[:, None]).T @ X + np.diag(reg + 1e-9)
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    names = list(names or FEATURES)
    return EvidenceModel(w.tolist(), names)


def load_map(data: dict, key: str) -> Optional[Calibration]:
    """A map of models/calibration.json (``data``: its parsed content) fitted by
    scripts/calibrate_text_tables.py on some layout families and checked on others: ``text_cells``
    for cells of tables built from text alignment (their raw confidence to the share right),
    ``faint_cells`` for cells of ruled tables on pages the enhancement found faint or unevenly lit
    (applied after the cell map). None when the file has none."""
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
