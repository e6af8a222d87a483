from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Test helper modules (builders, paths) live beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from paths import REALWORLD, need_shared, uses_shared  # noqa: E402


@pytest.fixture
def realworld() -> Path:
    return need_shared(REALWORLD)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test that names a shared/ path skips without shared/ (fails under CI), before any of
    its fixtures reads the file (tests/paths.py)."""
    if uses_shared(item):
        need_shared(REALWORLD)


@pytest.fixture
def start_mturk():
    """Start MTurk emulators (any constructor arguments); all are stopped after the test."""
    from bridge.panels.mturk.emulator import MTurkEmulator

    started = []

    def start(**kwargs):
        emulator = MTurkEmulator(**kwargs).__enter__()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.__exit__(None, None, None)


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL server for the session (tests/pgserver.py). Without one on
    this machine the test is skipped with the reason, or fails under CI (CI must run the
    shared-ledger tests)."""
    import os

    from pgserver import ThrowawayServer, missing

    why = missing()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"{why}; CI must run the shared-ledger tests", pytrace=False)
        pytest.skip(why)
    server = ThrowawayServer().start()
    yield server
    server.stop()


@pytest.fixture
def pg_credentials(pg_server, monkeypatch):
    """The lab role's credentials where libpq looks for them (PGUSER, PGPASSWORD), and no
    other libpq setting from the machine; the server."""
    for name in ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGSERVICE", "PGSERVICEFILE", "PGPASSFILE",
                 "PGSSLMODE", "PGOPTIONS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in pg_server.credentials.items():
        monkeypatch.setenv(name, value)
    return pg_server


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_backend(request, tmp_path_factory):
    """Each test twice, once per ledger backend: `new()` gives the location of a new, empty
    ledger (an SQLite file path; a PostgreSQL database's URL, credentials in the environment),
    `delete(location)` deletes what it holds (the file; the tables)."""
    from types import SimpleNamespace

    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("ledgers")
        names = iter(range(1000))

        def delete(path: str) -> None:
            for name in ("", "-wal", "-shm", ".lock"):
                Path(path + name).unlink(missing_ok=True)

        return SimpleNamespace(name="sqlite", new=lambda: str(folder / f"ledger-{next(names)}.sqlite"), delete=delete)
    server = request.getfixturevalue("pg_credentials")

    def drop(url: str) -> None:
        server.admin("DROP SCHEMA survey_bridge CASCADE", database=url.rsplit("/", 1)[1])

    return SimpleNamespace(name="postgresql", new=server.create_database, delete=drop, server=server)
