"""SPEC §12, secrets stay secret in every message: a canary token or password is run through
every CLI path that can fail on it (a malformed token, a token refused with 401 while reading
and while applying, a password in the Qualtrics base URL or QUALTRICS_BASE_URL, a password in
the Prolific or MTurk environment URL, a service that cannot be reached) and must appear in
none of stdout, stderr, the log, the workbook or the ledger. Each path is checked to have
failed (or run) as it should, so the test cannot pass by never reaching it."""

from __future__ import annotations

import logging
import shutil
import socket

import pytest
from paths import SAMPLE
from safety_support import NOW, TOKEN, every_text, lab, run, seed, study

from bridge.emulator.qualtrics import QualtricsEmulator

CANARY = "Zq9canaryS3cretW7"
QUALTRICS_TOKEN = "lab-token-123"


@pytest.fixture
def seen(caplog):
    """Every text the runs showed, to grep for the canary at the end."""
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    yield texts
    texts.append(caplog.text)
    leaked = [t for t in texts if CANARY in t]
    assert not leaked, leaked[0][:2000]


def _record(seen, result, *, code: int, says: str):
    seen += [result.output, result.stdout, result.stderr]
    assert result.exit_code == code, result.output
    assert says in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # one message, no traceback


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api_config(folder, url: str, study_id: str):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "survey.csv").write_text((SAMPLE / "prolific" / "qualtrics_export.csv").read_text())
    config = folder / "study.toml"
    config.write_text(f"""
[wave]
name = "study-x"
platform = "prolific"
[qualtrics]
csv = "survey.csv"
participant_column = "PROLIFIC_PID"
[prolific]
study_id = "{study_id}"
environment = "{url}"
""")
    return config


@pytest.mark.parametrize("token", [f"{CANARY}\n", f"{CANARY}\nX-Other: 1", f"{CANARY}\x07", f"Tok {CANARY}"])
def test_a_malformed_prolific_token_is_refused_without_being_echoed(emu, tmp_path, seen, token):
    s = study(3)
    seed(emu, s, lab(tmp_path / "files", export_of=s, url=emu.url).export)
    config = _api_config(tmp_path / "api", emu.url, s.study_id)
    if token.endswith("\n"):  # a trailing line break is only trimmed: then the token is just wrong
        _record(seen, run("close-out", config, *NOW, env={"PROLIFIC_API_TOKEN": token}), code=1,
                says="Prolific emulator refused the API token")
        return
    _record(seen, run("close-out", config, *NOW, env={"PROLIFIC_API_TOKEN": token}), code=1,
            says="PROLIFIC_API_TOKEN is malformed")
    files = lab(tmp_path / "csv", export_of=s, url=emu.url)
    _record(seen, run("close-out", files.config, "--apply", "--yes", *NOW, env={"PROLIFIC_API_TOKEN": token}),
            code=1, says="PROLIFIC_API_TOKEN is malformed")
    seen.append(every_text(tmp_path))
    assert emu.calls == {} or set(emu.calls) <= {"get-study", "get-submissions"}  # the token was never sent


def test_a_refused_token_and_url_passwords_never_show(quick, emu, tmp_path, seen):
    s = study(6)
    files = lab(tmp_path / "lab", export_of=s, url=emu.url)
    seed(emu, s, files.export)
    wrong = {"PROLIFIC_API_TOKEN": CANARY}
    # 401 while reading the study through the API, and while checking before sending.
    _record(seen, run("close-out", _api_config(tmp_path / "api", emu.url, s.study_id), *NOW, env=wrong), code=1,
            says="Prolific emulator refused the API token")
    _record(seen, run("close-out", files.config, "--apply", "--yes", *NOW, env=wrong), code=1,
            says="Prolific emulator refused the API token")
    # A password inside the Prolific environment URL: never sent, never shown, the apply goes through.
    host = emu.url.split("//", 1)[1]
    text = files.config.read_text()
    files.config.write_text(text.replace(f'environment = "{emu.url}"', f'environment = "http://lab:{CANARY}@{host}"'))
    _record(seen, run("close-out", files.config, "--apply", "--yes", *NOW), code=0, says="Applied: 6 approvals")
    assert "Authorization" not in str([ex for ex in emu.exchanges])  # (the exchanges keep no headers)
    # ... and where nothing answers (exit 2: nothing was sent, run again).
    files.config.write_text(text.replace(f'environment = "{emu.url}"',
                                         f'environment = "http://lab:{CANARY}@127.0.0.1:{_closed_port()}"'))
    _record(seen, run("close-out", files.config, "--apply", "--yes", *NOW), code=2,
            says="did not answer the checks before sending")
    seen.append(every_text(tmp_path))


