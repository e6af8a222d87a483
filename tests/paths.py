"""Where the test data lives: the repository's sample wave and the shared real-world files."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REALWORLD = REPO.parent / "shared" / "realworld"
SAMPLE = REPO / "sample_data"
