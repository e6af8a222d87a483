"""A close-out that pulls both sides through the APIs (both emulators over HTTP) decides
exactly as the close-out of the same wave's CSV exports."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from paths import SAMPLE

from bridge.closeout import close_out
from bridge.config import load_config
from bridge.emulator.qualtrics import QualtricsEmulator
from bridge.errors import SourceError
from bridge.panels.mturk.emulator import MTurkEmulator, starting_at
from bridge.panels.mturk.reader import read_batch_results

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def api_config(tmp_path: Path, mturk_url: str, qualtrics_url: str, hit_ids: list[str]) -> Path:
    text = (SAMPLE / "wave.toml").read_text()
    text = text.replace('csv = "qualtrics_export.csv"', f'survey_id = "SV_sample01"\nbase_url = "{qualtrics_url}"')
    ids = ", ".join(f'"{h}"' for h in hit_ids)
    text = text.replace('csv = "batch_results.csv"', f"hit_ids = [{ids}]")
    text = text.replace('environment = "sandbox"', f'environment = "{mturk_url}"')
    path = tmp_path / "wave-api.toml"
    path.write_text(text)
    return path


def rows(plan):
    return {
        d.submission_id: (d.participant_id, d.entered_code, d.response_id, d.match, d.decision, d.bonus, d.reasons)
        for d in plan.decisions
    }


def test_api_close_out_matches_csv_close_out(tmp_path, monkeypatch):
    monkeypatch.setenv("QUALTRICS_API_KEY", "lab-token-123")
    csv_run = close_out(load_config(SAMPLE / "wave.toml"), NOW, workbook=tmp_path / "csv.xlsx")
    hits = list(read_batch_results(SAMPLE / "batch_results.csv").tasks)
    qualtrics = QualtricsEmulator(token="lab-token-123")
    qualtrics.add_survey("SV_sample01", SAMPLE / "qualtrics_export.csv")
    with MTurkEmulator(clock=starting_at(NOW)) as mturk, qualtrics:
        mturk.seed_batch(SAMPLE / "batch_results.csv")
        settings = load_config(api_config(tmp_path, mturk.url, qualtrics.url, hits))
        api_run = close_out(settings, NOW, workbook=tmp_path / "api.xlsx")
        assert mturk.calls["ListAssignmentsForHIT"] >= 1 and mturk.calls["GetHIT"] == len(hits)
    assert rows(api_run.plan) == rows(csv_run.plan)
    # The API gives no WorkTimeInSeconds: SubmitTime - AcceptTime is the same time (SPEC §8).
    assert [d.time_taken_seconds for d in api_run.plan.decisions] == [d.time_taken_seconds
                                                                      for d in csv_run.plan.decisions]
    assert all(d.time_taken_seconds for d in api_run.plan.decisions)
    assert len(api_run.plan.decisions) == 52
    assert api_run.plan.survey_responses == csv_run.plan.survey_responses
    assert "lab-token-123" not in (tmp_path / "api.xlsx").read_bytes().decode("latin-1")


def test_api_close_out_names_an_unknown_hit(tmp_path, monkeypatch):
    monkeypatch.setenv("QUALTRICS_API_KEY", "lab-token-123")
    qualtrics = QualtricsEmulator(token="lab-token-123")
    qualtrics.add_survey("SV_sample01", SAMPLE / "qualtrics_export.csv")
    with MTurkEmulator(clock=starting_at(NOW)) as mturk, qualtrics:
        settings = load_config(api_config(tmp_path, mturk.url, qualtrics.url, ["3NOSUCHHIT0000000000000000000"]))
        with pytest.raises(SourceError, match="3NOSUCHHIT0000000000000000000"):
            close_out(settings, NOW, workbook=tmp_path / "api.xlsx")
    assert not (tmp_path / "api.xlsx").exists()


def test_api_close_out_without_token_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.delenv("QUALTRICS_API_KEY", raising=False)
    monkeypatch.delenv("QUALTRICS_API_TOKEN", raising=False)
    settings = load_config(api_config(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:9", ["3ABC"]))
    with pytest.raises(SourceError, match="QUALTRICS_API_KEY"):
        close_out(settings, NOW, workbook=tmp_path / "api.xlsx")