def test_qualtrics_passwords_in_the_base_url_never_show(tmp_path, seen, monkeypatch):
    import bridge.sources.qualtrics_api as qualtrics_api

    real = qualtrics_api.fetch_survey
    monkeypatch.setattr(qualtrics_api, "fetch_survey", lambda *a, **k: real(*a, **k | {"backoff": 0.001}))
    s = study(4)
    folder = tmp_path / "lab"
    files = lab(folder, export_of=s, url="http://127.0.0.1:9")
    qualtrics = QualtricsEmulator(token=QUALTRICS_TOKEN)
    qualtrics.add_survey("SV_canary01", files.survey)
    text = files.config.read_text()
    with qualtrics:
        host = qualtrics.url.split("//", 1)[1]
        files.config.write_text(text.replace('csv = "survey.csv"', f'survey_id = "SV_canary01"\n'
                                             f'base_url = "http://lab:{CANARY}@{host}"'))
        # 401 with a password in the config's base_url.
        _record(seen, run("close-out", files.config, *NOW, env={"QUALTRICS_API_KEY": "wrong-token"}), code=1,
                says=f"Qualtrics emulator at {host} rejected the API token")
        # The token itself holding a control character.
        _record(seen, run("close-out", files.config, *NOW, env={"QUALTRICS_API_KEY": f"{CANARY}\x01"}), code=1,
                says="contains spaces or control characters")
        # Read with the right token: the workbook and the analysis file are clean.
        _record(seen, run("close-out", files.config, *NOW, env={"QUALTRICS_API_KEY": QUALTRICS_TOKEN}), code=0,
                says="Workbook:")
    # QUALTRICS_BASE_URL with a password, where nothing answers.
    files.config.write_text(text.replace('csv = "survey.csv"', 'survey_id = "SV_canary01"'))
    closed = _closed_port()
    _record(seen, run("close-out", files.config, *NOW, env={
        "QUALTRICS_API_KEY": QUALTRICS_TOKEN, "QUALTRICS_BASE_URL": f"https://lab:{CANARY}@127.0.0.1:{closed}"}),
        code=1, says=f"Could not reach Qualtrics at 127.0.0.1:{closed}")
    seen.append(every_text(tmp_path))


def test_an_mturk_endpoint_with_a_password_never_shows(start_mturk, tmp_path, seen):
    folder = tmp_path / "wave"
    folder.mkdir()
    for name in ("batch_results.csv", "qualtrics_export.csv"):
        shutil.copy(SAMPLE / name, folder / name)
    text = (SAMPLE / "wave.toml").read_text()
    emu = start_mturk()
    emu.seed_batch(folder / "batch_results.csv")
    host = emu.url.split("//", 1)[1]
    config = folder / "wave.toml"
    config.write_text(text.replace('environment = "sandbox"', f'environment = "http://lab:{CANARY}@{host}"'))
    env = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_DEFAULT_REGION": "us-east-1"}
    first = run("close-out", config, "--apply", "--yes", "--now", "2026-12-05T08:42:00Z", env=env)
    seen += [first.output, first.stderr]
    # The emulator answered (its qualification types are not the sample's): the endpoint is named, redacted.
    assert first.exit_code == 1 and f"no such qualification type in the MTurk endpoint http://***@{host}" \
        in first.output, first.output
    config.write_text(text.replace('environment = "sandbox"',
                                   f'environment = "http://lab:{CANARY}@127.0.0.1:{_closed_port()}"'))
    second = run("close-out", config, "--apply", "--yes", "--now", "2026-12-05T08:42:00Z", env=env)
    seen += [second.output, second.stderr]
    assert second.exit_code in (1, 2), second.output
    seen.append(every_text(tmp_path))
    assert TOKEN not in every_text(tmp_path)
