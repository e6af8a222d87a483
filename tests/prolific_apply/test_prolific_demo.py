"""`survey-bridge demo --platform prolific`: the sample study end to end, offline."""

from __future__ import annotations

from openpyxl import load_workbook
from typer.testing import CliRunner

from bridge.cli import app


def test_demo_closes_out_and_applies_the_sample_study(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--platform", "prolific", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Applied: 29 approvals, 4 rejections, 30 bonuses (25.78 GBP), 73 qualification grants; 0 failed." \
        in result.output
    assert "Emulator balance: 10000.00 -> 9913.17 GBP" in result.output
    book = tmp_path / "sample-study-1-reconciliation.xlsx"
    log = list(load_workbook(book)["Log"].iter_rows(values_only=True))
    assert log[0][:3] == ("Action", "SubmissionId", "ParticipantId")
    assert len(log) == 1 + 29 + 4 + 30 + 73 and {r[4] for r in log[1:]} == {"done"}
    # Run again: a new ledger each time, fresh emulators: the same result, nothing carried over.
    again = CliRunner().invoke(app, ["demo", "--platform", "prolific", "--out", str(tmp_path)])
    assert again.exit_code == 0 and "0 failed." in again.output
