"""`survey-bridge emulator`: serve the MTurk, Qualtrics and Prolific emulators until stopped."""

from __future__ import annotations

import math
import os
import sys
from datetime import datetime
from typing import TextIO

from bridge.emulator.qualtrics import QualtricsEmulator, add_cli_surveys
from bridge.errors import InputError
from bridge.panels.mturk.emulator import (
    DEFAULT_BALANCE,
    MTurkEmulator,
    parse_balance,
    starting_at,
    wait_for_stop_signal,
)
from bridge.panels.prolific.emulator import DEFAULT_BALANCE as PROLIFIC_BALANCE
from bridge.panels.prolific.emulator import DEFAULT_ASYNC_DELAY, ProlificEmulator, add_cli_exports


def serve(
    *,
    port: int = 0,
    seed_batch: str | os.PathLike[str] | None = None,
    balance: str = str(DEFAULT_BALANCE),
    latency_ms: float = 0.0,
    rate_limit: float | None = None,
    fail_rate: float = 0.0,
    seed_surveys: list[str] | None = None,
    qualtrics_token: str = "test-token",
    seed_prolific: list[str] | None = None,
    prolific_balance: str = str(PROLIFIC_BALANCE),
    prolific_token: str = "test-token",
    prolific_pay_delay: float = DEFAULT_ASYNC_DELAY,
    out: TextIO | None = None,
    now: datetime | None = None,
) -> int:
    """Print the MTurk endpoint URL as the first line, `qualtrics: URL` as the second and
    `prolific: URL` as the third, then serve all three until SIGINT/SIGTERM. The fault
    options apply to every emulator. `now` runs the MTurk emulator as of that time (its
    clock starts there and advances with real time). `prolific_pay_delay`: seconds before a
    Prolific bulk approval or bonus payment shows on the submissions, as Prolific pays "in
    the following minutes" (SPEC 13). Bad options raise InputError before printing."""
    out = out if out is not None else sys.stdout
    try:
        amount = parse_balance(balance)
    except ValueError:
        raise InputError(f"--balance {balance!r} is not an amount such as 10000.00 (zero or more).") from None
    try:
        prolific_amount = parse_balance(prolific_balance)
    except ValueError:
        raise InputError(f"--prolific-workspace-balance {prolific_balance!r} is not an amount such as 10000.00 "
                         "(zero or more).") from None
    if not (math.isfinite(prolific_pay_delay) and prolific_pay_delay >= 0):
        raise InputError(f"--prolific-pay-delay {prolific_pay_delay!r} must be a number of seconds, 0 or more.")
    try:
        mturk = MTurkEmulator(amount, latency_ms=latency_ms, rate_limit=rate_limit, fail_rate=fail_rate,
                              clock=starting_at(now) if now is not None else None)
        qualtrics = QualtricsEmulator(
            token=qualtrics_token, latency_ms=latency_ms, rate_limit=rate_limit, fail_rate=fail_rate
        )
        prolific = ProlificEmulator(
            prolific_amount, token=prolific_token, latency_ms=latency_ms, rate_limit=rate_limit, fail_rate=fail_rate,
            async_delay=prolific_pay_delay,
        )
    except ValueError as exc:
        raise InputError(f"emulator options: {exc}.") from None
    if seed_batch is not None:
        mturk.seed_batch(seed_batch)
    add_cli_surveys(qualtrics, seed_surveys or [])
    try:
        add_cli_exports(prolific, seed_prolific or [])
    except NotImplementedError as exc:  # until the export reader is wired in (ProlificEmulator.seed_export)
        raise InputError(f"--seed-prolific: {exc}.") from None
    try:
        mturk_server = mturk.serve(port).start()
    except OSError as exc:
        raise InputError(f"--port {port}: cannot listen on 127.0.0.1 ({exc.strerror}). Pick another port or 0.") from None
    qualtrics_server = qualtrics.serve(0).start()
    prolific_server = prolific.serve(0).start()
    try:
        print(mturk_server.url, file=out, flush=True)
        print(f"qualtrics: {qualtrics_server.url}", file=out, flush=True)
        print(f"prolific: {prolific_server.url}", file=out, flush=True)
        wait_for_stop_signal()
    finally:
        mturk_server.stop()
        qualtrics_server.stop()
        prolific_server.stop()
    return 0
