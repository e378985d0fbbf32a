"""The KPI level classifier (extractor/kpi/classifier.py, weights in models/kpi_classifier/)."""
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from extractor.kpi.classifier import canonical_level2, keyword_baseline, pairs  # noqa: E402

pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def clf():
    from extractor.kpi.classifier import KpiClassifier
    from extractor.runtime import project_model

    if not (project_model("kpi_classifier") / "config.json").exists():
        pytest.skip("models/kpi_classifier is not trained (python scripts/train_kpi_classifier.py)")
    return KpiClassifier.load(device="cpu")


def test_taxonomy_and_canonical_names():
    ps = pairs()
    assert len(ps) == 12
    assert ("产出指标", "成本指标") in ps and ("成本指标", "经济成本指标") in ps
    assert canonical_level2("经济效益") == ("效益指标", "经济效益指标")
    assert canonical_level2("服务对象满意度指") == ("满意度指标", "服务对象满意度指标")
    assert canonical_level2("成本指标") == ("产出指标", "成本指标")
    assert canonical_level2("新闻稿件") is None


def test_keyword_baseline():
    assert keyword_baseline("读者满意度", "≥98%", "") == ("满意度指标", "服务对象满意度指标")
    assert keyword_baseline("xx", "yy", "社会效") == ("效益指标", "社会效益指标")


def test_obvious_rows(clf):
    rows = [("读者满意度", "≥98%", ""), ("出版费", "30万元", "成本"), ("新闻稿件数量", "≥500篇", "")]
    want = [("满意度指标", "服务对象满意度指标"), ("产出指标", "成本指标"), ("产出指标", "数量指标")]
    got = clf.predict(rows)
    assert [(a, b) for a, b, _ in got] == want
    assert all(0.0 < p <= 1.0 for _, _, p in got)


def test_beats_keyword_baseline_on_held_out_generated_rows(clf, seeds_dir):
    """Rows of the generated KPI tables the training held out (whole tables), with OCR damage,
    rebuilt exactly as scripts/train_kpi_classifier.py splits them. On the real held-out
    transcript (seed 002) the classifier does NOT beat the baseline yet: see the model card."""
    import train_kpi_classifier as T

    data = T.build_data(seed=13, n_synth=500, n_vary=300, real_repeats=25)  # the training defaults
    rows = data["test_gen"]
    assert len(rows) >= 500
    inp = [(r["l3"], r["value"], r["l2_text"]) for r in rows]
    got = clf.predict(inp)
    acc_clf = sum((a, b) == (r["l1"], r["l2"]) for (a, b, _), r in zip(got, rows)) / len(rows)
    acc_base = sum(keyword_baseline(*x) == (r["l1"], r["l2"]) for x, r in zip(inp, rows)) / len(rows)
    assert acc_clf > acc_base + 0.05, (acc_clf, acc_base)
