"""Helpers for the Prolific API source and adapter tests: an emulator whose faults are
scripted per endpoint and whose submission list can misbehave as autora reported, the
adapter aimed at it with short waits, and an export CSV written in Prolific's real format."""

from __future__ import annotations

import csv
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from bridge.actions import Action, Kind
from bridge.emulator.base import Fault, Faults
from bridge.ledger import open_ledger
from bridge.panels.prolific.adapter import ProlificMarketplace, connect
from bridge.panels.prolific.emulator import ProlificEmulator
from bridge.panels.prolific.http import ProlificHttp

TOKEN = "test-token"  # the emulator's
ENV = {"PROLIFIC_API_TOKEN": TOKEN}
START = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
# A rejection message long enough for Prolific (>= 100 characters, FACTS 1.6).
REJECTION = ("We could not find a survey response for this submission, so we cannot approve it. Please contact us "
             "if you believe this is a mistake.")
# The export's columns (FACTS §3), demographics after `Total approvals`.
EXPORT_HEADER = ["Submission id", "Participant id", "Status", "Custom study tncs accepted at", "Started at",
                 "Completed at", "Reviewed at", "Archived at", "Time taken", "Completion code", "Total approvals",
                 "Fluent languages", "Age", "Sex", "Country of residence"]


def pid(n: int) -> str:
    return f"5f{n:022x}"


def sid(n: int) -> str:
    return f"67{n:022x}"


class RoutedFaults(Faults):
    """Faults scripted per operationId (the emulator sets `local.route` before deciding)."""

    def __init__(self) -> None:
        super().__init__()
        self.script: dict[str, list[Fault]] = defaultdict(list)
        self.always: dict[str, Fault] = {}
        self.slow: dict[str, float] = {}  # seconds before answering, by operationId
        self.local = threading.local()
        self._script_lock = threading.Lock()

    def decide(self) -> Fault:
        route = getattr(self.local, "route", None)
        if route in self.slow:
            time.sleep(self.slow[route])
        with self._script_lock:
            if route in self.always:
                return self.always[route]
            if self.script.get(route):
                return self.script[route].pop(0)
        return Fault.NONE


class FaultyEmulator(ProlificEmulator):
    """The emulator with per-endpoint faults (`faults.script["pay-bonus-payments"] = [...]`)
    and, with `quirks`, a submission list that repeats itself (FACTS 1.4 [AUT]): `overlap`
    repeats page 1's last item at the top of page 2; `lose` replaces page 2's first item
    with it (so one submission is never listed); `loop` points the last page's `next` at
    itself."""

    def __init__(self, *args, quirks: set[str] = frozenset(), **kwargs):
        super().__init__(*args, **kwargs)
        self.faults = RoutedFaults()
        self.quirks = set(quirks)
        self._page1_last: dict | None = None

    def _answer(self, route, params, method, path, query, headers, body):
        self.faults.local.route = route.name
        try:
            status, answer = super()._answer(route, params, method, path, query, headers, body)
        finally:
            self.faults.local.route = None
        if route.name == "get-submissions" and status == 200 and self.quirks:
            answer = self._quirk(dict(query), answer)
        return status, answer

    def _quirk(self, query: dict, answer: dict) -> dict:
        page = int(query.get("page", 1))
        results = list(answer["results"])
        if page == 1 and results:
            self._page1_last = results[-1]
        elif page == 2 and self._page1_last is not None:
            if "overlap" in self.quirks:
                results = [self._page1_last] + results
            if "lose" in self.quirks:
                results = [self._page1_last] + results[1:]
        links = dict(answer["_links"])
        if "loop" in self.quirks and links["next"]["href"] is None:
            links["next"] = {"href": links["self"]["href"], "title": "Next"}
        return {**answer, "results": results, "_links": links}


def ledger_at(path, market: ProlificMarketplace, wave: str = "wave-1", **kwargs):
    """The ledger at `path` for the market's study, as an apply opens it."""
    return open_ledger(path, panel=market.panel, environment=market.environment, tasks=[market.study_id], wave=wave,
                       **kwargs)


def fast_http(url: str, token: str = TOKEN, **kwargs) -> ProlificHttp:
    kwargs.setdefault("backoff", 0.001)
    return ProlificHttp(url, token, **kwargs)


def settings_for(url: str, study_id: str | None, *, csv_path: str | None = None, workspace_id: str | None = None):
    """The part of Settings the adapter reads."""
    return SimpleNamespace(prolific=SimpleNamespace(study_id=study_id, csv=csv_path, environment=url,
                                                    workspace_id=workspace_id))


def market_for(emu: ProlificEmulator, study_id: str, **options) -> ProlificMarketplace:
    """The adapter for `study_id` on `emu`, with short waits (tests stay fast)."""
    options.setdefault("settle_seconds", 1.0)
    options.setdefault("confirm_seconds", 5.0)
    options.setdefault("poll_first", 0.05)
    options.setdefault("poll_max", 0.2)
    options.setdefault("http", fast_http(emu.url))
    return connect(settings_for(emu.url, study_id), ENV, **options)


def seed(emu: ProlificEmulator, n: int, *, status: str = "AWAITING REVIEW", reward: str = "1.50",
         study_id: str | None = None, first: int = 0) -> tuple[str, list[str]]:
    """A study (made unless given) with `n` submissions of participants pid(first..)."""
    study_id = study_id or emu.add_study(reward=reward, completion_codes={"C1A2B3C4": "COMPLETED"})
    subs = [emu.add_submission(study_id, pid(i), status, entered_code="C1A2B3C4", time_taken=600 + i,
                               started_at=START + timedelta(seconds=i)) for i in range(first, first + n)]
    return study_id, subs


def approvals(study_id: str, subs: list[str], first: int = 0) -> list[Action]:
    return [Action(Kind.APPROVE, s, pid(first + i), study_id) for i, s in enumerate(subs)]


def bonuses(study_id: str, subs: list[str], amount: str = "0.75", first: int = 0) -> list[Action]:
    return [Action(Kind.BONUS, s, pid(first + i), study_id, amount=Decimal(amount), text="performance")
            for i, s in enumerate(subs)]


def iso(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if when else ""


def write_export(path: Path, rows: list[dict]) -> Path:
    """An export CSV in the real format (FACTS §3) from rows with keys id, participant,
    status, started, completed, reviewed, taken, code."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(EXPORT_HEADER)
        for r in rows:
            out.writerow([r["id"], r["participant"], r["status"], "Not Applicable", iso(r["started"]),
                          iso(r["completed"]), iso(r["reviewed"]), iso(r["reviewed"]),
                          "" if r["taken"] is None else r["taken"], r["code"] or "", 3, "English, French", 31,
                          "Female", "United Kingdom"])
    return path
