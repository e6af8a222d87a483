"""The command line: a thin typer layer over the library.

Library code raises `bridge.errors.BridgeError`; here it becomes one message on stderr and
the exit code of SPEC §2 (1 input, 2 apply failures, 3 refused for safety). No tracebacks.
"""

from __future__ import annotations

import functools
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from bridge.config import load_config
from bridge.errors import BridgeError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Close out an MTurk wave recruited into a Qualtrics survey: match, decide, pay once, reconcile.",
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
    return Console(highlight=False, soft_wrap=True)


def _parse_now(now: Optional[str]) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    try:
        parsed = datetime.fromisoformat(now)
    except ValueError:
        raise BridgeError(f"--now {now!r} is not an ISO time such as 2026-11-22T15:00:00Z.") from None
    return parsed.replace(tzinfo=parsed.tzinfo or timezone.utc).astimezone(timezone.utc)


def print_summary(console: Console, closeout) -> None:
    from bridge.report import summary_rows

    rows, warnings = summary_rows(closeout.plan)
    shown = {
        "Submissions (assignments)", "Matched", "Near misses", "Unmatched", "Approve", "Reject", "Review",
        "Survey responses not matched", "Bonus total (USD)", "MTurk fees (USD)", "Total cost (USD)",
        "Effective hourly wage (USD)",
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
) -> None:
    """Pull both sides, match, decide and write the reconciliation workbook (a dry run: no money moves)."""
    from bridge.closeout import close_out

    settings = load_config(config)
    result = close_out(settings, _parse_now(now), workbook=workbook)
    print_summary(_out(), result)


@app.command()
@handles_errors
def demo(
    out: Path = typer.Option(Path("sample_data/out"), help="Folder for the demo's workbook."),
) -> None:
    """Run the sample wave in sample_data/ end to end and print where the workbook is."""
    from bridge.closeout import close_out

    config = _sample_config()
    settings = load_config(config)
    result = close_out(settings, _parse_now(None), workbook=out / f"{settings.wave.name}-reconciliation.xlsx")
    print_summary(_out(), result)


@app.command()
@handles_errors
def emulator(
    port: int = typer.Option(0, help="Port on 127.0.0.1 for the MTurk emulator (0: any free port)."),
    seed_batch: Optional[Path] = typer.Option(None, help="Load the HITs and assignments of a batch-results CSV."),
    balance: str = typer.Option("10000.00", help="Account balance in USD."),
    latency_ms: float = typer.Option(0.0, help="Delay every answer by this many milliseconds."),
    rate_limit: Optional[float] = typer.Option(None, help="Answer ThrottlingException above this many requests/s."),
    fail_rate: float = typer.Option(0.0, help="Answer a 5xx ServiceFault to this share of calls (half after the change)."),
    seed_survey: list[str] = typer.Option([], help="SV_ID=FILE.csv: serve that export from the Qualtrics emulator."),
    qualtrics_token: str = typer.Option("test-token", help="The X-API-TOKEN the Qualtrics emulator accepts."),
) -> None:
    """Serve the local MTurk emulator (URL on the first line) and the Qualtrics emulator
    (`qualtrics: URL` on the second) on 127.0.0.1 until Ctrl-C or SIGTERM."""
    from bridge.emulator.serve import serve

    serve(
        port=port, seed_batch=seed_batch, balance=balance, latency_ms=latency_ms, rate_limit=rate_limit,
        fail_rate=fail_rate, seed_surveys=seed_survey, qualtrics_token=qualtrics_token,
    )


def _sample_config() -> Path:
    here = Path(__file__).resolve().parent.parent / "sample_data" / "wave.toml"
    if here.exists():
        return here
    cwd = Path("sample_data") / "wave.toml"
    if cwd.exists():
        return cwd
    raise BridgeError("sample_data/wave.toml not found: run the demo from the project folder.")


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
