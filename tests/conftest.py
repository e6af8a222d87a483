from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REALWORLD = SHARED / "realworld"
SAMPLE = REPO / "sample_data"

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def realworld() -> Path:
    if not REALWORLD.exists():
        pytest.fail(f"{REALWORLD} is missing: the shared folder must sit beside the repository")
    return REALWORLD
