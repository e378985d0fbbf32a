"""Scan degradations (numpy + OpenCV only).

Order: ruling-line defects (upright frame) -> skew about the centre (canvas kept, white fill)
-> uneven illumination -> blur -> noise -> specks -> JPEG artefacts -> k*90 clockwise rotation.

``faded`` (issue 18: old photocopies whose 1-px rules fade away) scans like ``heavy`` but replaces
the ruling-line defects by a per-page rule mode drawn from the page's seed: ``intact`` (~25%),
``partial`` (~40%: per segment, stretches lightened to a grey near the paper (185–235) or broken
into long gaps, some whole segments gone) or ``gone`` (~35%: every rule erased or faded to within
~15 grey levels of the paper); and on ~40% of pages faint text (all ink outside the rules drawn at
grey 90–160 instead of black, and more blur).  The page truth records ``rules`` and
``faint_text``; the cells and texts are unchanged.
"""
from __future__ import annotations

import random
from typing import Optional, Sequence

import cv2
import numpy as np

SEVERITIES = ("clean", "light", "medium", "heavy", "faded")

_P = {
    #            skew   noise    blur(sigma)   illum   jpegQ      gaps  faint  specks  paper
    "clean":  dict(skew=0.0, noise=(0, 0), blur=(0, 0), illum=0.0, jpeg=None, gaps=0, faint=0.0, specks=0, paper=(255, 255)),
    "light":  dict(skew=0.7, noise=(2, 5), blur=(0, 0.6), illum=0.06, jpeg=(70, 92), gaps=2, faint=0.05, specks=150, paper=(245, 255)),
    "medium": dict(skew=2.0, noise=(4, 9), blur=(0.4, 0.9), illum=0.14, jpeg=(45, 80), gaps=4, faint=0.15, specks=600, paper=(232, 250)),
    "heavy":  dict(skew=4.0, noise=(8, 15), blur=(0.7, 1.3), illum=0.25, jpeg=(25, 55), gaps=14, faint=0.3, specks=2000, paper=(215, 240)),
    # heavy-like scanning; its rule defects are fade_rules' (gaps / faint unused)
    "faded":  dict(skew=4.0, noise=(8, 15), blur=(0.7, 1.3), illum=0.25, jpeg=(25, 55), gaps=0, faint=0.0, specks=2000, paper=(215, 240)),
}
RULE_MODES = (("intact", 0.25), ("partial", 0.40), ("gone", 0.35))
FAINT_TEXT = 0.4            # share of faded pages with faint text


def line_defects(img: np.ndarray, segments: Sequence, rng: random.Random, severity: str) -> np.ndarray:
    p = _P[severity]
    if not segments or (p["gaps"] == 0 and p["faint"] == 0):
        return img
    H, W = img.shape
    for (x0, y0, x1, y1) in segments:
        x0, y0, x1, y1 = int(x0), int(y0), int(x1), int(y1)
        horiz = (x1 - x0) >= (y1 - y0)
        length = (x1 - x0) if horiz else (y1 - y0)
        if length < 10:
            continue
        if rng.random() < p["faint"]:
            g = rng.randint(110, 190)
            sl = img[max(0, y0):min(H, y1 + 1), max(0, x0):min(W, x1 + 1)]
            np.maximum(sl, g, out=sl)
        n_gaps = int(rng.random() * p["gaps"] * length / 800.0 + (rng.random() < p["gaps"] / 20.0))
        for _ in range(n_gaps):
            gl = rng.randint(2, 4 + p["gaps"])
            pos = rng.randint(0, max(0, length - gl))
            if horiz:
                img[max(0, y0 - 1):min(H, y1 + 2), max(0, x0 + pos):min(W, x0 + pos + gl)] = 255
            else:
                img[max(0, y0 + pos):min(H, y0 + pos + gl), max(0, x0 - 1):min(W, x1 + 2)] = 255
    return img


def _rects(segments, H: int, W: int):
    for (x0, y0, x1, y1) in segments:
        x0, y0 = max(0, int(x0)), max(0, int(y0))
        x1, y1 = min(W - 1, int(x1)), min(H - 1, int(y1))
        if x1 >= x0 and y1 >= y0:
            yield x0, y0, x1, y1


def _vanish(img: np.ndarray, rng: random.Random, x0: int, y0: int, x1: int, y1: int) -> None:
    """A rule (or a stretch of one) gone: erased, or left at a grey within ~15 levels of the paper."""
    sl = img[y0:y1 + 1, x0:x1 + 1]
    if rng.random() < 0.5:
        sl[...] = 255
    else:
        np.maximum(sl, rng.randint(243, 252), out=sl)


def fade_text(img: np.ndarray, segments: Sequence, rng: random.Random) -> int:
    """Lighten all ink outside the rule rectangles so that black is drawn at grey ``g`` (returned)."""
    g = rng.randint(90, 160)
    H, W = img.shape
    keep = np.zeros((H, W), bool)
    for x0, y0, x1, y1 in _rects(segments, H, W):
        keep[y0:y1 + 1, x0:x1 + 1] = True
    light = (g + img.astype(np.float32) * ((255 - g) / 255.0)).round().astype(np.uint8)
    np.copyto(img, light, where=~keep)
    return g


