"""Helpers for the shared-ledger tests: the sample Prolific study as a lab works it (a folder
per person or laptop, the study config pointed at a local Prolific), and what Prolific
shows, read over plain HTTP (requests), never through the tool."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import requests

from bridge.panels.prolific.emulator import DEFAULT_TOKEN, ProlificEmulator

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_data" / "prolific"
STUDY = "58b2a2055bb55bcbb37d2f2a"  # the sample export's study (its file name)
EXPORT = f"prolific_export_{STUDY}.csv"
GROUPS = {"prev_worker": "6543aaaa0000000000000001", "eligible_worker": "6543bbbb0000000000000002"}
NOW_ARG = ["--now", "2026-11-21T12:00:00Z"]  # the sample's day
CODES = {"C1A2B3C4": "COMPLETED", "C7FAIL00": "FAILED_ATTENTION_CHECK"}
BONUSES = 30  # the sample study's planned bonuses


def serve_study(pay_delay: float) -> ProlificEmulator:
    """A local Prolific holding the sample study (as its export has it) and the config's
    participant groups; approvals and payments show `pay_delay` seconds after they are made."""
    emu = ProlificEmulator(async_delay=pay_delay, currency="GBP", fee_rate="0.333", vat_rate="0.20").__enter__()
    emu.seed_export(STUDY, SAMPLE / EXPORT, reward="1.25", completion_codes=CODES)
    for role, group in GROUPS.items():
        emu.add_group(role, group_id=group)
    return emu


def study_folder(folder: Path, url: str, ledger: str | None, *, wave: str = "sample-study-1", api: bool = False,
                 settle_minutes: float | None = None) -> Path:
    """The sample study's config and files copied into `folder`, applying to `url`, with
    `[output] ledger = ledger` (None: the default beside the workbook); `api`: the
    submissions read from Prolific rather than the downloaded export. Returns the config's
    path."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("qualtrics_export.csv", EXPORT):
        shutil.copy(SAMPLE / name, folder / name)
    text = (SAMPLE / "study.toml").read_text()
    text = text.replace('environment = "production"', f'environment = "{url}"')
    text = text.replace('name = "sample-study-1"', f'name = "{wave}"')
    if api:
        text = text.replace(f'csv = "{EXPORT}"', f'study_id = "{STUDY}"')
    text = text.replace('workbook = "out/sample-study-1-reconciliation.xlsx"', "")
    if ledger is not None:
        text = text.replace("[output]\n", f'[output]\nledger = "{ledger}"\n')
    if settle_minutes is not None:
        text += f"\n[safety]\nsettle_minutes = {settle_minutes}\n"
    config = folder / "study.toml"
    config.write_text(text)
    return config


def shown_bonuses(url: str) -> dict[str, list[Decimal]]:
    """Every submission of the study with the bonus payments Prolific shows on it (major
    units), read page by page over HTTP."""
    headers = {"Authorization": f"Token {DEFAULT_TOKEN}"}
    out: dict[str, list[Decimal]] = {}
    page: str | None = f"{url}/api/v1/submissions/?study={STUDY}"
    while page:
        answer = requests.get(page, headers=headers, timeout=30)
        answer.raise_for_status()
        body = answer.json()
        for item in body["results"]:
            out[item["id"]] = [Decimal(x) / 100 for x in item.get("bonus_payments") or []]
        page = body["_links"]["next"]["href"]
    return out


def planned_bonuses(config: Path) -> dict[str, Decimal]:
    """The bonus each submission gets by the study's rules (the close-out's plan; nothing sent)."""
    from datetime import datetime, timezone

    from bridge.closeout import plan_wave
    from bridge.config import load_config

    plan = plan_wave(load_config(config), datetime(2026, 11, 21, 12, tzinfo=timezone.utc)).plan
    return {d.submission_id: d.bonus for d in plan.decisions if d.decision.value == "approve" and d.bonus}


def assert_paid_once(url: str, planned: dict[str, Decimal]) -> None:
    """Prolific shows every planned bonus exactly once, with its amount, and nothing else."""
    shown = shown_bonuses(url)
    twice = {s: b for s, b in shown.items() if len(b) > 1}
    assert not twice, f"paid more than once: {twice}"
    assert {s: b[0] for s, b in shown.items() if b} == planned
    assert len(planned) == BONUSES
