"""Crashes around Prolific's pay call, which pays again on every call (FACTS 1.8): a pay whose
answer is lost is settled from `bonus_payments`, a pay Prolific never saw stays pending for
a person, and a process killed mid-pay resumes without paying anyone twice."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from prolific_apply_support import TOKEN, bonuses, fast_http, ledger_at, market_for, seed

from bridge.apply.executor import Executor
from bridge.emulator.base import Fault
from bridge.ledger import open_ledger

REPO = Path(__file__).resolve().parents[2]


def run(market, ledger_path, actions):
    with ledger_at(ledger_path, market) as ledger:
        Executor(market, ledger).run(actions)
        return {e.submission_id: e for e in ledger.entries().values()}


def test_a_pay_whose_answer_was_lost_is_settled_as_done_and_never_paid_again(emu, tmp_path):
    study, subs = seed(emu, 3, status="APPROVED")
    emu.faults.script["pay-bonus-payments"] = [Fault.FAIL_AFTER]  # paid, then a 502
    market = market_for(emu, study, settle_seconds=3)
    entries = run(market, tmp_path / "ledger.sqlite", bonuses(study, subs))
    assert {e.status for e in entries.values()} == {"done"}
    assert all("already paid 0.75" in e.detail and "answer was lost" in e.detail for e in entries.values())
    assert all(e.batch_id for e in entries.values())
    assert emu.calls["pay-bonus-payments"] == 1  # the 502 was not retried
    emu.settle()
    assert [emu.bonus_payments(s) for s in subs] == [[Decimal("0.75")]] * 3
    run(market, tmp_path / "ledger.sqlite", bonuses(study, subs))
    assert emu.calls["pay-bonus-payments"] == 1


def test_a_pay_prolific_never_saw_stays_pending_for_a_person_and_is_never_sent_again(emu, tmp_path):
    study, subs = seed(emu, 2, status="APPROVED")
    emu.faults.script["pay-bonus-payments"] = [Fault.FAIL_BEFORE]  # a 503, nothing paid
    market = market_for(emu, study, settle_seconds=0.3)
    for _ in range(2):  # the second run settles again, and still sends nothing
        entries = run(market, tmp_path / "ledger.sqlite", bonuses(study, subs))
        assert {e.status for e in entries.values()} == {"pending"}
        assert all("needs a person" in e.detail and "Not paid again" in e.detail for e in entries.values())
        assert emu.calls["pay-bonus-payments"] == 1 and emu.calls["create-bonus-payments"] == 1
    emu.settle()
    assert [emu.bonus_payments(s) for s in subs] == [[], []]


def test_a_pay_that_never_got_an_answer_is_unknown_not_retried(emu):
    study, subs = seed(emu, 1, status="APPROVED")
    market = market_for(emu, study)
    bonus_id = market.prepare_bonuses(bonuses(study, subs), "key")
    emu.faults.always["pay-bonus-payments"] = Fault.FAIL_BEFORE
    reply = market.pay_bonuses(bonus_id, bonuses(study, subs))[subs[0]]
    assert reply.outcome.value == "unknown" and "503" in reply.detail and TOKEN not in reply.detail
    assert emu.calls["pay-bonus-payments"] == 1


def test_a_pay_that_timed_out_is_unknown_then_settled_from_what_prolific_shows(emu, tmp_path):
    study, subs = seed(emu, 2, status="APPROVED")
    emu.faults.slow["pay-bonus-payments"] = 0.6  # Prolific pays, but answers after the client gave up
    market = market_for(emu, study, settle_seconds=3, http=fast_http(emu.url, timeout=(5, 0.2)))
    entries = run(market, tmp_path / "ledger.sqlite", bonuses(study, subs))
    assert {e.status for e in entries.values()} == {"done"}
    assert all("no answer within 0.2 s" in e.detail for e in entries.values())
    assert emu.calls["pay-bonus-payments"] == 1
    emu.settle()
    assert [emu.bonus_payments(s) for s in subs] == [[Decimal("0.75")]] * 2


def test_a_pay_that_could_not_connect_failed_and_paid_nothing(emu):
    study, subs = seed(emu, 1, status="APPROVED")
    market = market_for(emu, study)
    bonus_id = market.prepare_bonuses(bonuses(study, subs), "key")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    market.http = fast_http(closed)  # the connection is refused: nothing can have reached Prolific
    reply = market.pay_bonuses(bonus_id, bonuses(study, subs))[subs[0]]
    assert reply.outcome.value == "failed" and "refused" in reply.detail
    assert emu.calls["pay-bonus-payments"] == 0


CHILD = r'''
import json, os, signal, sys
from decimal import Decimal
from types import SimpleNamespace
from bridge.actions import Action, Kind
from bridge.apply.executor import Executor
from bridge.ledger import open_ledger
from bridge.panels.prolific import adapter
from bridge.panels.prolific.http import ProlificHttp

cfg = json.load(open(sys.argv[1]))
if cfg["kill"]:
    pay = adapter.ProlificMarketplace.pay_bonuses

    def pay_then_die(self, batch_id, actions):
        pay(self, batch_id, actions)  # Prolific took the pay; its answer is never recorded
        os.kill(os.getpid(), signal.SIGKILL)

    adapter.ProlificMarketplace.pay_bonuses = pay_then_die
settings = SimpleNamespace(prolific=SimpleNamespace(study_id=cfg["study"], csv=None, environment=cfg["url"],
                                                    workspace_id=None))
market = adapter.connect(settings, {"PROLIFIC_API_TOKEN": cfg["token"]}, settle_seconds=3, poll_first=0.05,
                         http=ProlificHttp(cfg["url"], cfg["token"], backoff=0.001))
actions = [Action(Kind.BONUS, s, p, cfg["study"], amount=Decimal(a), text="performance") for s, p, a in cfg["bonuses"]]
with open_ledger(cfg["ledger"], panel="prolific", environment=market.environment, tasks=[cfg["study"]]) as ledger:
    Executor(market, ledger).run(actions)
'''


def _child(tmp_path: Path, cfg: dict) -> subprocess.CompletedProcess:
    script, config = tmp_path / "child.py", tmp_path / f"child-{cfg['kill']}.json"
    script.write_text(CHILD)
    config.write_text(json.dumps(cfg))
    return subprocess.run([sys.executable, str(script), str(config)], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_a_process_killed_during_the_pay_resumes_without_paying_anyone_twice(emu, tmp_path):
    study, subs = seed(emu, 250, status="APPROVED")
    actions = bonuses(study, subs, "1.25")
    ledger = tmp_path / "ledger.sqlite"
    cfg = {"url": emu.url, "token": TOKEN, "study": study, "ledger": str(ledger), "kill": True,
           "bonuses": [[a.submission_id, a.participant_id, str(a.amount)] for a in actions]}

    killed = _child(tmp_path, cfg)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with open_ledger(ledger, panel="prolific", environment="local", tasks=[study]) as book:
        entries = list(book.entries().values())
    # The first set-up of 200 was recorded pending with its bulk bonus id, then paid; the
    # rest was never reached.
    assert len(entries) == 200 and {e.status for e in entries} == {"pending"}
    assert len({e.batch_id for e in entries}) == 1 and entries[0].batch_id
    assert emu.calls["pay-bonus-payments"] == 1

    resumed = _child(tmp_path, {**cfg, "kill": False})
    assert resumed.returncode == 0, resumed.stderr
    with open_ledger(ledger, panel="prolific", environment="local", tasks=[study]) as book:
        entries = {e.submission_id: e for e in book.entries().values()}
    assert len(entries) == 250 and {e.status for e in entries.values()} == {"done"}
    assert emu.calls["pay-bonus-payments"] == 2  # the killed run's one, and one for the other 50
    emu.settle()
    assert all(emu.bonus_payments(s) == [Decimal("1.25")] for s in subs)  # nobody paid twice
