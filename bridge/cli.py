"""The command line: a thin typer layer over the library.

Library code raises `bridge.errors.BridgeError`; here it becomes one message on stderr and
the exit code of SPEC §2 (1 input, 2 apply failures, 3 refused for safety). No tracebacks.
"""

from __future__ import annotations

import functools
import os
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from bridge.config import load_config
from bridge.errors import ApplyError, BridgeError, InputError, SafetyRefusal

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Close out a wave of crowd work (Prolific or MTurk) recruited into a Qualtrics survey: match, decide, "
         "pay once, reconcile.",
)


def handles_errors(command):
    """Turn the project's errors into one message on stderr and the SPEC's exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except BridgeError as exc:
            typer.echo(f"survey-bridge: error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            # Workbooks are moved into place whole and the ledger commits every step.
            typer.echo("survey-bridge: interrupted; nothing was left half-written. Run the command again.", err=True)
            raise typer.Exit(1) from None
        except Exception as exc:  # unexpected: still one message, no traceback
            if os.environ.get("SURVEY_BRIDGE_DEBUG"):
                raise
            typer.echo(
                f"survey-bridge: unexpected error: {type(exc).__name__}: {exc}. "
                "Set SURVEY_BRIDGE_DEBUG=1 to see where, and report it.",
                err=True,
            )
            raise typer.Exit(1) from None

    return wrapper


def _out() -> Console:
    return Console(highlight=False, soft_wrap=True, markup=False)


def _parse_now(now: Optional[str]) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    try:
        parsed = datetime.fromisoformat(now)
    except ValueError:
        raise InputError(f"--now {now!r} is not an ISO time such as 2026-11-22T15:00:00Z.") from None
    return parsed.replace(tzinfo=parsed.tzinfo or timezone.utc).astimezone(timezone.utc)


def print_summary(console: Console, closeout) -> None:
    from bridge.report import summary_rows

    plan = closeout.plan
    rows, warnings = summary_rows(plan)
    cur, terms = plan.terms.currency, plan.terms
    shown = {
        terms.submissions_label, "Matched", "Near misses", "Unmatched", "Approve", "Reject", "Review",
        "Survey responses not matched", f"Bonus total ({cur})", f"{terms.panel} fees ({cur})", f"Total cost ({cur})",
        f"Effective hourly wage ({cur})",
    }
    console.print(f"Wave {closeout.plan.wave}: " + ", ".join(f"{k} {v}" for k, v in rows if k in shown))
    for w in warnings:
        console.print(f"warning: {w}")
    console.print(f"Workbook: {closeout.workbook}")


@app.command("close-out")
@handles_errors
def close_out_cmd(
    config: Path = typer.Argument(..., help="The wave's TOML config (copy templates/wave.toml)."),
    workbook: Optional[Path] = typer.Option(None, "--workbook", "-o", help="Write the workbook here instead of [output] workbook."),
    now: Optional[str] = typer.Option(None, help="Decide as of this UTC time (ISO 8601); default: now."),
    apply: bool = typer.Option(False, "--apply", help="Then apply the plan through the panel's API (asks first)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="With --apply: do not ask before spending."),
) -> None:
    """Pull both sides, match, decide and write the reconciliation workbook (a dry run unless --apply)."""
    from bridge.closeout import close_out

    settings = load_config(config)
    result = close_out(settings, _parse_now(now), workbook=workbook)
    console = _out()
    print_summary(console, result)
    if apply:
        _apply(console, settings, result.plan, result.workbook, yes)


@app.command("apply")
@handles_errors
def apply_cmd(
    workbook: Path = typer.Argument(..., help="The wave's workbook, with the Decisions sheet as a person edited it."),
    config: Path = typer.Option(..., "--config", "-c", help="The wave's TOML config."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before spending."),
    now: Optional[str] = typer.Option(None, help="Decide as of this UTC time (ISO 8601); default: now."),
) -> None:
    """Apply the decisions as edited in the workbook's Decisions sheet (review rows are not sent)."""
    from bridge.apply import load_edited_plan

    settings = load_config(config)
    edited = load_edited_plan(settings, workbook, _parse_now(now))
    console = _out()
    console.print(f"Edited rows: {len(edited.changes)}" + (f"; {edited.missing} row(s) missing from the sheet are not applied"
                                                          if edited.missing else ""))
    for line in edited.changes:
        console.print(f"  {line}")
    for w in edited.plan.warnings:
        console.print(f"warning: {w}")
    _apply(console, settings, edited.plan, workbook, yes)


