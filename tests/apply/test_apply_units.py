"""The pure parts: actions from a plan, bonus tokens, the ledger file."""

from __future__ import annotations

import re
import sqlite3
from decimal import Decimal
from pathlib import Path

from apply_support import SAMPLE, plan_for

from bridge.apply import Action, Kind, log_rows, plan_actions
from bridge.ledger import open_ledger
from bridge.market import MarketplaceError
from bridge.models import State
from bridge.panels.mturk.adapter import bonus_token, canonical_environment, duplicate_token, status_conflict


def test_plan_actions_follow_the_decisions(tmp_path: Path):
    plan = plan_for(SAMPLE / "wave.toml", tmp_path)
    actions = plan_actions(plan)
    stage = {Kind.APPROVE: 0, Kind.REJECT: 0, Kind.BONUS: 1, Kind.GRANT: 2}
    stages = [stage[a.kind] for a in actions]
    assert stages == sorted(stages)  # approvals and rejections, then bonuses, then grants
    by_kind = {k: [a for a in actions if a.kind is k] for k in Kind}
    review = {d.submission_id for d in plan.decisions if d.decision.value == "review"}
    decided = {d.submission_id for d in plan.decisions if d.state is not State.PENDING}
    sent = {a.submission_id for a in by_kind[Kind.APPROVE] + by_kind[Kind.REJECT]}
    assert not sent & review and not sent & decided
    assert all(a.text for a in by_kind[Kind.REJECT])  # RejectAssignment needs feedback
    assert all(a.amount and a.amount > 0 and a.text == plan.bonus_reason for a in by_kind[Kind.BONUS])
    assert not {a.submission_id for a in by_kind[Kind.BONUS]} & review
    assert len(by_kind[Kind.GRANT]) == len(plan.qualifications)


def test_bonus_token_is_deterministic_and_fits():
    token = bonus_token("sandbox", "3HIT", "3ASSIGNMENT")
    assert token == bonus_token("sandbox", "3HIT", "3ASSIGNMENT")
    assert len(token) <= 64 and re.fullmatch(r"[0-9a-f]+", token)
    others = {bonus_token("production", "3HIT", "3ASSIGNMENT"), bonus_token("sandbox", "3OTHERHIT", "3ASSIGNMENT"),
              bonus_token("sandbox", "3HIT", "3OTHER")}
    assert token not in others and len(others) == 3


def test_ledger_keeps_every_state_change_across_connections(tmp_path: Path):
    path = tmp_path / "ledger.sqlite"
    bonus = Action(Kind.BONUS, "3ASG", "AWORKER", "3HIT", amount=Decimal("1.50"))
    grant = Action(Kind.GRANT, participant_id="AWORKER", group_id="3QUAL")
    with open_ledger(path, panel="MTurk", environment="sandbox", tasks=["3HIT"], wave="w1") as ledger:
        ledger.pending(bonus)
        ledger.pending(grant)
        ledger.record(grant, "failed", detail="ServiceFault: try again")
    # A new process sees what the first recorded (whatever its wave is called), nothing of
    # other environments or batches.
    with open_ledger(path, panel="MTurk", environment="sandbox", tasks=["3HIT"], wave="renamed") as ledger:
        entries = ledger.entries()
        assert entries[ledger.key(bonus)].status == "pending" and entries[ledger.key(bonus)].amount == "1.50"
        assert entries[ledger.key(grant)].status == "failed"
        ledger.pending(grant)
        ledger.record(grant, "done", request_id="req-1")
        assert ledger.entries()[ledger.key(grant)].attempts == 2
        rows = log_rows(ledger, "qualification")
        assert [(r.action, r.status) for r in rows] == [("bonus", "pending"), ("grant", "done")]
        assert rows[1].detail == "qualification 3QUAL; RequestId req-1"
    with open_ledger(path, panel="MTurk", environment="production", tasks=["3HIT"], wave="w1") as other:
        assert other.entries() == {}
    with open_ledger(path, panel="MTurk", environment="sandbox", tasks=["3OTHERHIT"], wave="w1") as other:
        assert other.entries() == {}
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_marketplace_errors_are_classified():
    assert status_conflict(MarketplaceError("RequestError", "This operation can be called with a status of: Submitted (1)"))
    assert duplicate_token(MarketplaceError("RequestError", 'The idempotency token "x" has already been processed. (1)'))
    assert not status_conflict(MarketplaceError("ServiceFault", "We encountered an internal error."))


def test_canonical_environment_names_each_environment_once():
    for url in ("https://mturk-requester.us-east-1.amazonaws.com", "https://mturk-requester.us-east-1.amazonaws.com/",
                "HTTPS://MTurk-Requester.us-east-1.amazonaws.com:443/", "production"):
        assert canonical_environment(url) == "production", url
    for url in ("https://mturk-requester-sandbox.us-east-1.amazonaws.com/", "sandbox"):
        assert canonical_environment(url) == "sandbox", url
    for url in ("http://127.0.0.1:8000", "http://127.0.0.1:61234/", "http://localhost:5000", "http://LOCALHOST:1/",
                "http://127.1.2.3:9", "http://[::1]:8080/", "https://localhost"):
        assert canonical_environment(url) == "local", url
    assert canonical_environment("https://MTurk.Example.org:8443/api/") == "https://mturk.example.org:8443/api"
    assert canonical_environment("https://mturk.example.org:443") == "https://mturk.example.org"


def test_bonus_tokens_and_ledger_keys_ignore_the_emulator_port_and_spelling(tmp_path: Path):
    spellings = ("http://127.0.0.1:41001", "http://127.0.0.1:52002/", "http://localhost:41001", "local")
    assert len({bonus_token(env, "3HIT", "3ASG") for env in spellings}) == 1
    assert bonus_token("https://mturk-requester.us-east-1.amazonaws.com/", "3HIT", "3ASG") == bonus_token(
        "production", "3HIT", "3ASG")
    bonus = Action(Kind.BONUS, "3ASG", "AWORKER", "3HIT", amount=Decimal("1.50"))

    def ledger(environment: str):
        return open_ledger(tmp_path / "l.sqlite", panel="MTurk", environment=canonical_environment(environment),
                           tasks=["3HIT"])

    with ledger(spellings[0]) as book:
        book.record(bonus, "done")
        key = book.key(bonus)
    with ledger(spellings[1]) as book:
        assert book.key(bonus) == key and book.entries()[key].status == "done"
    with ledger("https://mturk-requester.us-east-1.amazonaws.com") as book:
        assert book.environment == "production" and book.entries() == {}
