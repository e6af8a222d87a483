"""Reports tell what happened (SPEC 4.2): a second run from another folder finds the work
already done on Prolific and says so, sending no money; the Summary after apply shows the
money spent and what is still to send; a dry run from the old files counts by the ledger;
one review count everywhere."""

from __future__ import annotations

import re
import time
from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook
from prolific_apply_support import ENV
from test_prolific_steps import STUDY, study_against
from typer.testing import CliRunner

from bridge.cli import app

NOW = ["--now", "2026-11-21T12:00:00Z"]
runner = CliRunner(env=ENV)


def summary(path: Path) -> dict:
    wb = load_workbook(path, read_only=True)
    rows = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True)}
    wb.close()
    return rows


def printed(output: str) -> dict[str, str]:
    return dict(re.match(r"  (.+?)\s{2,}(\S.*)$", line).groups() for line in output.splitlines()
                if line.startswith("  ") and re.match(r"  (.+?)\s{2,}(\S.*)$", line))


def test_a_second_run_elsewhere_sends_no_money_and_says_what_was_already_done(make_emu, tmp_path):
    emu = make_emu(async_delay=0.0, fee_rate="0.333", vat_rate="0.20")  # the sample config's fees
    first = study_against(emu, tmp_path / "a", "")
    applied = runner.invoke(app, ["close-out", str(first), "--apply", "--yes", *NOW])
    assert applied.exit_code == 0, applied.output
    book = first.parent / "out" / "sample-study-1-reconciliation.xlsx"
    money = summary(book)
    assert money["Spent so far (GBP)"] == float(money["Total cost (GBP)"]) > 0
    assert money["Still to send (GBP)"] == 0 and money["Bonuses to pay"] == 0
    assert money["Bonuses paid"] > 0
    assert money["Approve (to send)"] == 0 and money["Reject (to send)"] == 0
    balance = emu.available_balance

    # Another research assistant, another folder (a new ledger), the same files, later.
    time.sleep(0.2)
    other = tmp_path / "b"
    other.mkdir()
    for f in first.parent.glob("*.csv"):
        (other / f.name).write_bytes(f.read_bytes())
    (other / "study.toml").write_text(first.read_text())
    second = runner.invoke(app, ["close-out", str(other / "study.toml"), "--apply", "--yes", *NOW])

    assert second.exit_code == 0, second.output
    assert emu.available_balance == balance  # nothing paid twice
    found = re.search(r"Already done on Prolific \(found before sending\): (\d+) approvals, (\d+) rejections, "
                      r"(\d+) bonuses \((\d+\.\d\d) GBP\); not sent again\.", second.output)
    assert found, second.output
    assert "Cost: rewards 0.00 + bonuses 0.00 + fees 0.00 = 0.00 GBP" in second.output
    sent = re.search(r"Sent this run: (.*)", second.output).group(1)
    assert "approvals" not in sent and "bonuses" not in sent and "(no money)" in sent, sent
    assert Decimal(found.group(4)) == Decimal(str(money["Bonus total (GBP)"]))

    # The first folder again, a dry run from the old files: counted by its ledger.
    dry = runner.invoke(app, ["close-out", str(first), *NOW])
    assert dry.exit_code == 0, dry.output
    figures = printed(dry.output)
    assert (figures["Approve (to send)"], figures["Reject (to send)"], figures["Still to send (GBP)"]) == \
        ("0", "0", "0.00")
    assert figures["Approved (done on Prolific)"] == found.group(1)
    review = int(figures["Review (a person decides)"])
    warning = next(line for line in dry.output.splitlines() if "need review" in line)
    assert warning.startswith(f"warning: {review} submission(s) need review"), warning


def test_nothing_to_decide_is_never_sent_nor_counted_as_a_rejection(make_emu, tmp_path):
    emu = make_emu(async_delay=0.0, fee_rate="0.333", vat_rate="0.20")  # the sample config's fees
    config = study_against(emu, tmp_path / "a", "")
    result = runner.invoke(app, ["close-out", str(config), "--apply", "--yes", *NOW])
    assert result.exit_code == 0, result.output
    ended = [s for s in emu.submissions_of(STUDY) if s.status in ("TIMED-OUT", "SCREENED OUT")]
    assert ended and all(s.status in ("TIMED-OUT", "SCREENED OUT") for s in ended)
    book = config.parent / "out" / "sample-study-1-reconciliation.xlsx"
    wb = load_workbook(book, read_only=True)
    rows = list(wb["Decisions"].iter_rows(values_only=True))
    log = list(wb["Log"].iter_rows(values_only=True))
    wb.close()
    none = {r[0] for r in rows[1:] if r[6] == "none"}
    assert {s.id for s in ended} <= none
    assert not none & {r[1] for r in log[1:] if r[0] in ("approve", "reject", "bonus")}
    assert summary(book)["Nothing to decide (ended, no survey response)"] == len(none)
