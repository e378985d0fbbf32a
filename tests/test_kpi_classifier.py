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


def test_unfamiliar_row_without_level2_is_not_overconfident(clf):
    """A 三级 text unlike anything in training, no 二级: the count unit decides, and the probability
    stays well below the near-certainty of a readable 二级 (label smoothing + temperature)."""
    (l1, l2, p), (_, _, p_read) = clf.predict([("佳能相机镜头EF", "1套", ""), ("佳能相机镜头EF", "1套", "数量指标")])
    assert (l1, l2) == ("产出指标", "数量指标")
    assert p < 0.97 < p_read


def _score(clf, rows):
    from train_kpi_classifier import ece

    inp = [(r["l3"], r["value"], r["l2_text"]) for r in rows]
    got = clf.predict(inp)
    ok = [(a, b) == (r["l1"], r["l2"]) for (a, b, _), r in zip(got, rows)]
    acc_clf = sum(ok) / len(rows)
    acc_base = sum(keyword_baseline(*x) == (r["l1"], r["l2"]) for x, r in zip(inp, rows)) / len(rows)
    return acc_clf, acc_base, ece([p for *_, p in got], ok)


@pytest.fixture(scope="module")
def held_out(seeds_dir):
    """The held-out sets exactly as scripts/train_kpi_classifier.py builds them (training defaults, ~2 s)."""
    import train_kpi_classifier as T

    return T.build_data()


def test_beats_keyword_baseline_on_held_out_transcript(clf, held_out):
    """Seed 002 (never trained on, whole transcript held out), with OCR damage: 二级 carried down the
    merged cells as the pipeline does (one damaged reading per run), and 二级 empty."""
    assert len(held_out["held_real"]) >= 300
    for name, min_gain, max_ece in (("held_carried", 0.01, 0.08), ("held_empty", 0.02, 0.25)):
        acc_clf, acc_base, cal = _score(clf, held_out[name])
        assert acc_clf > acc_base + min_gain, (name, acc_clf, acc_base)
        assert cal < max_ece, (name, cal)


def test_beats_keyword_baseline_on_held_out_generated_rows(clf, held_out):
    """Rows of the generated KPI tables the training held out (whole tables, only inputs the training
    never saw), with OCR damage; with the carried-down 二级 and with 二级 empty."""
    rows = held_out["test_gen"]
    assert len(rows) >= 1000
    for name in ("test_gen", "test_gen_empty"):
        acc_clf, acc_base, cal = _score(clf, held_out[name])
        assert acc_clf > acc_base + 0.1, (name, acc_clf, acc_base)
        assert cal < 0.1, (name, cal)
