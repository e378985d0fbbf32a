"""PP-OCR models (shipped inside the rapidocr wheel) run directly through onnxruntime.

We drive the ONNX sessions ourselves rather than through ``RapidOCR.__call__`` so that
recognition runs on many cell crops in a few batched calls, returns per-character
probabilities, and detection runs only where it is needed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from .. import runtime

REC_MODEL = "PP-OCRv6_rec_small.onnx"
# the same recogniser quantised to int8 (scripts/quantize_rec.py, card in models/rec_int8.md):
# about 1.8x faster on CPU. Its sure reads are kept; every other crop is read again by REC_MODEL.
REC_INT8_MODEL = "rec_int8.onnx"
# an int8 read is sure when every character is read at SURE_CHAR or more, no character left out
# (RecResult.missed) reaches SURE_MISSED and no space (RecResult.space) SURE_SPACE: int8 drops a
# space that fp32 reads in doubt. On crops of scans not used to quantise, every sure int8 read is
# the text fp32 reads (figures in models/rec_int8.md).
SURE_CHAR, SURE_MISSED, SURE_SPACE = 0.9, 0.2, 0.02
DET_MODEL = "PP-OCRv6_det_small.onnx"
CLS_MODEL = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"
REC_H = 48


@dataclass
class RecResult:
    text: str
    char_probs: list[float] = field(default_factory=list)
    # the surest character the decoder left out: the best non-blank probability in a frame decoded
    # as blank (the characters on either side and the space excepted), between the first and last
    # characters read and outside them. A punctuation mark lost from a long sentence ("规范安全、高效"
    # for "规范、安全、高效") leaves one there, while every character read is sure.
    missed: float = 0.0
    missed_edge: float = 0.0
    # the surest space in a frame decoded as blank: a space the decoder nearly read
    space: float = 0.0

    @property
    def mean_prob(self) -> float:
        return float(np.mean(self.char_probs)) if self.char_probs else 0.0

    @property
    def min_prob(self) -> float:
        return float(min(self.char_probs)) if self.char_probs else 0.0


def _to_bgr_float(img: np.ndarray) -> np.ndarray:
    """uint8 grey/BGR image -> float32 CHW in [-1, 1]."""
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    x = img.astype(np.float32) * (2.0 / 255.0) - 1.0
    return x.transpose(2, 0, 1)


def rec_batch(resized: list[np.ndarray]) -> np.ndarray:
    """Crops already scaled to REC_H -> one recogniser input, padded on the right to the widest
    (at least 2 * REC_H)."""
    bw = max(max(r.shape[1] for r in resized), 2 * REC_H)
    batch = np.zeros((len(resized), 3, REC_H, bw), dtype=np.float32)
    for b, r in enumerate(resized):
        x = _to_bgr_float(r)
        batch[b, :, :, : x.shape[2]] = x
    return batch


class Recognizer:
    """Text-line recognition with per-character probabilities, batched over many crops.

    ``precision``: "fp32" runs REC_MODEL alone; "int8" reads every crop with REC_INT8_MODEL first
    and reads again with REC_MODEL the crops it is not sure of (``sure``); "auto" is "int8" on CPU
    when the int8 model is there, else "fp32" (a GPU runs the full model fast)."""

    def __init__(self, device: str = "auto", threads: int = 0, batch_size: int = 24,
                 max_width: int = 1600, max_batch_width: int = 12000, width_ratio: float = 1.35,
                 precision: str = "auto"):
        path = str(runtime.rapidocr_model(REC_MODEL))
        self.sess = runtime.session(path, device, threads)
        self.sess_int8 = None
        if precision not in ("auto", "int8", "fp32"):
            raise ValueError(f"precision must be auto, int8 or fp32, not {precision!r}")
        q = runtime.project_model(REC_INT8_MODEL)
        on_cpu = self.sess.get_providers()[0] == "CPUExecutionProvider"
        if precision == "int8" or (precision == "auto" and on_cpu and q.exists()):
            if not q.exists():
                raise FileNotFoundError(f"the int8 recogniser {q} is missing (scripts/quantize_rec.py makes it)")
            self.sess_int8 = runtime.session(str(q), device, threads)
        meta = self.sess.get_modelmeta().custom_metadata_map
        self.chars = ["<blank>"] + meta["character"].splitlines() + [" "]
        self.input_name = self.sess.get_inputs()[0].name
        self.batch_size = batch_size
        self.max_width = max_width
        self.max_batch_width = max_batch_width  # summed crop widths per call: bounds activation memory
        self.width_ratio = width_ratio  # widest / narrowest crop in one call (the rest is padding)

    def _resize(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        nw = max(8, min(self.max_width, int(math.ceil(REC_H * w / max(h, 1)))))
        interp = cv2.INTER_AREA if h > REC_H else cv2.INTER_LINEAR
        return cv2.resize(img, (nw, REC_H), interpolation=interp)

    @staticmethod
    def sure(r: RecResult) -> bool:
        """An int8 read to keep: on crops of scans not used to quantise, the full model read every
        such crop the same (models/rec_int8.md)."""
        return (bool(r.text) and r.min_prob >= SURE_CHAR and max(r.missed, r.missed_edge) < SURE_MISSED
                and r.space < SURE_SPACE)

    def __call__(self, crops: list[np.ndarray], exact: bool = True) -> list[RecResult]:
        """One read per crop. ``exact=False`` keeps every int8 read, sure or not: for a score over
        many lines (which way up a page reads), not for text."""
        if not crops:
            return []
        resized = [self._resize(c) for c in crops]
        if self.sess_int8 is None:
            return self._run(self.sess, resized)
        out = self._run(self.sess_int8, resized)
        if not exact:
            return out
        again = [i for i, r in enumerate(out) if not self.sure(r)]
        for i, r in zip(again, self._run(self.sess, [resized[i] for i in again])):
            out[i] = r
        return out

    def _run(self, sess, resized: list[np.ndarray]) -> list[RecResult]:
        widths = np.array([r.shape[1] for r in resized])
        order = np.argsort(widths, kind="stable")
        out: list[RecResult] = [RecResult("")] * len(resized)
        i = 0
        while i < len(order):
            # batch crops of similar width: stop when padding would more than double the smallest
            j = i + 1
            w0 = widths[order[i]]
            while (j < len(order) and j - i < self.batch_size and widths[order[j]] <= max(self.width_ratio * w0, w0 + 64)
                   and (j - i + 1) * widths[order[j]] <= self.max_batch_width):
                j += 1
            idx = order[i:j]
            preds = sess.run(None, {self.input_name: rec_batch([resized[k] for k in idx])})[0]
            for b, k in enumerate(idx):
                out[k] = self._decode(preds[b])
            i = j
        return out

    def _decode(self, pred: np.ndarray) -> RecResult:
        idx = pred.argmax(axis=1)
        prob = pred.max(axis=1)
        text, probs = [], []
        starts: list[int] = []  # the first frame of each character read
        classes: list[int] = []  # and its class
        prev = 0
        run: list[float] = []
        for t, k in enumerate(idx):
            if k != prev:
                if prev != 0 and run:
                    probs.append(float(np.mean(run)))
                run = []
                if k != 0:
                    text.append(self.chars[k] if k < len(self.chars) else "")
                    starts.append(t)
                    classes.append(int(k))
            if k != 0:
                run.append(float(prob[t]))
            prev = k
        if prev != 0 and run:
            probs.append(float(np.mean(run)))
        missed, missed_edge = self._missed(pred, idx, starts, classes)
        blank = idx == 0
        space = round(float(pred[blank, -1].max()), 4) if blank.any() else 0.0
        return RecResult("".join(text), probs, missed, missed_edge, space)

    def _missed(self, pred: np.ndarray, idx: np.ndarray, starts: list[int], classes: list[int]) -> tuple[float, float]:
        """(inner, edge): the best probability of a character in a blank frame, not the character
        read on either side of it nor the space (the last class)."""
        other = pred[:, 1:-1].max(axis=1)
        frames = np.nonzero((idx == 0) & (other > 0.02))[0]
        inner = edge = 0.0
        if not len(frames):
            return inner, edge
        pos = np.searchsorted(np.asarray(starts, int), frames)  # characters read before each frame
        for t, n in zip(frames, pos):
            row = pred[t].copy()
            row[0] = row[-1] = 0.0
            if n > 0:
                row[classes[n - 1]] = 0.0
            if n < len(classes):
                row[classes[n]] = 0.0
            p = float(row.max())
            if 0 < n < len(classes):
                inner = max(inner, p)
            else:
                edge = max(edge, p)
        return round(inner, 4), round(edge, 4)


class Detector:
    """DB text detection; returns axis-aligned line boxes (the page is deskewed first)."""

    def __init__(self, device: str = "auto", threads: int = 0, thresh: float = 0.3,
                 box_thresh: float = 0.5, unclip_ratio: float = 1.6):
        path = str(runtime.rapidocr_model(DET_MODEL))
        self.sess = runtime.session(path, device, threads, arena=False)
        self.input_name = self.sess.get_inputs()[0].name
        self.thresh, self.box_thresh, self.unclip_ratio = thresh, box_thresh, unclip_ratio

    def __call__(self, img: np.ndarray, max_side: int = 1600, min_side: int = 64) -> list[tuple[float, float, float, float, float]]:
        """Boxes (x0, y0, x1, y1, score) in the coordinates of ``img``."""
        h, w = img.shape[:2]
        s = min(1.0, max_side / max(h, w))
        if min(h, w) * s < min_side:
            s = min_side / min(h, w)
        nh = max(32, int(round(h * s / 32)) * 32)
        nw = max(32, int(round(w * s / 32)) * 32)
        x = _to_bgr_float(cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR))
        prob = self.sess.run(None, {self.input_name: x[None]})[0][0, 0]
        mask = (prob > self.thresh).astype(np.uint8)
        mask = cv2.dilate(mask, np.ones((2, 2), np.uint8))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
        fx, fy = w / nw, h / nh
        boxes = []
        for k in range(1, n):
            x0, y0, bw, bh, area = stats[k]
            if min(bw, bh) < 3:
                continue
            score = float(prob[y0:y0 + bh, x0:x0 + bw][labels[y0:y0 + bh, x0:x0 + bw] == k].mean())
            if score < self.box_thresh:
                continue
            d = area * self.unclip_ratio / (2 * (bw + bh))  # DB unclip distance
            boxes.append((max(0.0, (x0 - d) * fx), max(0.0, (y0 - d) * fy),
                          min(float(w), (x0 + bw + d) * fx), min(float(h), (y0 + bh + d) * fy), score))
        boxes.sort(key=lambda b: (round(b[1] / 10), b[0]))
        return boxes


class Classifier:
    """0 / 180 degree text-line classifier."""

    def __init__(self, device: str = "auto", threads: int = 0):
        path = str(runtime.rapidocr_model(CLS_MODEL))
        self.sess = runtime.session(path, device, threads)
        self.input_name = self.sess.get_inputs()[0].name

    def __call__(self, crops: list[np.ndarray]) -> list[float]:
        """Probability that each crop is upside down."""
        if not crops:
            return []
        batch = np.zeros((len(crops), 3, 48, 192), dtype=np.float32)
        for i, c in enumerate(crops):
            h, w = c.shape[:2]
            nw = max(8, min(192, int(math.ceil(48 * w / max(h, 1)))))
            x = _to_bgr_float(cv2.resize(c, (nw, 48)))
            batch[i, :, :, :nw] = x
        p = self.sess.run(None, {self.input_name: batch})[0]
        return [float(v[1]) for v in p]
