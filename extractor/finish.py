"""The document finisher: the stages that need every page of a document, after the page reader
(``reader.PageReader``) has read them. It loads no OCR model, so the batch runner, the service and
the calibration script finish documents without one.

Stages, in order (``DocumentFinisher.stages``); one that fails is recorded on the document and the
others still run:

1. ``link_continuations``: tables cut by a page break are linked (table/continuation.py);
2. ``annotate_tables``: each table's kind (budget, KPI) and unit (kpi/tables.py);
3. ``kpi_records.extract``: the KPI records, from the cells as read, so that
4. ``vote_names``: the indicator names of repeated records can be voted across the document, and
5. ``validate``: the arithmetic checks mark each cell (validate.py);
6. ``score_cells``: every cell's confidence from the evidence on it, checks included (confidence.py;
   a cell read from the PDF's text layer by its own rule, ``confidence.layer_confidence``);
7. ``kpi_records.extract`` again: the records take the scored cells' confidence;
8. ``vote_levels``: the KPI level classifier reconciles the levels (kpi/levels.py);
9. ``calibrate``: confidence mapped so that it means what it says (models/calibration.json).
"""
from __future__ import annotations

import json
import logging
from typing import Optional

from . import confidence, runtime
from .config import Settings
from .kpi import levels as kpi_levels
from .kpi import records as kpi_records
from .kpi.tables import annotate_tables
from .kpi.vote import vote_names
from .model import Document, Failure
from .table.continuation import link_continuations
from .validate import validate

log = logging.getLogger(__name__)


class DocumentFinisher:
    """Finishes documents; the calibration maps are loaded at construction, the KPI level
    classifier on the first document with KPI rows (or at ``warm_up``)."""

    def __init__(self, settings: Optional[Settings] = None):
        self.s = settings or Settings()
        self.evidence: Optional[confidence.EvidenceModel] = None
        self.calibration = self.kpi_calibration = None
        self.text_calibration: Optional[confidence.Calibration] = None
        self.faint_calibration: Optional[confidence.Calibration] = None
        self.layer_calibration: Optional[confidence.Calibration] = None
        cal = runtime.project_model("calibration.json")
        if cal.exists() and self.s.calibrate:
            try:
                data = json.loads(cal.read_text(encoding="utf-8"))
                self.evidence, self.calibration, self.kpi_calibration = confidence.load_calibration(cal, data)
                self.text_calibration = confidence.load_map(data, "text_cells")
                self.faint_calibration = confidence.load_map(data, "faint_cells")
                self.layer_calibration = confidence.load_map(data, "layer_cells")
            except (ValueError, KeyError, OSError) as e:  # a stale or broken file: raw scores, said loudly
                log.warning("confidence calibration not used (%s): %s", cal, e)
        self._level_model = None  # the KPI level classifier
        self._level_error: Optional[str] = None  # why it could not be loaded

    def stages(self) -> tuple:
        """(stage name for failures, function) in the order they run (see the module docstring)."""
        return (("table", link_continuations), ("kpi", annotate_tables), ("kpi", kpi_records.extract),
                ("kpi", vote_names), ("validate", validate), ("confidence", self.score_cells),
                ("kpi", kpi_records.extract), ("kpi", self.vote_levels), ("confidence", self.calibrate))

    def finish(self, doc: Document) -> Document:
        """Every document-level stage on ``doc`` (changed in place and returned)."""
        for stage, fn in self.stages():
            try:
                fn(doc)
            except Exception as e:
                log.exception("%s failed on %s", fn.__name__, doc.source)
                doc.failures.append(Failure(stage=stage, category="error", message=f"{fn.__name__}: {e}"))
        return doc

    def warm_up(self) -> None:
        """Load the KPI level classifier now rather than on the first document that needs it."""
        if self.s.kpi_classifier and self._level_model is None and self._level_error is None:
            self._load_level_model()

    # ------------------------------------------------------------------ stages
    def score_cells(self, doc: Document) -> None:
        """Every cell's confidence from all the evidence on it (the KPI records are then rebuilt
        from these cells, so their confidence follows)."""
        if self.evidence is not None:  # fitted on ruled grids read by OCR: a grid built from text alone,
            # and a table read from the PDF's text layer, are outside its reach
            self.evidence.apply([t for t in doc.tables() if t.source != "text" and not _from_layer(t)])
        for t in doc.tables():  # text-layer cells: their own evidence (confidence.layer_confidence)
            if _from_layer(t):
                for c in t.cells:
                    c.confidence = confidence.layer_confidence(c)
        _cap_unsure(doc)

    def calibrate(self, doc: Document) -> None:
        for p in doc.pages:
            faint = bool(p.enhanced and p.enhanced.get("applied"))
            for t in p.tables:
                if _from_layer(t):  # not OCR'd: the OCR maps do not apply, the text layer's own one does
                    lc = self.layer_calibration
                    if lc is not None:
                        for c in t.cells:  # under the map's lowest knot (no cell seen there) the raw score stands
                            if c.confidence >= lc.x[0]:
                                c.confidence = round(lc(c.confidence), 4)
                    continue
                # a table without rulings has its own map (its raw confidence is ~0.68 x the read's);
                # without one its cells keep that raw score, below the review threshold. A ruled
                # table on a faint or unevenly lit page: the cell map, then the faint pages' map
                maps = [self.text_calibration] if t.source == "text" else \
                    [self.calibration] + ([self.faint_calibration] if faint else [])
                for cal in maps:
                    if cal is not None:
                        for c in t.cells:
                            c.confidence = round(cal(c.confidence), 4)
        _cap_unsure(doc)
        if self.kpi_calibration is not None:
            for k in doc.kpis:
                k.confidence = round(self.kpi_calibration(k.confidence), 4)

    def vote_levels(self, doc: Document) -> None:
        if not doc.kpis or not self.s.kpi_classifier:
            return
        self.warm_up()
        if self._level_error is not None:
            doc.failures.append(Failure(stage="kpi", category="classifier_unavailable",
                                        message=f"KPI levels not voted: {self._level_error}"))
            return
        kpi_levels.reconcile(doc, self._level_model)

    def _load_level_model(self) -> None:
        """Load the KPI level classifier; when it cannot be, the reason is kept (and said on every
        document with KPI rows) and it is not tried again."""
        from .kpi.classifier import KpiClassifier

        try:
            self._level_model = KpiClassifier.load(device=None if self.s.device == "auto" else self.s.device)
        except (ImportError, FileNotFoundError, OSError) as e:
            self._level_error = str(e)


def _from_layer(t) -> bool:
    return t.text_source == "pdf"


def _cap_unsure(doc: Document) -> None:
    """The fitted evidence has no feature for a read's doubt that its text accounts for the cell's
    ink: a cap, before the KPI records take the cells' confidence and after calibration."""
    for t in doc.tables():
        for c in t.cells:
            c.confidence = confidence.unsure_cap(c.confidence, c.ocr)
