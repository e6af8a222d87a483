"""The reader test matrix: cases come from tests/data/readers/cases.toml, one data file each.

`pytest_generate_tests` turns every `[mturk.<id>]` table into one `mturk_case` parameter and
every `[qualtrics.<id>]` table into one `qualtrics_case` parameter; a case with `xfail` gets
a strict xfail mark (a known reader bug, described in its `xfail` text).
"""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from paths import REALWORLD, need_shared

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "readers"
CASES_FILE = DATA / "cases.toml"
# The real files live beside the repo (CI clones it with shared/ next to it): /work/shared/realworld
# for the checkout at /work/main (tests/paths.py). They are used as they are: never copied, never cleaned.
REALWORLD_PREFIX = "@realworld/"

with CASES_FILE.open("rb") as _f:
    CASES: dict[str, dict[str, dict]] = tomllib.load(_f)


def case_path(case: dict) -> Path:
    """The file a case reads; a real-world case skips without shared/ (fails under CI)."""
    rel = case["path"]
    if rel.startswith(REALWORLD_PREFIX):
        return need_shared(REALWORLD / rel[len(REALWORLD_PREFIX):])
    return DATA / rel


def _params(section: str) -> list:
    params = []
    for case_id, case in CASES[section].items():
        case = dict(case, id=case_id)
        marks = [pytest.mark.xfail(strict=True, reason=case["xfail"])] if "xfail" in case else []
        params.append(pytest.param(case, id=case_id, marks=marks))
    return params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for section in ("mturk", "qualtrics"):
        fixture = f"{section}_case"
        if fixture in metafunc.fixturenames:
            metafunc.parametrize(fixture, _params(section))


@pytest.fixture
def read_case():
    """Call a reader the way a case says: a path, or the file's bytes (with `name` if given).

    Returns (result or None, SourceError or None, the label a message must carry).
    """
    from bridge.errors import SourceError

    def run(reader, case: dict):
        path = case_path(case)
        kwargs = {"name": case["name"]} if "name" in case else {}
        kwargs.update(case.get("kwargs", {}))  # the reader's options (a config key's value)
        if case.get("input", "path") == "bytes":
            source = path.read_bytes()
            label = case.get("name", f"<{_WHAT[reader.__name__]}>")
        else:
            source = path
            label = case.get("name", str(path))
        _check_raw_bytes(case, path)
        try:
            return reader(source, **kwargs), None, label
        except SourceError as exc:
            return None, exc, label

    return run


_WHAT = {"read_batch_results": "MTurk batch-results CSV", "read_qualtrics_csv": "Qualtrics CSV export",
         "read_export": "Prolific export"}


def _check_raw_bytes(case: dict, path: Path) -> None:
    """Guards that the fixture still holds the bytes the case is about (no line-end or
    encoding normalisation by an editor or by git)."""
    guards = case.get("bytes", [])
    if not guards:
        return
    raw = path.read_bytes()
    for guard in guards:
        if guard == "bom":
            assert raw.startswith(b"\xef\xbb\xbf"), f"{path.name}: fixture lost its BOM"
        elif guard == "no-bom":
            assert not raw.startswith(b"\xef\xbb\xbf"), f"{path.name}: fixture gained a BOM"
        elif guard == "crlf":
            assert b"\r\n" in raw, f"{path.name}: fixture lost its CRLF line ends"
        elif guard == "lf":
            assert b"\r" not in raw, f"{path.name}: fixture gained CR line ends"
        elif guard == "not-utf8":
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
        else:  # pragma: no cover - a typo in cases.toml
            raise AssertionError(f"unknown bytes guard {guard!r}")


def _same(actual, expected) -> bool:
    if isinstance(actual, Decimal):  # money is written as a string in cases.toml
        return isinstance(expected, str) and actual == Decimal(expected) and str(actual) == expected
    if isinstance(actual, datetime):
        return isinstance(expected, datetime) and actual.utcoffset() == timedelta(0) and actual == expected
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    return type(actual) is type(expected) and actual == expected


@pytest.fixture
def check_attrs():
    """Compare an object's attributes with a `hits`/`rows` table of a case."""

    def check(obj, spec: dict, what: str) -> None:
        for key, expected in spec.items():
            if key == "i":
                continue
            if key == "none":
                for attr in expected:
                    assert getattr(obj, attr) is None, f"{what}.{attr}: {getattr(obj, attr)!r}, expected None"
                continue
            actual = getattr(obj, key)
            if key in ("answers", "fields"):  # a subset: the values named must be there, as text
                for k, v in expected.items():
                    assert k in actual, f"{what}.{key}: no {k!r} (has {sorted(actual)})"
                    assert actual[k] == v and type(actual[k]) is str, f"{what}.{key}[{k!r}]: {actual[k]!r} != {v!r}"
                continue
            assert _same(actual, expected), f"{what}.{key}: {actual!r} != {expected!r}"

    return check


@pytest.fixture
def check_error():
    """A failing case: one SourceError whose single-line message names the file and carries
    every `error` fragment and none of the `error_absent` ones."""

    def check(result, exc, label: str, case: dict) -> None:
        assert exc is not None, f"expected a SourceError, the reader returned {result!r:.300}"
        message = str(exc)
        assert "\n" not in message, f"not a single-line message: {message!r}"
        assert message.isprintable(), f"control characters or binary in the message: {message!r}"
        assert label in message, f"the message does not name the file {label!r}: {message}"
        for fragment in case["error"]:
            assert fragment in message, f"{fragment!r} not in: {message}"
        for fragment in case.get("error_absent", []):
            assert fragment not in message, f"{fragment!r} should not be in: {message}"

    return check
