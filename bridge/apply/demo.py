"""The offline demo: a sample wave pulled through the emulators' APIs, closed out, and
applied (`--apply --yes`) against the local emulator of its panel.

MTurk: `sample_data/wave.toml` on the Qualtrics and MTurk emulators. Prolific:
`sample_data/prolific/study.toml` on the Qualtrics and Prolific emulators. Both run as of
the sample's own day (`SAMPLE_NOW`), so the sample's auto-approval times lie ahead, as
they did for the lab that ran it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from bridge.apply.executor import Progress
from bridge.apply.run import ApplyResult, Preflight, apply_plan
from bridge.closeout import CloseOut, close_out
from bridge.config import Settings

SAMPLE_NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
QUALIFICATION_NAMES = {"prev_worker": "Prev_Worker", "eligible_worker": "Eligible_Worker"}
DEMO_SURVEY_ID = "SV_sampleWave01"
DEMO_TOKEN = "demo-token"  # the emulators'; never a real one


@dataclass(slots=True)
class DemoRun:
    closeout: CloseOut
    applied: ApplyResult
    preflight: Preflight | None
    balance_before: Decimal
    emulator_url: str
    qualtrics_url: str
    groups: dict[str, str]  # role -> qualification type / participant group created in the emulator
    panel: str = "MTurk"


@dataclass(slots=True)
class _Stage:
    """A panel's emulator ready for the demo: the config aimed at it and how to read it."""

    settings: Settings
    url: str
    groups: dict[str, str]
    balance: Callable[[], Decimal]
    env: dict[str, str]


def _output(settings: Settings, out: Path) -> dict:
    """The demo's workbook and ledger in `out`. Its emulator is new and nobody else applies
    to it, so work the sample has as decided (approved before the sample's day) needs no
    settle window before its bonus is paid (SPEC 13; the window guards real studies)."""
    name = settings.wave.name
    return {"output": settings.output.model_copy(update={
        "workbook": (out / f"{name}-reconciliation.xlsx").resolve(),
        "ledger": str((out / f"{name}.ledger.sqlite").resolve()),
    }), "safety": settings.safety.model_copy(update={"settle_minutes": 0})}


def _groups(settings: Settings, create: Callable[[str, str], str]) -> dict[str, str]:
    """The qualification types / participant groups the config names, made in the emulator
    (a fresh emulator has none; their ids are the emulator's)."""
    return {role: create(role, f"{QUALIFICATION_NAMES[role]} ({settings.wave.name})")
            for role in QUALIFICATION_NAMES if getattr(settings.qualifications, role)}


@contextmanager
def _mturk(settings: Settings, qualtrics: dict, out: Path) -> Iterator[_Stage]:
    from bridge.panels.mturk.adapter import connect
    from bridge.panels.mturk.emulator import MTurkEmulator, starting_at

    with MTurkEmulator(clock=starting_at(SAMPLE_NOW)) as emu:
        emu.seed_batch(settings.resolve(settings.mturk.csv))
        market = connect(emu.url)

        def create(role: str, name: str) -> str:
            return market.client.create_qualification_type(
                Name=name, Description=name, QualificationTypeStatus="Active")["QualificationType"]["QualificationTypeId"]

        groups = _groups(settings, create)
        aimed = settings.model_copy(update={
            **qualtrics, **_output(settings, out),
            "mturk": settings.mturk.model_copy(update={"csv": None, "hit_ids": sorted(emu.state.hits),
                                                       "environment": emu.url}),
            "qualifications": settings.qualifications.model_copy(update=groups),
        })
        yield _Stage(aimed, emu.url, groups, market.account_balance, {})


@contextmanager
def _prolific(settings: Settings, qualtrics: dict, out: Path) -> Iterator[_Stage]:
    from bridge.panels.prolific.emulator import ProlificEmulator
    from bridge.panels.prolific.reader import study_id_from_name

    p = settings.prolific
    study_id = p.study_id or study_id_from_name(p.csv) or "0" * 24
    codes = {code: {"completed": "COMPLETED", "failed_check": "FAILED_ATTENTION_CHECK"}[outcome]
             for code, outcome in p.completion_codes.items()}
    emu = ProlificEmulator(token=DEMO_TOKEN, currency=settings.wave.currency or "GBP", fee_rate=p.fee_rate,
                           vat_rate=p.vat_rate)
    with emu:
        emu.seed_export(study_id, settings.resolve(p.csv), reward=settings.wave.reward or "1.50",
                        completion_codes=codes)
        groups = _groups(settings, lambda role, name: emu.add_group(name))
        aimed = settings.model_copy(update={
            **qualtrics, **_output(settings, out),
            "prolific": p.model_copy(update={"csv": None, "study_id": study_id, "environment": emu.url}),
            "qualifications": settings.qualifications.model_copy(update=groups),
        })
        yield _Stage(aimed, emu.url, groups, lambda: emu.available_balance, {"PROLIFIC_API_TOKEN": DEMO_TOKEN})


_STAGES = {"mturk": _mturk, "prolific": _prolific}


def run_demo(settings: Settings, out: Path, *, progress: Progress | None = None) -> DemoRun:
    """Serve fresh emulators seeded with the sample (the survey CSV and the panel's file),
    pull both sides through their APIs, close out and apply with `--yes` semantics. The
    ledger is new each run, so money always moves."""
    from bridge.emulator.qualtrics import QualtricsEmulator

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ledger = out / f"{settings.wave.name}.ledger.sqlite"
    for stale in (ledger, *(ledger.with_name(ledger.name + s) for s in ("-wal", "-shm", ".lock"))):
        stale.unlink(missing_ok=True)

    with ExitStack() as stack:
        qualtrics = QualtricsEmulator(token=DEMO_TOKEN)
        qualtrics.add_survey(DEMO_SURVEY_ID, settings.survey.csv)  # a sample's Qualtrics export
        stack.enter_context(qualtrics)
        section = "qualtrics" if settings.qualtrics is not None else "survey_section"
        aim = {section: getattr(settings, section).model_copy(
            update={"csv": None, "survey_id": DEMO_SURVEY_ID, "base_url": qualtrics.url})}
        stage = stack.enter_context(_STAGES[settings.wave.platform](settings, aim, out))
        env = {"QUALTRICS_API_KEY": DEMO_TOKEN, **stage.env}
        balance_before = stage.balance()
        closeout = close_out(stage.settings, SAMPLE_NOW, workbook=stage.settings.workbook_path, env=env)
        seen: list[Preflight] = []

        def confirm(pre: Preflight) -> bool:  # --yes
            seen.append(pre)
            return True

        applied = apply_plan(closeout.plan, stage.settings, workbook=closeout.workbook, confirm=confirm,
                             progress=progress, env=env)
        return DemoRun(closeout, applied, seen[0] if seen else None, balance_before, stage.url, qualtrics.url,
                       stage.groups, settings.panel.name)
