"""The rule for tests that read shared/ (tests/paths.py): without the folder they skip with a
one-line reason, and fail when CI is set; the conftest hook applies it to tests that name a
shared path. Checked on the helper itself and on real test runs with shared/ pointed away."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from paths import REALWORLD, REPO, need_shared, requires_shared, uses_shared

MISSING = Path("/nonexistent/shared/realworld/file.csv")


def test_present_path_is_returned(tmp_path):
    assert need_shared(tmp_path, environ={"CI": "true"}) == tmp_path


def test_missing_path_skips_with_a_one_line_reason():
    with pytest.raises(pytest.skip.Exception) as info:
        need_shared(MISSING, environ={})
    reason = str(info.value)
    assert str(MISSING) in reason and "\n" not in reason and "SURVEY_BRIDGE_SHARED" in reason


def test_missing_path_fails_under_ci():
    with pytest.raises(pytest.fail.Exception) as info:
        need_shared(MISSING, environ={"CI": "true"})
    assert str(MISSING) in str(info.value) and "CI must have it" in str(info.value)


def test_requires_shared_keeps_the_fixtures_and_checks_first(tmp_path):
    calls = []

    @requires_shared(MISSING)
    def test_x(tmp_path, capsys):
        calls.append(1)

    import inspect

    assert list(inspect.signature(test_x).parameters) == ["tmp_path", "capsys"]
    with pytest.raises((pytest.skip.Exception, pytest.fail.Exception)):
        test_x(tmp_path, None)
    assert not calls


def _function(source: str):
    """A function compiled from text, so that this module's own code names no shared path
    (the conftest hook would skip these tests without shared/)."""
    scope: dict = {}
    exec(source, {"REALWORLD": REALWORLD}, scope)
    return next(iter(scope.values()))


class _Item:
    def __init__(self, function, fixturenames=(), module=None):
        self.function, self.fixturenames, self.module = function, fixturenames, module


def test_uses_shared_finds_the_names_in_the_test_and_its_fixtures():
    module = type(sys)("fake_test_module")
    module.emulator = _function("def emulator():\n    def start():\n        return SAMPLE_CSV\n    return start\n")
    module.other = _function("def other():\n    return 1\n")
    assert uses_shared(_Item(_function("def test_a():\n    return CASSETTE.read_text()\n")))
    assert uses_shared(_Item(_function("def test_b(emulator):\n    pass\n"), ["emulator"], module))
    assert not uses_shared(_Item(_function("def test_c(other, tmp_path):\n    return MISSING\n"),
                                 ["other", "tmp_path"], module))


def _run(paths: list[str], ci: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "SURVEY_BRIDGE_SHARED")}
    env["SURVEY_BRIDGE_SHARED"] = "/nonexistent/shared"
    if ci:
        env["CI"] = "true"
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *paths],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    return out.stdout + out.stderr


def test_suite_parts_without_shared_skip_and_fail_under_ci():
    """Modules that read shared/ in three ways: the readers matrix (real-world cases), the
    cassette fixture, and a test module naming the path (left as it is, the hook skips it)."""
    paths = ["tests/readers/test_readers_qualtrics.py", "tests/qualtrics_api/test_replay.py",
             "tests/qualtrics_api/test_emulator.py"]
    local = _run(paths, ci=False)
    summary = local.strip().splitlines()[-1]
    assert "skipped" in summary and "failed" not in summary and "error" not in summary, local[-3000:]
    assert re.search(r"SKIPPED \[\d+\] .*/nonexistent/shared/realworld.* is missing", local), local[-3000:]
    ci = _run(paths, ci=True).strip().splitlines()[-1]
    assert "skipped" not in ci and ("failed" in ci or "error" in ci), ci
