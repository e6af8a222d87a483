"""The ledger's one interface, the same on both backends (an SQLite file, the lab's shared
PostgreSQL): states and phases kept across connections, keys that name the work, one
writer per study, `survey-bridge ledger copy`, and credentials that never show."""

from __future__ import annotations

import os
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridge.actions import Action, Kind
from bridge.cli import app
from bridge.errors import InputError, SafetyRefusal
from bridge.ledger import PAID, PAYING, PREPARED, open_ledger

STUDY, OTHER = "58b2a2055bb55bcbb37d2f2a", "6543f00dc0ffee0123456789"
BONUS = Action(Kind.BONUS, "sub1", "part1", STUDY, amount=Decimal("1.25"))
GRANT = Action(Kind.GRANT, participant_id="part1", group_id="group1")


def book(location: str, *, study: str = STUDY, wave: str = "wave-1", **kwargs):
    return open_ledger(location, panel="Prolific", environment="production", tasks=[study], wave=wave, **kwargs)


def test_every_state_change_is_kept_whatever_the_wave_is_called(ledger_backend):
    location = ledger_backend.new()
    with book(location) as ledger:
        ledger.pending([BONUS], phase=PREPARED)
        ledger.advance([BONUS], PAYING, batch_id="bulk1")
        ledger.pending(GRANT)
        ledger.record(GRANT, "failed", detail="503 from https://ra:secret@api.example/")
    with book(location, wave="renamed") as ledger:  # another run, another name: the same work
        entries = ledger.entries()
        bonus, grant = entries[ledger.key(BONUS)], entries[ledger.key(GRANT)]
        assert (bonus.status, bonus.phase, bonus.batch_id, bonus.amount) == ("pending", PAYING, "bulk1", "1.25")
        assert ledger.key(BONUS) == f"prolific|production|{STUDY}|bonus|sub1"
        assert ledger.key(GRANT) == f"prolific|production|{STUDY}|grant|group1:part1"
        assert grant.status == "failed" and "secret" not in grant.detail
        ledger.record(BONUS, "done", request_id="bulk1", detail="paid", phase=PAID)
        ledger.wait(Action(Kind.BONUS, "sub2", "part2", STUDY, amount=Decimal("0.50")), "waits",
                    seen_at="2026-12-05 08:00:00")
        ledger.wait(Action(Kind.BONUS, "sub2", "part2", STUDY, amount=Decimal("0.50")), "waits again",
                    seen_at="2026-12-05 09:00:00")
    with book(location) as ledger:
        entries = {e.submission_id or e.participant_id: e for e in ledger.entries().values()}
        assert (entries["sub1"].status, entries["sub1"].phase, entries["sub1"].batch_id) == ("done", PAID, "bulk1")
        assert (entries["sub2"].status, entries["sub2"].seen_at) == ("pending", "2026-12-05 08:00:00")
    for other in (book(location, study=OTHER),
                  open_ledger(location, panel="MTurk", environment="production", tasks=[STUDY]),
                  open_ledger(location, panel="Prolific", environment="local", tasks=[STUDY])):
        with other:
            assert other.entries() == {}


def test_one_writer_per_study_and_the_second_is_told_who(ledger_backend):
    location = ledger_backend.new()
    with book(location, exclusive=True):
        with pytest.raises(SafetyRefusal) as refused:
            book(location, exclusive=True)
        assert refused.value.exit_code == 3 and f"(pid {os.getpid()})" in str(refused.value)
        assert "another run is applying" in str(refused.value)
        if ledger_backend.name == "postgresql":  # one writer per study: another study goes ahead
            with book(location, study=OTHER, exclusive=True):
                pass
    with book(location, exclusive=True):  # released when the first closed
        pass


def test_the_shared_ledger_makes_its_schema_once_even_when_two_runs_start_together(pg_credentials):
    url = pg_credentials.create_database()
    errors: list[BaseException] = []

    def first_use() -> None:
        try:
            with book(url) as ledger:
                ledger.record(GRANT, "done")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    import psycopg

    with psycopg.connect(url) as db:
        tables = {r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'survey_bridge'")}
        version = db.execute("SELECT value FROM survey_bridge.meta WHERE name = 'schema_version'").fetchone()[0]
    assert tables == {"actions", "meta", "locks"} and version == "3"


def test_ledger_copy_moves_the_records_between_sqlite_and_postgresql(pg_credentials, tmp_path):
    sqlite_path = str(tmp_path / "alice.ledger.sqlite")
    with book(sqlite_path) as ledger:
        ledger.pending([BONUS], phase=PREPARED)
        ledger.advance([BONUS], PAYING, batch_id="bulk1")
        ledger.record(BONUS, "done", request_id="bulk1", phase=PAID)
        ledger.record(GRANT, "failed", detail="503")
    url = pg_credentials.create_database()
    with book(url) as ledger:  # what the lab's ledger already had: the grant done by someone else
        ledger.record(GRANT, "done", detail="granted by bob")

    copied = CliRunner().invoke(app, ["ledger", "copy", sqlite_path, url])

    assert copied.exit_code == 0, copied.output
    assert "2 record(s); 1 added, 0 replaced, 1 kept as they were" in copied.output
    with book(url) as ledger:
        entries = ledger.entries()
        assert entries[ledger.key(BONUS)].phase == PAID and entries[ledger.key(BONUS)].batch_id == "bulk1"
        assert entries[ledger.key(GRANT)].detail == "granted by bob"  # done outranks failed
    back = str(tmp_path / "back.ledger.sqlite")
    assert CliRunner().invoke(app, ["ledger", "copy", url, back]).exit_code == 0
    with book(back) as ledger, book(url) as shared:
        assert ledger.entries() == shared.entries()


def test_a_password_in_a_ledger_url_is_refused_and_never_shown(tmp_path):
    result = CliRunner().invoke(app, ["ledger", "copy", str(tmp_path / "none.sqlite"),
                                      "postgresql://ra:hunter2secret@db.lab.example/ledger"])
    assert result.exit_code == 1 and "hunter2secret" not in result.output
    (tmp_path / "a.sqlite").write_bytes(b"")
    result = CliRunner().invoke(app, ["ledger", "copy", str(tmp_path / "a.sqlite"),
                                      "postgresql://ra:hunter2secret@db.lab.example/ledger"])
    assert result.exit_code == 1 and "hunter2secret" not in result.output
    assert "PGPASSWORD" in result.output and "~/.pgpass" in result.output


def test_an_unreachable_shared_ledger_is_one_message_without_credentials(pg_credentials, monkeypatch):
    from pgserver import free_port

    url = f"postgresql://127.0.0.1:{free_port()}/ledger"
    with pytest.raises(InputError) as err:
        book(url, exclusive=True)
    message = str(err.value)
    assert "cannot reach the shared ledger at " + url in message and "PGPASSWORD" in message
    assert os.environ["PGPASSWORD"] not in message


def test_credentials_come_from_the_password_file(pg_credentials, tmp_path, monkeypatch):
    url = pg_credentials.create_database()
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{pg_credentials.port}:*:{pg_credentials.credentials['PGUSER']}:"
                        f"{pg_credentials.credentials['PGPASSWORD']}\n")
    passfile.chmod(0o600)
    monkeypatch.delenv("PGPASSWORD")
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    with book(url) as ledger:
        ledger.record(GRANT, "done")
    monkeypatch.setenv("PGPASSFILE", str(Path(tmp_path / "none")))
    with pytest.raises(InputError, match="cannot reach the shared ledger"):
        book(url)
