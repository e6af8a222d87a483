"""The SQLite ledger file: one written before keys named the work is migrated in place and
still known after the wave is renamed; one the tool half-made (a full disk, a crash) is
finished by the next run, never refused; a new one appears whole or not at all."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest
from lab_support import NOW_ARG, REPO, STUDY, planned_bonuses, study_folder
from typer.testing import CliRunner

from bridge.actions import Action, Kind
from bridge.cli import app
from bridge.errors import InputError
from bridge.ledger import open_ledger
from bridge.ledger.sqlite import SqliteLedger

DUMP = REPO / "tests" / "data" / "ledger" / "main-v2-sample-study.sql"
MONEY = ("bulk-approve-submissions", "transition-submission", "create-bonus-payments", "pay-bonus-payments",
         "add-to-participant-group")


def run(config: Path):
    return CliRunner().invoke(app, ["close-out", str(config), "--apply", "--yes", *NOW_ARG])


def test_a_ledger_written_before_keys_named_the_work_is_migrated_in_place(prolific, tmp_path):
    emu = prolific()
    config = study_folder(tmp_path / "study", emu.url, None)  # the default ledger: the old per-wave file
    old = tmp_path / "study" / "out" / "sample-study-1-reconciliation.ledger.sqlite"
    old.parent.mkdir()
    with sqlite3.connect(old) as db:
        db.executescript(DUMP.read_text())

    result = run(config)

    assert result.exit_code == 0, result.output
    assert "Nothing to send: every action is already done" in result.output
    assert not any(emu.calls[op] for op in MONEY)
    assert not (old.parent / "survey-bridge.ledger.sqlite").exists()  # the old file was used, in place
    with sqlite3.connect(old) as db:
        assert db.execute("SELECT value FROM meta").fetchall() == [("3",)]
        keys = [r[0] for r in db.execute("SELECT key FROM actions")]
        waves = {r[0] for r in db.execute("SELECT wave FROM actions")}
    assert len(keys) == 136 and all(k.startswith(f"prolific|local|{STUDY}|") for k in keys)
    assert waves == {"sample-study-1"}  # kept as a label
    # Renamed, and pointed at the same file: the same records.
    text = config.read_text().replace('name = "sample-study-1"', 'name = "study-renamed"')
    config.write_text(text.replace("[output]\n", f'[output]\nledger = "{old}"\n'))
    again = run(config)
    assert again.exit_code == 0 and "Nothing to send" in again.output, again.output
    assert not any(emu.calls[op] for op in MONEY)


def _ledger(path: Path, **kwargs):
    return open_ledger(path, panel="Prolific", environment="local", tasks=[STUDY], **kwargs)


@pytest.mark.parametrize("made", ["an empty file", "meta without actions", "meta of an older version"])
def test_a_ledger_the_tool_half_made_is_finished_not_refused(tmp_path, made):
    path = tmp_path / "ledger.sqlite"
    if made == "an empty file":
        path.write_bytes(b"")
    else:
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            if made == "meta of an older version":
                db.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    grant = Action(Kind.GRANT, participant_id="part1", group_id="group1")
    with _ledger(path, exclusive=True) as ledger:
        ledger.record(grant, "done")
    with _ledger(path) as ledger:
        assert [e.status for e in ledger.entries().values()] == ["done"]
    with sqlite3.connect(path) as db:
        assert {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} == {"meta", "actions"}


def test_a_full_disk_while_the_ledger_is_made_leaves_none_and_the_next_run_resumes(prolific, tmp_path, monkeypatch):
    emu = prolific()
    config = study_folder(tmp_path / "study", emu.url, None, settle_minutes=0)
    made = SqliteLedger._schema

    def disk_full(db, tables):
        made(db, tables)  # half of it written, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(SqliteLedger, "_schema", staticmethod(disk_full))
    full = run(config)
    assert full.exit_code == 1 and "the disk is full" in full.output, full.output
    out = tmp_path / "study" / "out"
    assert not [p.name for p in out.iterdir() if "ledger" in p.name and not p.name.endswith(".lock")]
    assert not any(emu.calls[op] for op in MONEY)

    monkeypatch.setattr(SqliteLedger, "_schema", staticmethod(made))  # space freed
    resumed = run(config)
    assert resumed.exit_code == 0, resumed.output
    assert f"Applied: 29 approvals, 4 rejections, 30 bonuses ({sum(planned_bonuses(config).values())} GBP), 73 qualification grants" in resumed.output


def test_a_ledger_of_a_newer_version_is_left_as_it_is(tmp_path):
    path = tmp_path / "ledger.sqlite"
    with _ledger(path):
        pass
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99'")
    before = path.read_bytes()
    with pytest.raises(InputError, match="newer survey-bridge"):
        _ledger(path)
    assert path.read_bytes() == before
