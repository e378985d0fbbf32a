import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "scripts"))  # the scan generator (scripts/synth)
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def pipeline():
    """One pipeline (models loaded once) for the whole test session."""
    from extractor.pipeline import Pipeline

    return Pipeline()


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    d = SHARED / "seeds"
    if not d.exists():
        pytest.skip("../shared/seeds is not beside the repository")
    return d
