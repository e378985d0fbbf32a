"""Quantise the text recogniser (PP-OCRv6 rec, inside the rapidocr wheel) to int8 and write
models/rec_int8.onnx (model card: models/rec_int8.md).

    pip install -e '.[quantize]'                 # the onnx package, needed by this script only
    python scripts/quantize_rec.py               # scans of the calibration set (scripts/calibrate.py renders them)
    python scripts/quantize_rec.py --check-only  # only the agreement check of the model in models/

Static QDQ quantisation (onnxruntime.quantization): int8 weights per output channel, uint8
activations whose ranges come from the recogniser's real inputs: the cell and line crops that the
pipeline cuts from calibration scans (light, medium and heavy; scans the benchmark never uses).

Then the check that the pipeline relies on (extractor/ocr/engine.py, Recognizer.sure): on crops of
other calibration scans, how many int8 reads are sure, and how many of those differ from the text
the full-precision model reads (it must be none, or nearly none).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from extractor import runtime  # noqa: E402
from extractor.ocr import engine  # noqa: E402

# calibration scans (severity/document, under --scans) whose crops set the activation ranges,
# and others for the agreement check
FIT_DOCS = ["light/synthetic_05", "medium/synthetic_06", "heavy/synthetic_07", "medium/seed_002", "heavy/seed_000_v1",
            "light/seed_001", "medium/synthetic_08", "heavy/synthetic_09", "medium/synthetic_10", "heavy/synthetic_11"]
CHECK_DOCS = ["light/synthetic_12", "medium/synthetic_13", "heavy/synthetic_14", "medium/seed_001", "heavy/seed_002"]
BATCH, N_BATCHES, OPSET = 16, 200, 17


def pipeline_crops(docs: list[Path]) -> list[np.ndarray]:
    """The recogniser's inputs (crops scaled to its height) when the pipeline reads ``docs``."""
    from extractor.config import Settings
    from extractor.pipeline import Pipeline

    pipe = Pipeline(Settings(workers=1, rec_precision="fp32", kpi_classifier=False))
    rec = pipe.recognizer
    seen: list[np.ndarray] = []
    run = rec._run

    def keep(sess, resized):
        seen.extend(resized)
        return run(sess, resized)

    rec._run = keep
    for d in docs:
        pipe.run(d / "doc.pdf")
        print(f"  {d}: {len(seen)} crops so far", flush=True)
    return seen


def batches(crops: list[np.ndarray], n: int, seed: int = 0) -> list[np.ndarray]:
    """Width-sorted batches padded as the Recognizer pads them, ``n`` of them drawn at random."""
    crops = sorted(crops, key=lambda c: c.shape[1])
    out = [engine.rec_batch(crops[i:i + BATCH]) for i in range(0, len(crops), BATCH)]
    rng = np.random.default_rng(seed)
    rng.shuffle(out)
    return out[:n]


def quantize(crops: list[np.ndarray], out: Path) -> None:
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src = runtime.rapidocr_model(engine.REC_MODEL)
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        # per-channel DequantizeLinear needs opset 13 or later; the shipped model is opset 11
        onnx.save(version_converter.convert_version(onnx.load(str(pre)), OPSET), str(pre))
        name = onnx.load(str(pre)).graph.input[0].name

        class Reader(CalibrationDataReader):
            def __init__(self):
                self.it = iter([{name: x} for x in batches(crops, N_BATCHES)])

            def get_next(self):
                return next(self.it, None)

        quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, extra_options={"CalibMovingAverage": True})


def check(crops: list[np.ndarray]) -> dict:
    """The int8 reads against the full model's on the same crops, as Recognizer.sure keeps them."""
    import time

    full = engine.Recognizer("cpu", 1, batch_size=48, precision="fp32")
    fast = engine.Recognizer("cpu", 1, batch_size=48, precision="int8")
    t = time.perf_counter()
    a = full._run(full.sess, crops)
    t_full = time.perf_counter() - t
    t = time.perf_counter()
    b = fast._run(fast.sess_int8, crops)
    t_int8 = time.perf_counter() - t
    sure = [fast.sure(r) for r in b]
    w = np.array([c.shape[1] for c in crops], float)
    differ = [(x.text, y.text) for x, y, s in zip(a, b, sure) if s and x.text != y.text]
    again = ~np.array(sure)
    return {"crops": len(crops), "sure": float(np.mean(sure)), "read_again_width": float(w[again].sum() / w.sum()),
            "sure_differ": len(differ), "examples": differ[:10], "any_differ": sum(x.text != y.text for x, y in zip(a, b)),
            "s_fp32": round(t_full, 1), "s_int8": round(t_int8, 1),
            "s_hybrid": round(t_int8 + t_full * float(w[again].sum() / w.sum()), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scans", type=Path, default=ROOT / "data" / "calibration")
    ap.add_argument("--out", type=Path, default=runtime.project_model(engine.REC_INT8_MODEL))
    ap.add_argument("--check-only", action="store_true")
    a = ap.parse_args()
    missing = [d for d in FIT_DOCS + CHECK_DOCS if not (a.scans / d / "doc.pdf").exists()]
    if missing:
        sys.exit(f"missing calibration scans under {a.scans}: {missing[:3]}... (python scripts/calibrate.py renders them)")
    if not a.check_only:
        print("crops for the activation ranges:")
        quantize(pipeline_crops([a.scans / d for d in FIT_DOCS]), a.out)
        print(f"wrote {a.out} ({a.out.stat().st_size / 1e6:.1f} MB)")
    print("crops for the check:")
    r = check(pipeline_crops([a.scans / d for d in CHECK_DOCS]))
    print(f"{r['crops']} crops: {r['sure']:.1%} of the int8 reads sure, {r['read_again_width']:.1%} of the width read "
          f"again; sure reads that differ from fp32: {r['sure_differ']} {r['examples']}; all reads that differ: "
          f"{r['any_differ']}")
    print(f"one thread: fp32 {r['s_fp32']} s, int8 {r['s_int8']} s, int8 + fp32 on the unsure {r['s_hybrid']} s")


if __name__ == "__main__":
    main()
