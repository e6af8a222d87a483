"""The offline demo: the sample wave pulled through both emulators' APIs, closed out, and
applied against the local MTurk emulator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from bridge.panels.mturk.adapter import connect
from bridge.apply.executor import Progress
from bridge.apply.run import ApplyResult, Preflight, apply_plan
from bridge.closeout import CloseOut, close_out
from bridge.config import Settings

QUALIFICATION_NAMES = {"prev_worker": "Prev_Worker", "eligible_worker": "Eligible_Worker"}
DEMO_SURVEY_ID = "SV_sampleWave01"
DEMO_TOKEN = "demo-token"  # the Qualtrics emulator's; never a real one


@dataclass(slots=True)
class DemoRun:
    closeout: CloseOut
    applied: ApplyResult
    preflight: Preflight | None
    balance_before: Decimal
    emulator_url: str
    qualtrics_url: str
    qualification_types: dict[str, str]  # role -> id created in the emulator


def _for_emulator(settings: Settings, url: str, qualtrics_url: str, hit_ids: list[str], out: Path,
                  quals: dict[str, str]) -> Settings:
    """The sample config pointed at both emulators' APIs, writing into `out`."""
    name = settings.wave.name
    return settings.model_copy(update={
        "qualtrics": settings.qualtrics.model_copy(
            update={"csv": None, "survey_id": DEMO_SURVEY_ID, "base_url": qualtrics_url}),
        "mturk": settings.mturk.model_copy(update={"csv": None, "hit_ids": hit_ids, "environment": url}),
        "qualifications": settings.qualifications.model_copy(update=quals),
        "output": settings.output.model_copy(update={
            "workbook": (out / f"{name}-reconciliation.xlsx").resolve(),
            "ledger": (out / f"{name}.ledger.sqlite").resolve(),
        }),
    })


def run_demo(settings: Settings, survey_csv: Path, batch_csv: Path, out: Path, now: datetime, *,
             progress: Progress | None = None) -> DemoRun:
    """Serve fresh emulators seeded with `survey_csv` (Qualtrics) and `batch_csv` (MTurk),
    create the qualification types the config names (a fresh emulator has none; their ids
    are the emulator's), pull both sides through the APIs, close out and apply with `--yes`
    semantics. The ledger is new each run, so money always moves."""
    from bridge.panels.mturk.emulator import MTurkEmulator
    from bridge.emulator.qualtrics import QualtricsEmulator

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ledger = out / f"{settings.wave.name}.ledger.sqlite"
    for stale in (ledger, ledger.with_name(ledger.name + "-wal"), ledger.with_name(ledger.name + "-shm")):
        stale.unlink(missing_ok=True)

    qualtrics = QualtricsEmulator(token=DEMO_TOKEN)
    qualtrics.add_survey(DEMO_SURVEY_ID, survey_csv)
    with MTurkEmulator() as emu, qualtrics:
        emu.seed_batch(batch_csv)
        hit_ids = sorted(emu.state.hits)
        market = connect(emu.url)
        quals = {}
        for role in QUALIFICATION_NAMES:
            if getattr(settings.qualifications, role):
                created = market.client.create_qualification_type(
                    Name=f"{QUALIFICATION_NAMES[role]} ({settings.wave.name})",
                    Description=f"Took part in {settings.wave.name}" if role == "prev_worker"
                    else f"Invited back after {settings.wave.name}",
                    QualificationTypeStatus="Active",
                )
                quals[role] = created["QualificationType"]["QualificationTypeId"]
        demo_settings = _for_emulator(settings, emu.url, qualtrics.url, hit_ids, out, quals)
        balance_before = market.account_balance()
        closeout = close_out(demo_settings, now, workbook=demo_settings.workbook_path,
                             env={"QUALTRICS_API_KEY": DEMO_TOKEN})
        seen: list[Preflight] = []

        def confirm(pre: Preflight) -> bool:  # --yes
            seen.append(pre)
            return True

        applied = apply_plan(closeout.plan, demo_settings, workbook=closeout.workbook, confirm=confirm,
                             progress=progress, market=market)
        return DemoRun(closeout, applied, seen[0] if seen else None, balance_before, emu.url, qualtrics.url, quals)