def _apply(console: Console, settings, plan, workbook: Path, yes: bool) -> None:
    """Confirm, apply with a progress bar on a terminal, print the closing line; exit 2 on failures."""
    from bridge.apply import apply_plan

    panel = settings.panel
    environment = panel.canonical_environment(plan.environment)
    if not yes and not _can_ask():
        # Refused before any client exists: nothing is contacted, nothing is sent.
        where = panel.describe_environment(environment if environment == "production" else plan.environment)
        where += " (real money)" if environment == "production" else ""
        raise SafetyRefusal(f"Applying to {where} needs a confirmation and there is no terminal to ask on. "
                            "Pass --yes to apply without asking. Nothing was sent.")
    shown = []

    def confirm(pre) -> bool:
        shown.append(pre)
        for line in pre.lines():
            console.print(line)
        if yes:
            return True
        where = pre.where + (" (REAL MONEY)" if pre.environment == "production" else "")
        try:
            return typer.confirm(f"Send this to {where}?", default=False)
        except (typer.Abort, EOFError, KeyboardInterrupt):  # Ctrl-C or end of input at the prompt
            raise SafetyRefusal("Not confirmed; nothing was sent.") from None

    with _progress_bar(console) as progress:
        try:
            result = apply_plan(plan, settings, workbook=workbook, confirm=confirm, progress=progress)
        except KeyboardInterrupt:
            raise ApplyError("Interrupted. What was sent is in the ledger; run the same command again to resume.") from None
    if not shown:  # nothing was asked: the preflight's warnings still matter
        for w in result.warnings:
            console.print(f"warning: {w}")
    if result.sent_now == 0:
        console.print("Nothing to send: every action is already done (per the ledger).")
    console.print(result.summary_line())
    if not result.workbook_error:
        console.print(f"Workbook (with the Log): {result.workbook}")
    result.raise_for_failures()


def _can_ask() -> bool:
    return sys.stdin.isatty()


