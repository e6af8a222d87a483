"""Where the test data lives: the repository's sample wave and the shared real-world files.

shared/ sits beside the repository (/work/shared for /work/main; CI lays a copy beside its
fresh clone); SURVEY_BRIDGE_SHARED points elsewhere. A clone without it must still pass, so
the one rule for a test that reads a file of shared/ is `need_shared(path)`: the path when it
is there; otherwise the test is skipped with a one-line reason, or fails when the CI
environment variable is set (CI must have the files: a skip there would hide lost coverage).

Tests call it where they open such a file (fixtures, `requires_shared` on a test function).
For the test modules that name these paths directly, tests/conftest.py applies it before a
test's fixtures are set up to every test whose code, or the code of a fixture in its module,
names one of SHARED_NAMES (`uses_shared`).
"""

from __future__ import annotations

import functools
import inspect
import os
import types
from collections.abc import Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SURVEY_BRIDGE_SHARED") or REPO.parent / "shared")
REALWORLD = SHARED / "realworld"
SAMPLE = REPO / "sample_data"
# Module-level names that stand for files of shared/ in the tests (tests/qualtrics_api's
# qualtrics_support.py and this module).
SHARED_NAMES = frozenset({"REALWORLD", "SAMPLE_CSV", "CASSETTE"})


def need_shared(path: Path = REALWORLD, *, environ: Mapping[str, str] = os.environ) -> Path:
    """`path` (a file or folder of shared/) if it exists; else skip the test, or fail it under CI."""
    path = Path(path)
    if path.exists():
        return path
    reason = f"{path} is missing: shared/ is not beside the repository (or set SURVEY_BRIDGE_SHARED)"
    if environ.get("CI"):
        pytest.fail(f"{reason}; CI must have it", pytrace=False)
    pytest.skip(reason)


def requires_shared(path: Path):
    """Decorate a test that reads `path`: `need_shared(path)` runs first."""

    def decorate(test):
        @functools.wraps(test)
        def run(*args, **kwargs):
            need_shared(path)
            return test(*args, **kwargs)

        return run

    return decorate


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def uses_shared(item: pytest.Item) -> bool:
    """Whether a test's function, or a fixture of its module it uses, names a shared/ path."""
    function = getattr(item, "function", None)
    if function is None:
        return False
    module = getattr(item, "module", None)
    funcs = [function] + [getattr(module, name, None) for name in getattr(item, "fixturenames", ())]
    for func in funcs:
        code = getattr(inspect.unwrap(func), "__code__", None) if callable(func) else None
        if code is not None and _names(code) & SHARED_NAMES:
            return True
    return False