def fade_rules(img: np.ndarray, segments: Sequence, rng: random.Random, mode: str) -> np.ndarray:
    """Rule defects of an old photocopy: ``intact`` leaves the rules, ``partial`` lightens stretches
    of each rule to a grey near the paper (185–235) or breaks them into long gaps and drops some
    whole segments, ``gone`` erases every rule or fades it to within ~15 grey levels of the paper."""
    if mode == "intact" or not segments:
        return img
    H, W = img.shape
    for x0, y0, x1, y1 in _rects(segments, H, W):
        if mode == "gone" or rng.random() < 0.2:
            _vanish(img, rng, x0, y0, x1, y1)
            continue
        horiz = (x1 - x0) >= (y1 - y0)
        length = (x1 - x0 if horiz else y1 - y0) + 1
        step = max(12, length // 6)
        pos = 0
        while pos < length:
            n = rng.randint(max(6, step // 3), step * 2)
            a, b = pos, min(length, pos + n) - 1
            r = (x0 + a, y0, x0 + b, y1) if horiz else (x0, y0 + a, x1, y0 + b)
            u = rng.random()
            if u < 0.4:
                np.maximum(img[r[1]:r[3] + 1, r[0]:r[2] + 1], rng.randint(185, 235),
                           out=img[r[1]:r[3] + 1, r[0]:r[2] + 1])
            elif u < 0.65:
                _vanish(img, rng, *r)
            pos += n
    return img


def rotate_skew(img: np.ndarray, angle: float) -> np.ndarray:
    if abs(angle) < 1e-6:
        return img
    H, W = img.shape[:2]
    M = cv2.getRotationMatrix2D((W / 2.0, H / 2.0), angle, 1.0)
    return cv2.warpAffine(img, M, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255)


def rotate90(img: np.ndarray, rotation: int) -> np.ndarray:
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(img, -k)) if k else img   # clockwise


def degrade(img: np.ndarray, *, severity: str = "medium", seed: int = 0, rotation: int = 0,
            skew: Optional[float] = None, segments: Sequence = ()) -> tuple[np.ndarray, dict]:
    """Return (scanned image, {"rotation": .., "skew": ..}).  ``img`` is upright greyscale uint8."""
    if severity not in _P:
        raise ValueError(f"severity must be one of {SEVERITIES}")
    if rotation % 90:
        raise ValueError("rotation must be a multiple of 90")
    p = _P[severity]
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    out = img.copy()
    extra = {}
    if severity == "faded":   # its own generator: the other severities draw exactly as before
        frng = random.Random(f"faded:{seed}")
        u, acc, mode = frng.random(), 0.0, RULE_MODES[-1][0]
        for name, share in RULE_MODES:
            acc += share
            if u < acc:
                mode = name
                break
        faint = frng.random() < FAINT_TEXT
        if faint:
            fade_text(out, segments, frng)
        out = fade_rules(out, segments, frng, mode)
        extra = {"rules": mode, "faint_text": faint}
    else:
        out = line_defects(out, segments, rng, severity)
    if skew is None:
        skew = round(rng.uniform(-p["skew"], p["skew"]), 2) if p["skew"] else 0.0
    H, W = out.shape
    # paper tone: map white to paper level before rotation so the fill stays white (scanner bed)
    if severity != "clean":
        paper = rng.randint(*p["paper"])
        out = (out.astype(np.float32) * (paper / 255.0)).astype(np.uint8)
    out = rotate_skew(out, skew)
    f = out.astype(np.float32)
    if p["illum"]:
        sh, sw = 8, 6
        field = nrng.normal(0, 1, (sh, sw)).astype(np.float32)
        field = cv2.resize(field, (W, H), interpolation=cv2.INTER_CUBIC)
        field = (field - field.min()) / max(1e-6, float(np.ptp(field)))
        gx = np.linspace(-1, 1, W, dtype=np.float32)[None, :]
        gy = np.linspace(-1, 1, H, dtype=np.float32)[:, None]
        a = rng.uniform(0, 6.283)
        grad = (np.cos(a) * gx + np.sin(a) * gy) * 0.5 + 0.5
        vign = 1 - 0.5 * (gx ** 2 + gy ** 2) / 2
        shade = 1 - p["illum"] * (0.5 * field + 0.3 * grad + 0.2 * (1 - vign))
        f = 255 - (255 - f) * rng.uniform(0.8, 1.0)  # slightly faded ink
        f *= shade
    if p["blur"][1]:
        s = rng.uniform(*p["blur"])
        if extra.get("faint_text"):
            s += 0.5
        if s > 0.15:
            f = cv2.GaussianBlur(f, (0, 0), s)
    if p["noise"][1]:
        sigma = rng.uniform(*p["noise"])
        noise = nrng.standard_normal((H, W), dtype=np.float32)
        noise *= sigma
        f += noise
    out = np.clip(f, 0, 255).astype(np.uint8)
    if p["specks"]:
        n = int(p["specks"] * rng.uniform(0.5, 1.5))
        ys = nrng.integers(0, H, n)
        xs = nrng.integers(0, W, n)
        dark = nrng.random(n) < 0.7
        out[ys[dark], xs[dark]] = nrng.integers(0, 90, int(dark.sum()))
        out[ys[~dark], xs[~dark]] = 255
        # a few bigger dust blobs
        for _ in range(int(n / 150)):
            cv2.circle(out, (rng.randrange(W), rng.randrange(H)), rng.randint(1, 3), rng.randint(0, 80), -1)
    if p["jpeg"]:
        q = rng.randint(*p["jpeg"])
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, q])
        out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    out = rotate90(out, rotation)
    return out, {"rotation": int(rotation) % 360, "skew": float(skew), **extra}
