"""The scorer behind the benchmark figures: a perfect extraction scores 1, planted errors are
counted where they are, and grids that cut a table into the same cells compare equal."""
import copy
import json
from pathlib import Path

from extractor.evaluate import auroc, canonical, document_from_truth, ece, is_numeric, score_document

ROOT = Path(__file__).resolve().parents[1]


def test_perfect_extraction_scores_one_and_planted_errors_count():
    truth = json.loads((ROOT / "samples" / "sample.truth.json").read_text(encoding="utf-8"))
    doc = document_from_truth(truth)
    m = score_document(doc, truth).summary()
    assert m["tables_f1"] == m["grid"] == m["text"] == m["numeric"] == m["continuation"] == m["kpi_f1"] == 1.0
    bad = copy.deepcopy(doc)
    t = bad.pages[0].tables[0]
    num = next(c for c in t.cells if is_numeric(c.text))
    num.text = num.text.replace(num.text[-1], "7" if num.text[-1] != "7" else "1")
    num.confidence = 0.2
    bad.pages[2].tables[0].continued_from = None
    s = score_document(bad, truth)
    m2 = s.summary()
    assert s.num_cells - s.num_ok == 1 and s.text_cells - s.text_ok == 1
    assert m2["continuation"] == 0.0 and m2["grid"] == 1.0
    assert m2["auroc"] == 1.0  # the one wrong cell is scored below every right one


def test_canonical_grid_ignores_boundaries_that_bound_nothing():
    # 2 rows; on the left a cell spans grid columns 0-1, on the right 2-3: columns 1 and 3 bound nothing
    wide = [(0, 0, 1, 2), (0, 2, 1, 2), (1, 0, 1, 2), (1, 2, 1, 2)]
    tight = [(0, 0, 1, 1), (0, 1, 1, 1), (1, 0, 1, 1), (1, 1, 1, 1)]
    assert sorted(canonical(wide).values()) == sorted(canonical(tight).values())


def test_auroc_and_ece():
    assert auroc([(0.9, True), (0.8, True), (0.3, False)]) == 1.0
    assert auroc([(0.3, True), (0.9, False)]) == 0.0
    assert abs(ece([(0.9, True)] * 9 + [(0.9, False)])) < 1e-9
    assert abs(ece([(1.0, False)] * 4) - 1.0) < 1e-9


def test_teds_top_down_equals_the_exact_tree_edit_distance():
    import random

    from extractor.evaluate import teds

    rng = random.Random(0)
    for k in range(12):
        truth = [(r, c, 1, 1, str(rng.randint(0, 99))) for r in range(6) for c in range(4)]
        pred = [x if rng.random() > 0.2 else (x[0], x[1], 1, 1, "x") for x in truth if rng.random() > 0.15]
        pred = [(r + (1 if r > 3 and k % 2 else 0), c, rs, 2 if (r, c) == (2, 1) and k % 3 == 0 else cs, t)
                for r, c, rs, cs, t in pred]
        assert abs(teds(pred, truth) - teds(pred, truth, exact=True)) < 1e-9
    assert teds(truth, truth) == 1.0
    assert teds([], truth) < 0.05


def test_truth_column_edges_follow_the_cells_column_numbers():
    """A true table fragment on the union grid of a block whose other band is on the page before:
    boundary 2 bounds none of its cells, yet the edges stay indexed as the cells' columns, so the
    KPI records read from the true grid find their columns."""
    from extractor.evaluate import _truth_col_edges

    t = {"n_cols": 4, "cells": [
        {"row": 0, "col": 0, "rowspan": 1, "colspan": 1, "bbox": [100, 0, 200, 50], "text": "a"},
        {"row": 0, "col": 1, "rowspan": 1, "colspan": 2, "bbox": [200, 0, 400, 50], "text": "b"},
        {"row": 0, "col": 3, "rowspan": 1, "colspan": 1, "bbox": [400, 0, 500, 50], "text": "c"}]}
    assert _truth_col_edges(t) == [100.0, 200.0, 300.0, 400.0, 500.0]
