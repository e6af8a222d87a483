"""The command line: a thin typer layer over the library.

Library code raises `bridge.errors.BridgeError`; here it becomes one message on stderr and
the exit code of SPEC §2 (1 input, 2 apply failures, 3 refused for safety). No tracebacks.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from bridge.config import load_config
from bridge.errors import BridgeError, InputError, SafetyRefusal
from bridge.redact import redact

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Help text names config keys such as [output] workbook: no markup may eat them.
    rich_markup_mode=None,
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
            typer.echo(f"survey-bridge: error: {redact(str(exc))}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            # Workbooks are moved into place whole and the ledger commits every step.
            typer.echo("survey-bridge: interrupted (Ctrl-C); nothing was left half-written and nothing done is sent "
                       "twice. Run the same command again to resume.", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:  # unexpected: still one message, no traceback
            if os.environ.get("SURVEY_BRIDGE_DEBUG"):
                raise
            typer.echo(
                f"survey-bridge: unexpected error: {type(exc).__name__}: {redact(str(exc))}. "
                "Set SURVEY_BRIDGE_DEBUG=1 to see where, and report it.",
                err=True,
            )
            raise typer.Exit(1) from None

    return wrapper


class _RedactingConsole(Console):
    """The console for everything the CLI prints: no markup (text such as `[output]` is
    kept), and no credential inside a URL (SPEC §10)."""

    def print(self, *objects, **kwargs) -> None:  # noqa: A003 - rich's name
        super().print(*(redact(o) if isinstance(o, str) else o for o in objects), **kwargs)


def _out() -> Console:
    return _RedactingConsole(highlight=False, soft_wrap=True, markup=False)


def _config(config: Path, *, workbook_arg: Optional[Path]):
    """The wave's config, with a message a person can act on for the usual mix-ups: a
    folder, a workbook given as the config (arguments swapped), a config given as the
    workbook."""
    if workbook_arg is not None and Path(workbook_arg).suffix.lower() == ".toml" and \
            Path(config).suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        raise InputError(f"the arguments are swapped: {workbook_arg} is the config and {config} the workbook. "
                         f"Run: survey-bridge apply {config} --config {workbook_arg}")
    if Path(config).is_dir():
        inside = sorted(p.name for p in Path(config).glob("*.toml"))
        hint = f" It holds {', '.join(inside[:3])}: give one of them." if inside else ""
        raise InputError(f"{config}: is a folder, not a config file.{hint}")
    if Path(config).suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        raise InputError(f"{config}: is a workbook, not a config (a .toml file)."
                         + (" Did you mean: survey-bridge apply WORKBOOK --config CONFIG.toml?" if workbook_arg is None
                            else ""))
    if workbook_arg is not None and Path(workbook_arg).suffix.lower() == ".toml":
        raise InputError(f"{workbook_arg}: is a config, not a workbook. "
                         "Run: survey-bridge apply WORKBOOK.xlsx --config CONFIG.toml")
    return load_config(config)


def _parse_now(now: Optional[str]) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    try:
        parsed = datetime.fromisoformat(now)
    except ValueError:
        raise InputError(f"--now {now!r} is not an ISO time such as 2026-11-22T15:00:00Z.") from None
    return parsed.replace(tzinfo=parsed.tzinfo or timezone.utc).astimezone(timezone.utc)


def print_summary(console: Console, closeout) -> None:
    """The close-out at a glance: one figure a line (the Summary sheet's own figures, so
    they agree with the workbook), then the warnings and where the workbook is."""
    from bridge.safety import is_safety_row
    from bridge.workbook.write import NOTHING_TO_DECIDE, summary_rows

    plan = closeout.plan
    rows, warnings = summary_rows(plan)
    cur, terms = plan.terms.currency, plan.terms
    shown = [
        terms.submissions_label, "Matched", "Near misses", "Unmatched", "Approve (to send)", "Reject (to send)",
        f"Approved (done on {terms.panel})", f"Rejected (done on {terms.panel})",
        "Review (a person decides)", f"Already decided on {terms.panel} (nothing sent)", NOTHING_TO_DECIDE,
        # SPEC §12: the gates on bulk harm, with their figures
        *(label for label, _ in rows if is_safety_row(label)),
        "Survey responses not matched", f"Bonus total ({cur})", f"{terms.panel} fees ({cur})", f"Total cost ({cur})",
        f"Spent so far ({cur})", f"Still to send ({cur})",
        f"Effective hourly wage ({cur})", f"Effective hourly wage before top-ups ({cur})",
        "Effective hourly wage and top-ups use",
    ]
    from bridge.closing import closing_rows

    shown += [label for label, _ in closing_rows(plan)]  # SPEC §9 steps this wave takes
    values = dict(rows)
    width = max(len(k) for k in shown)
    console.print(f"Wave {plan.wave} ({terms.panel}, as of {plan.now:%Y-%m-%d %H:%M} UTC)")
    for key in shown:
        if key in values:
            console.print(f"  {key:<{width}}  {values[key]}")
    for line in _sparkline(console, plan):
        console.print(line)
    for line in closeout.carried:
        console.print(f"edit kept: {line}")
    for w in warnings:
        console.print(f"warning: {w}")
    console.print(f"Workbook: {closeout.workbook}")
    if closeout.analysis is not None:
        console.print(f"Responses for analysis: {closeout.analysis}")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"survey-bridge {version('survey-bridge')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            typer.echo("survey-bridge (not installed: version unknown)")
        raise typer.Exit()


def _sparkline(console: Console, plan) -> list[str]:
    """The completion times as one line of blocks with the speed cut-offs marked beneath
    (SPEC §15); plain ASCII where the output cannot carry the blocks. Not indented: a
    picture, not a figure of the Summary."""
    from bridge.pictures import sparkline

    times = plan.pictures.times
    if times is None:
        return []
    encoding = (console.encoding or "").lower().replace("-", "")
    lines = sparkline(times, ascii_only=not encoding.startswith("utf"))
    label = f"Survey times ({sum(times.counts)} finished, matched): "
    return [label + lines[0], *(f"{'Too fast below:':<{len(label)}}" + line for line in lines[1:])]




@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Close out a wave of crowd work (Prolific or MTurk) recruited into a Qualtrics survey: match, decide, pay
    once, reconcile."""