@contextmanager
def _progress_bar(console: Console):
    """A progress callback that draws a rich bar on a terminal (started on first use, so
    the confirmation prompt comes first), or None when stdout is not a terminal."""
    if not sys.stdout.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("Applying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   TextColumn("{task.description}"), console=console, transient=True)
    task = None

    def update(done: int, total: int, label: str) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task(label, total=total)
        bar.update(task, completed=done, total=total, description=label)

    try:
        yield update
    finally:
        if task is not None:
            bar.stop()


@app.command()
@handles_errors
def demo(
    platform: str = typer.Option("mturk", help="Which sample to run: mturk (the sample wave) or prolific (the "
                                              "sample study)."),
    out: Path = typer.Option(Path("sample_data/out"), help="Folder for the demo's workbook and ledger."),
) -> None:
    """Offline: close out a sample wave and apply it (--apply --yes) against the local emulators."""
    from bridge.apply.demo import run_demo

    settings = load_config(_sample_config(platform))
    console = _out()
    with _progress_bar(console) as progress:
        run = run_demo(settings, out, progress=progress)
    console.print(f"{run.panel} demo, as of the sample's day ({run.closeout.plan.now:%Y-%m-%d %H:%M} UTC).")
    console.print(f"Pulled both sides through the APIs: {run.closeout.survey.source}; "
                  f"{run.closeout.submissions.source}")
    print_summary(console, run.closeout)
    console.print(f"{run.panel} emulator at {run.emulator_url} ({run.closeout.plan.terms.group_word}s created: "
                  + ", ".join(f"{role} {gid}" for role, gid in run.groups.items()) + ")")
    if run.preflight is not None:
        for line in run.preflight.lines():
            console.print(line)
    console.print(run.applied.summary_line())
    after, cur = run.applied.balance, run.closeout.plan.terms.currency
    if after is not None:
        console.print(f"Emulator balance: {run.balance_before:.2f} -> {after:.2f} {cur}")
    if not run.applied.workbook_error:
        console.print(f"Workbook (with the Log): {run.applied.workbook}")
    run.applied.raise_for_failures()


@app.command()
@handles_errors
def emulator(
    port: int = typer.Option(0, help="Port on 127.0.0.1 for the MTurk emulator (0: any free port)."),
    seed_batch: Optional[Path] = typer.Option(None, help="Load the HITs and assignments of a batch-results CSV."),
    balance: str = typer.Option("10000.00", help="Account balance in USD."),
    latency_ms: float = typer.Option(0.0, help="Delay every answer by this many milliseconds."),
    rate_limit: Optional[float] = typer.Option(None, help="Throttle (ThrottlingException, 429) above this many requests/s."),
    fail_rate: float = typer.Option(0.0, help="Answer a 5xx to this share of calls (half after the change)."),
    seed_survey: list[str] = typer.Option([], help="SV_ID=FILE.csv: serve that export from the Qualtrics emulator."),
    qualtrics_token: str = typer.Option("test-token", help="The X-API-TOKEN the Qualtrics emulator accepts."),
    seed_prolific: list[str] = typer.Option([], help="STUDY_ID=EXPORT.csv: serve that study from the Prolific emulator."),
    prolific_workspace_balance: str = typer.Option("10000.00", help="Prolific workspace balance (study currency)."),
    prolific_token: str = typer.Option("test-token", help="The API token (Authorization: Token ...) Prolific accepts."),
    now: Optional[str] = typer.Option(None, help="Run the MTurk emulator as of this UTC time (ISO 8601): its clock "
                                                 "starts there and runs on, so an old batch behaves as on its day."),
) -> None:
    """Serve the local MTurk emulator (URL on the first line), the Qualtrics emulator
    (`qualtrics: URL` on the second) and the Prolific emulator (`prolific: URL` on the third)
    on 127.0.0.1 until Ctrl-C or SIGTERM. The fault options apply to all three."""
    from bridge.emulator.serve import serve

    serve(
        port=port, seed_batch=seed_batch, balance=balance, latency_ms=latency_ms, rate_limit=rate_limit,
        fail_rate=fail_rate, seed_surveys=seed_survey, qualtrics_token=qualtrics_token,
        seed_prolific=seed_prolific, prolific_balance=prolific_workspace_balance, prolific_token=prolific_token,
        now=_parse_now(now) if now is not None else None,
    )


_SAMPLES = {"mturk": Path("sample_data") / "wave.toml", "prolific": Path("sample_data") / "prolific" / "study.toml"}


def _sample_config(platform: str) -> Path:
    if platform not in _SAMPLES:
        raise InputError(f"--platform {platform!r}: choose one of {', '.join(_SAMPLES)}.")
    for root in (Path(__file__).resolve().parent.parent, Path(".")):
        if (root / _SAMPLES[platform]).exists():
            return root / _SAMPLES[platform]
    raise InputError(f"{_SAMPLES[platform]} not found: run the demo from the project folder.")


def main() -> None:
    """Console-script entry. Usage errors exit 1 (bad input), not click's 2, which SPEC §2
    reserves for actions that failed while applying."""
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        sys.exit(1)
    except Exception as exc:
        # Usage errors (click's, or the copy typer vendors) know how to show themselves.
        if not (hasattr(exc, "show") and hasattr(exc, "exit_code")):
            raise
        exc.show()
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
