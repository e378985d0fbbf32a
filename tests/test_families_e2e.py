"""End to end on layout families the calibration never saw drawn this way (issue 16): a project
page drawn as two tables sharing a rule (twin), on the union of two column sets (union), and with
实施期 and 年度 stacked (stacked), read from medium-quality scans by the whole pipeline."""
import pytest

import synth
from extractor.evaluate import score_document


@pytest.mark.slow
@pytest.mark.parametrize("family", ["twin", "union", "stacked"])
def test_project_pages_of_other_layouts(pipeline, tmp_path, family):
    truth = synth.render_document(tmp_path / family, seed=6100, severity="medium", max_pages=6,
                                  kind="compact", family=family)
    doc = pipeline.run(tmp_path / family / "doc.pdf", dpi=truth["dpi"])
    s = score_document(doc, truth)
    m = s.summary()
    assert m["text"] >= 0.97, s.errors[:10]
    assert m["numeric"] >= 0.98, s.errors[:10]
    assert doc.kpis and m["kpi_f1"] >= 0.9
    # every record names its project, wherever the project block was drawn
    assert all(k.project for k in doc.kpis)
    assert {k.project for k in doc.kpis} <= {p.name for p in doc.projects}
