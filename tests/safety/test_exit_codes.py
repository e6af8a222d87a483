"""SPEC §12 (exit codes): a service that is down during the checks before sending is exit 2,
"nothing was sent; run again", not exit 1, the code for a wrong config; a refusal of the
token stays exit 1. Through the CLI, against the emulators on 127.0.0.1."""

from __future__ import annotations

import shutil

from paths import SAMPLE
from safety_support import NOW, lab, run, seed, sent, study

from bridge.emulator.base import Fault


def test_prolific_down_during_the_checks_before_sending_is_exit_2(quick, emu, tmp_path):
    s = study(5)
    files = lab(tmp_path / "lab", export_of=s, url=emu.url)
    seed(emu, s, files.export)
    emu.faults.always["get-workspace-balance"] = Fault.FAIL_BEFORE  # 503 on every try

    result = run("close-out", files.config, "--apply", "--yes", *NOW)

    assert result.exit_code == 2, result.output
    assert "did not answer the checks before sending" in result.output and "Prolific answered 503" in result.output
    assert "Nothing was sent; wait a little, then run the same command again" in result.output
    assert sent(emu) == {}

    del emu.faults.always["get-workspace-balance"]
    again = run("close-out", files.config, "--apply", "--yes", *NOW)
    assert again.exit_code == 0, again.output


def test_a_refused_token_during_the_checks_is_still_exit_1(quick, emu, tmp_path):
    s = study(5)
    files = lab(tmp_path / "lab", export_of=s, url=emu.url)
    seed(emu, s, files.export)

    result = run("close-out", files.config, "--apply", "--yes", *NOW, env={"PROLIFIC_API_TOKEN": "wrong-token"})

    assert result.exit_code == 1, result.output
    assert "Prolific emulator refused the API token" in result.output and sent(emu) == {}


def test_mturk_down_during_the_checks_before_sending_is_exit_2(start_mturk, tmp_path):
    folder = tmp_path / "wave"
    folder.mkdir()
    for name in ("batch_results.csv", "qualtrics_export.csv"):
        shutil.copy(SAMPLE / name, folder / name)
    emu = start_mturk(fail_rate=1.0, fault_seed=1)
    text = (SAMPLE / "wave.toml").read_text().replace('environment = "sandbox"', f'environment = "{emu.url}"')
    (folder / "wave.toml").write_text(text)
    env = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_MAX_ATTEMPTS": "1"}

    result = run("close-out", folder / "wave.toml", "--apply", "--yes", "--now", "2026-12-05T08:42:00Z", env=env)

    assert result.exit_code == 2, result.output
    assert f"The MTurk endpoint {emu.url} did not answer the checks before sending" in result.output
    assert sum(emu.calls[op] for op in ("ApproveAssignment", "RejectAssignment", "SendBonus")) == 0