# Short help: the command list shows each in full (click cuts a longer one with "...").
@app.command("close-out", short_help="Match, decide, write the workbook (a dry run unless --apply).")
@handles_errors
def close_out_cmd(
    config: Path = typer.Argument(..., help="The wave's TOML config (copy templates/study.toml for a Prolific "
                                             "study, templates/wave.toml for an MTurk wave)."),
    workbook: Optional[Path] = typer.Option(None, "--workbook", "-o", help="Write the workbook here instead of [output] workbook."),
    now: Optional[str] = typer.Option(None, help="Decide as of this UTC time (ISO 8601); default: now."),
    apply: bool = typer.Option(False, "--apply", help="Then apply the plan through the panel's API (asks first)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="With --apply: do not ask before spending."),
) -> None:
    """Pull both sides, match, decide and write the reconciliation workbook (a dry run unless --apply)."""
    from bridge.apply.run import ledger_view
    from bridge.closeout import close_out

    settings = _config(config, workbook_arg=None)
    result = close_out(settings, _parse_now(now), workbook=workbook, done=ledger_view(settings))
    console = _out()
    print_summary(console, result)
    if apply:
        _apply(console, settings, result.plan, result.workbook, yes)


@app.command("apply", short_help="Apply the Decisions sheet as a person edited it.")
@handles_errors
def apply_cmd(
    workbook: Path = typer.Argument(..., help="The wave's workbook, with the Decisions sheet as a person edited it."),
    config: Path = typer.Option(..., "--config", "-c", help="The wave's TOML config."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before spending."),
    now: Optional[str] = typer.Option(None, help="Decide as of this UTC time (ISO 8601); default: now."),
) -> None:
    """Apply the decisions as edited in the workbook's Decisions sheet (review rows are not sent)."""
    from bridge.apply import load_edited_plan

    settings = _config(config, workbook_arg=workbook)
    _say(f"reading {workbook} and the wave again…")
    edited = load_edited_plan(settings, workbook, _parse_now(now))
    console = _out()
    console.print(f"Edited rows: {len(edited.changes)}" + (f"; {edited.missing} row(s) missing from the sheet are not applied"
                                                          if edited.missing else ""))
    for line in edited.changes:
        console.print(f"  {line}")
    if edited.since:
        console.print(f"Rows that show otherwise than the rules decide now (applied as the workbook shows): "
                      f"{len(edited.since)}")
        for line in edited.since:
            console.print(f"  {line}")
    for w in edited.plan.warnings:
        console.print(f"warning: {w}")
    _apply(console, settings, edited.plan, workbook, yes, read=edited.read)


def _say(line: str) -> None:
    """A line on stderr telling what the run is doing (before anything is sent)."""
    typer.echo(f"Applying: {line}", err=True)


def _apply(console: Console, settings, plan, workbook: Path, yes: bool, read=None) -> None:
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
        # Ctrl-C: exit 130 (handles_errors); the ledger holds what was sent, a re-run resumes.
        result = apply_plan(plan, settings, workbook=workbook, confirm=confirm, progress=progress, read=read,
                            say=_say)
    if not shown:  # nothing was asked: the preflight's warnings still matter
        for w in result.warnings:
            console.print(f"warning: {w}")
    if result.sent_now == 0 and not result.found:
        console.print("Nothing to send: every action is already done (per the ledger).")
    else:
        console.print(result.sent_line())
        if result.found:
            console.print(result.found_line())
    console.print(result.summary_line())
    if result.cost_check:
        console.print(result.cost_check)
    if result.cost_warning:
        console.print(f"warning: {result.cost_warning}")
    if not result.workbook_error and not result.workbook_refused:
        console.print(f"Workbook (with the Log): {result.workbook}")
    result.raise_for_failures()


def _can_ask() -> bool:
    return sys.stdin.isatty()


PROGRESS_EVERY = 5.0  # seconds between progress lines when output is not a terminal


def _progress_lines(every: float = PROGRESS_EVERY):
    """A progress callback for a run under a scheduler or with output redirected: a line on
    stderr every few seconds (done / total / what), and the last one."""
    last = [0.0]

    def update(done: int, total: int, label: str) -> None:
        now = time.monotonic()
        if now - last[0] >= every or done == total:
            last[0] = now
            typer.echo(f"Applying: {done}/{total} done ({label})", err=True)

    return update


@contextmanager
def _progress_bar(console: Console):
    """A progress callback that draws a rich bar on a terminal (started on first use, so
    the confirmation prompt comes first), or prints a line every few seconds otherwise."""
    if not sys.stdout.isatty():
        yield _progress_lines()
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


@app.command(short_help="A sample wave end to end against the emulators, offline.")
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
    if run.applied.cost_check:
        console.print(run.applied.cost_check)
    after, cur = run.applied.balance, run.closeout.plan.terms.currency
    if after is not None:
        console.print(f"Emulator balance: {run.balance_before:.2f} -> {after:.2f} {cur}")
    if not run.applied.workbook_error:
        console.print(f"Workbook (with the Log): {run.applied.workbook}")
    run.applied.raise_for_failures()


@app.command(short_help="Serve the MTurk, Qualtrics and Prolific emulators locally.")
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
    prolific_pay_delay: float = typer.Option(0.2, help="Seconds before a Prolific bulk approval or bonus payment shows "
                                                       "on the submissions (Prolific pays \"in the following "
                                                       "minutes\")."),
    now: Optional[str] = typer.Option(None, help="Run the MTurk emulator as of this UTC time (ISO 8601): its clock "
                                                 "starts there and runs on, so an old batch behaves as on its day."),
) -> None:
    """Serve the local MTurk emulator (URL on the first line), the Qualtrics emulator
    (`qualtrics: URL` on the second) and the Prolific emulator (`prolific: URL` on the third)
    on 127.0.0.1 until Ctrl-C or SIGTERM. The fault options apply to all three."""
    from bridge.serve import serve

    serve(
        port=port, seed_batch=seed_batch, balance=balance, latency_ms=latency_ms, rate_limit=rate_limit,
        fail_rate=fail_rate, seed_surveys=seed_survey, qualtrics_token=qualtrics_token,
        seed_prolific=seed_prolific, prolific_balance=prolific_workspace_balance, prolific_token=prolific_token,
        prolific_pay_delay=prolific_pay_delay, now=_parse_now(now) if now is not None else None,
    )


qualifications_app = typer.Typer(no_args_is_help=True, help="Qualifications (participant groups) across waves.")
app.add_typer(qualifications_app, name="qualifications")


@qualifications_app.command("diff")
@handles_errors
def qualifications_diff_cmd(
    group_id: str = typer.Argument(..., metavar="QUAL_TYPE_ID",
                                   help="The qualification type (Prolific: participant group) to compare."),
    config: Path = typer.Option(..., "--config", "-c", help="The wave's TOML config."),
    now: Optional[str] = typer.Option(None, help="Plan as of this UTC time (ISO 8601); default: now."),
) -> None:
    """Who holds a qualification now versus the close-out's plan: to grant, to revoke, already held, held but not
    in this wave. Nothing is sent."""
    from bridge.apply.holders import qualification_diff, table

    settings = _config(config, workbook_arg=None)
    plan, rows, where = qualification_diff(settings, group_id, _parse_now(now))
    console = _out()
    console.print(f"{plan.terms.group_word.capitalize()} {group_id} in {where}, against wave {plan.wave}'s plan")
    for line in table(rows, plan.terms.columns.participant):
        console.print(line)


ledger_app = typer.Typer(no_args_is_help=True, help="The ledger: what was sent, for every study (SPEC 13).")
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("copy")
@handles_errors
def ledger_copy_cmd(
    source: str = typer.Argument(..., metavar="SRC", help="A ledger file (SQLite) or postgresql://HOST:PORT/DB."),
    destination: str = typer.Argument(..., metavar="DST", help="A ledger file (SQLite) or postgresql://HOST:PORT/DB "
                                                               "(created if need be)."),
) -> None:
    """Copy every record of one ledger into another (SQLite to the lab's shared PostgreSQL ledger, or back). A
    record both hold keeps the one that says more about money. User and password come from PGUSER and PGPASSWORD
    or ~/.pgpass, never from the URL."""
    from bridge.ledger import copy_ledger, shown

    copied = copy_ledger(source, destination)
    _out().print(f"Copied {shown(source)} into {shown(destination)}: {copied.rows} record(s); {copied.added} added, "
                 f"{copied.replaced} replaced, {copied.kept} kept as they were.")


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
