"""Confidence: one number per extracted value from the evidence kept on it.

For now a fixed combination of OCR character probabilities and ruling-line support; the
calibrated model (fitted on rendered scans) replaces ``cell_confidence`` in a later stage,
reading the same evidence fields.
"""
from __future__ import annotations

from .model import Cell, OcrEvidence


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
    if cell.ocr is None or cell.ocr.n_chars == 0:
        # empty: sure when there is no ink at all, doubtful when ink was there but nothing was read
        empty = 0.99 if ink < 0.002 else max(0.3, 0.99 - 40 * ink)
        return round(empty * struct, 4)
    return round(text_confidence(cell.ocr) * struct, 4)
