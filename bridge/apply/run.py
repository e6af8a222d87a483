"""Apply a plan: check the cost against the balance, ask, send once, write the Log.

Before anything is sent, the plan's submissions must be the wave's task's as the panel shows
them (SPEC §12: another study's export never reaches the panel) and the cost must fit the
balance; a service down during these checks is exit 2 (nothing was sent; run again), a
refusal exit 1. After sending, the bonuses the panel shows charged on the task (Prolific's
study cost) are compared with the ledger's.

The caller supplies `confirm` (the CLI asks a person, or `--yes` answers for them) and an
optional `progress` callback; this module never prints or prompts.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bridge.actions import CORE_KINDS, LABELS, Action, Kind, plan_actions
from bridge.apply.executor import Executor, Outcomes, Progress
from bridge.config import Settings
from bridge.cost import Cost, plan_cost
from bridge.errors import ApplyError, InputError, SafetyRefusal, SourceError
from bridge.ledger import (
    CONFIRMED,
    DONE,
    ELSEWHERE,
    FAILED,
    PAID,
    PAYING,
    PENDING,
    SKIPPED,
    WAITING,
    Entry,
    Ledger,
    open_ledger,
)
from bridge.market import Marketplace, MarketplaceError, Words
from bridge.models import Plan, State
from bridge.money import fmt
from bridge.workbook.write import LogRow, write_workbook

_KIND_ORDER = {k: i for i, k in enumerate(Kind)}
# A payment's phase as the Log shows it (`prepared` leaves nothing to say: nothing was paid).
_PHASE_WORDS = {PAYING: "paying (outcome unknown)", PAID: "paid (accepted, not yet shown)",
                CONFIRMED: "confirmed (shown paid)", WAITING: "waiting (decided elsewhere)"}


@dataclass(slots=True)
class Preflight:
    """What is about to be sent and what it costs, shown before asking."""

    panel: str  # "MTurk", "Prolific"
    environment: str  # canonical: production, sandbox, local or a URL
    where: str  # the environment for a person: "the MTurk sandbox", "Prolific at http://..."
    currency: str
    to_send: Counter[Kind]
    already_done: int
    cost: Cost  # of what is still to send
    balance: Decimal
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def nothing_to_send(self) -> bool:
        return not sum(self.to_send.values())

    def lines(self) -> list[str]:
        c, cur = self.cost, self.currency
        lines = [f"{self.where[0].upper()}{self.where[1:]}" + (": REAL MONEY" if self.environment == "production" else "")]
        lines.append("To send: " + ", ".join(f"{self.to_send[k]} {LABELS[k]}" for k in Kind
                                             if k in CORE_KINDS or self.to_send[k])
                     + (f" ({self.already_done} already done)" if self.already_done else ""))
        lines.append(f"Cost: rewards {fmt(c.rewards)} + bonuses {fmt(c.bonuses)} + {_compensation(c)}fees {fmt(c.fees)} = "
                     f"{fmt(c.total)} {cur}; account balance {fmt(self.balance)} {cur}")
        return lines + [f"warning: {w}" for w in self.warnings]


@dataclass(slots=True)
class ApplyResult:
    done: Counter[Kind]
    bonus_total: Decimal  # bonuses paid for this plan, whichever run paid them
    failed: list[Entry]
    skipped: list[Entry]
    sent_now: int  # actions attempted in this run
    balance: Decimal | None
    workbook: Path
    currency: str = "USD"
    panel: str = "the panel"
    warnings: list[str] = dataclasses.field(default_factory=list)  # the preflight's
    workbook_error: str = ""  # the workbook could not be rewritten (the ledger has it all)
    # SPEC §12: the bonuses the panel shows charged against the ledger's ("" when it cannot say).
    cost_check: str = ""
    cost_warning: str = ""
    sent: Counter[Kind] = dataclasses.field(default_factory=Counter)  # done in this run
    sent_bonus_total: Decimal = Decimal("0.00")  # bonuses paid in this run
    # Bonuses held back because another run decided their work (SPEC 13), and when the
    # last of them may be paid: run again after that.
    waiting: list[Entry] = dataclasses.field(default_factory=list)
    run_again_after: datetime | None = None

    def _counts(self, d: Counter[Kind], bonus_total: Decimal) -> str:
        return (f"{d[Kind.APPROVE]} approvals, {d[Kind.REJECT]} rejections, {d[Kind.BONUS]} bonuses "
                f"({fmt(bonus_total)} {self.currency}), {d[Kind.GRANT]} qualification grants"
                + "".join(f", {d[k]} {LABELS[k]}" for k in Kind if k not in CORE_KINDS and d[k]))

    def sent_line(self) -> str:
        """What this run sent (and the panel accepted)."""
        return f"Sent this run: {self._counts(self.sent, self.sent_bonus_total)}."

    def summary_line(self) -> str:
        """Running totals for the wave: every run's actions, from the ledger."""
        line = f"Applied: {self._counts(self.done, self.bonus_total)}; "
        if self.skipped:
            line += f"{len(self.skipped)} skipped, "
        if self.waiting:
            line += f"{len(self.waiting)} waiting, "
        return line + f"{len(self.failed)} failed."

    def raise_for_failures(self) -> None:
        """ApplyError (exit 2) when an action failed or waits, or the workbook could not be
        written."""
        problems = []
        if self.waiting:
            when = f" after {self.run_again_after:%Y-%m-%d %H:%M:%S} UTC" if self.run_again_after else " later"
            problems.append(
                f"{len(self.waiting)} bonus(es) wait: {self.panel} shows their work decided by another run (another "
                f"person, folder or ledger), which may have paid them; {self.panel} shows a payment only minutes "
                f"later. Nothing was paid twice. Run the same command again{when}: each is then paid only if "
                f"{self.panel} still shows no payment (e.g. {self.waiting[0].submission_id}).")
        if self.failed:
            kinds = Counter(Kind(e.kind) for e in self.failed)
            listed = ", ".join(f"{n} {LABELS[k]}" for k, n in kinds.items())
            first = self.failed[0]
            problems.append(
                f"{len(self.failed)} action(s) failed ({listed}); e.g. {first.kind} "
                f"{first.submission_id or first.participant_id or first.task_id}: "
                f"{first.detail.rstrip('.')}. The ledger keeps what succeeded; run the same command again to retry the rest "
                + ("(the ledger lists each one)." if self.workbook_error else "(the Log sheet lists each one).")
            )
        if self.workbook_error:
            problems.append(
                f"{self.workbook_error} The actions above were applied and the ledger holds what was done; "
                "run the same command again to rewrite the workbook and its Log (nothing is sent twice)."
            )
        if problems:
            raise ApplyError("\n".join(problems))


def _remaining_cost(plan: Plan, ledger: Ledger, final: set[str]) -> Cost:
    """plan_cost of what is not yet done: approvals (and overrides) done count as approved,
    bonuses and compensations done as paid."""
    decisions = []
    for d in plan.decisions:
        approved = any(ledger.key(Action(k, d.submission_id, task_id=d.task_id)) in final
                       for k in (Kind.APPROVE, Kind.OVERRIDE))
        paid = ledger.key(Action(Kind.BONUS, d.submission_id, task_id=d.task_id)) in final
        decisions.append(dataclasses.replace(d, state=State.APPROVED if approved else d.state,
                                             bonus=None if paid else d.bonus))
    compensations = [c for c in plan.compensations
                     if ledger.key(Action(Kind.COMPENSATE, participant_id=c.participant_id)) not in final]
    return plan_cost(dataclasses.replace(plan, decisions=decisions, compensations=compensations))


def _compensation(cost: Cost) -> str:
    """The compensation term of a cost sum, when there is one."""
    return f"compensation {fmt(cost.compensation)} + " if cost.compensations else ""


def paid_bonus_conflicts(plan: Plan, actions: list[Action], ledger: Ledger) -> list[tuple[str, Entry, Decimal | None]]:
    """(submission, ledger entry, planned amount) for every bonus the ledger has `done` for
    this plan's submissions with another amount than the plan's (None: no bonus now). A
    paid bonus is never changed or sent again; a person must settle the difference."""
    wanted = {a.submission_id: a.amount for a in actions if a.kind is Kind.BONUS}
    paid = {e.submission_id: e for e in ledger.entries().values() if e.kind == Kind.BONUS and e.status == DONE}
    out = []
    for d in plan.decisions:
        e = paid.get(d.submission_id)
        if e is None:
            continue
        want = wanted.get(d.submission_id)
        if e.amount and (want is None or Decimal(e.amount) != want):
            out.append((d.submission_id, e, want))
    return out


def preflight(plan: Plan, actions: list[Action], market: Marketplace, ledger: Ledger) -> Preflight:
    """Cost against balance; refuse (SafetyRefusal) before anything is sent if it does not fit."""
    entries = ledger.entries()
    warnings = [
        f"{plan.terms.submission_word} {aid}: bonus already paid {e.amount} on {e.updated_at[:10]}; the plan now says "
        f"{fmt(want) or 'none'}, which cannot be changed here (nothing more is sent for it)"
        for aid, e, want in paid_bonus_conflicts(plan, actions, ledger)
    ]
    final = {k for k, e in entries.items() if e.status in (DONE, SKIPPED)}
    todo = [a for a in actions if ledger.key(a) not in final]
    cost = _remaining_cost(plan, ledger, final)
    # Every submission of the plan, not only those still to change: a group grant for another
    # study's participants is as wrong as their approval (SPEC §12).
    foreign = market.outside_task([Action(Kind.APPROVE, d.submission_id, d.participant_id, d.task_id)
                                   for d in plan.decisions]) if todo else {}
    if foreign:
        sid, task = next(iter(foreign.items()))
        raise InputError(
            f"{len(foreign)} of the plan's {plan.terms.submission_word}s belong to another {plan.terms.task_word} on "
            f"{market.panel} (e.g. {sid} is in {task}), not the wave's ({', '.join(sorted(plan.tasks)) or '?'}): the "
            f"export is another {plan.terms.task_word}'s, or the config names the wrong one. Nothing was sent.")
    for gid in sorted({a.group_id for a in todo if a.kind in (Kind.GRANT, Kind.REVOKE)}):
        if not market.group_exists(gid):
            raise InputError(f"[qualifications] {gid}: no such {plan.terms.group_word} in {market.where}"
                             f"{market.group_hint}. Nothing was sent.")
    balance = market.account_balance()
    pre = Preflight(market.panel, market.environment, market.where, plan.terms.currency,
                    Counter(a.kind for a in todo), len(actions) - len(todo), cost, balance, warnings)
    if cost.unknown_rewards and todo:
        raise SafetyRefusal(f"The reward of {cost.unknown_rewards} approval(s) is unknown, so the cost cannot be "
                            "checked against the balance: set [wave] reward. Nothing was sent.")
    if cost.total > balance:
        raise SafetyRefusal(
            f"The account balance ({fmt(balance)} {pre.currency}) cannot cover this run: rewards "
            f"{fmt(cost.rewards)} + bonuses {fmt(cost.bonuses)} + {_compensation(cost)}fees {fmt(cost.fees)} = {fmt(cost.total)} "
            f"{pre.currency}. Nothing was sent."
        )
    return pre


def apply_plan(
    plan: Plan,
    settings: Settings,
    *,
    workbook: Path,
    confirm: Callable[[Preflight], bool],
    progress: Progress | None = None,
    market: Marketplace | None = None,
    ledger_path: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> ApplyResult:
    """Send the plan's actions once, then rewrite `workbook` with the Log and the balance.

    `confirm` sees the Preflight and returns False to stop (SafetyRefusal, nothing sent).
    Failures do not raise: see `ApplyResult.failed` / `raise_for_failures()`; nor does a
    workbook that cannot be rewritten once money may have moved (`workbook_error`). An
    unexpected error while sending is an ApplyError (the ledger keeps what was done).
    """
    actions = plan_actions(plan)
    if market is None:
        market = settings.panel.connect(settings, os.environ if env is None else env)
    location = ledger_path or settings.ledger_location
    with open_ledger(location, panel=market.panel, environment=market.environment, tasks=list(plan.tasks),
                     wave=plan.wave, exclusive=True) as ledger:
        try:
            pre = preflight(plan, actions, market, ledger)
        except MarketplaceError as exc:  # nothing sent yet
            where = market.where
            text = f"{where[0].upper()}{where[1:]} did not answer the checks before sending ({exc}). Nothing was sent"
            if exc.transient:  # down, throttling, no answer: not the config's fault (SPEC §12: exit 2)
                raise ApplyError(f"{text}; wait a little, then run the same command again.") from None
            raise SourceError(f"{text}; run the command again.") from None
        outcomes = Outcomes()
        if not pre.nothing_to_send:
            if not confirm(pre):
                raise SafetyRefusal("Not confirmed: nothing was sent.")
            try:
                outcomes = Executor(market, ledger, progress=progress, decided=decided_on_panel(plan),
                                    settle=timedelta(minutes=settings.safety.settle_minutes)).run(actions)
            except Exception as exc:  # a bug or a broken ledger: stop, but as an apply failure (exit 2)
                raise ApplyError(
                    f"Applying stopped on an unexpected error ({type(exc).__name__}: {exc}). The ledger keeps what "
                    "was done (nothing unconfirmed is marked done); run the same command again to resume."
                ) from None
        try:
            balance: Decimal | None = market.account_balance()
        except MarketplaceError:
            balance = None
        result = _result(actions, ledger, outcomes, balance, workbook)
        result.currency, result.panel = plan.terms.currency, market.panel
        result.warnings = pre.warnings
        result.cost_check, result.cost_warning = bonus_cost_check(market, ledger, plan, paid_now=bool(
            result.sent[Kind.BONUS] or result.sent[Kind.COMPENSATE]))
        log = log_rows(ledger, market.words.group)
        plan = status_now(plan, ledger, market.words)
        if result.cost_check:
            plan = dataclasses.replace(plan, figures=[*plan.figures, ("Bonus cost check", result.cost_check)],
                                       warnings=[*plan.warnings, *([result.cost_warning] if result.cost_warning
                                                                   else [])])
    try:
        write_workbook(plan, workbook, log=log,
                       balance=balance if balance is not None else f"unknown ({market.panel} did not answer)")
    except InputError as exc:  # money moved: keep the result, report the workbook after it
        result.workbook_error = str(exc)
    return result


def ledger_bonuses(ledger: Ledger) -> Decimal:
    """Every bonus the ledger has done on a submission (compensations paid as bonuses too)."""
    return sum((Decimal(e.amount) for e in ledger.entries().values() if e.status == DONE and e.amount
                and e.submission_id and e.kind in (Kind.BONUS, Kind.COMPENSATE)), Decimal("0.00"))


def bonus_cost_check(market: Marketplace, ledger: Ledger, plan: Plan, *, paid_now: bool) -> tuple[str, str]:
    """(the comparison, a warning or "") of the bonuses the panel shows charged on the wave's
    task with the ledger's (SPEC §12), read once after applying. Payments show "in the
    following minutes" (FACTS 1.8), so less charged than the ledger paid just after this run
    paid is expected, not a warning (it is not waited for: the next run compares again)."""
    booked = ledger_bonuses(ledger)
    try:
        charged = market.bonus_cost()
    except MarketplaceError as exc:
        return "", f"{market.panel}'s cost of the {plan.terms.task_word} could not be read after applying ({exc})."
    if charged is None:
        return "", ""
    cur = plan.terms.currency
    line = f"{market.panel} shows {fmt(charged)} {cur} of bonuses charged; the ledger {fmt(booked)} {cur}"
    if charged == booked:
        return line + " (they agree).", ""
    if charged < booked and paid_now:
        return line + (f" (payments show on {market.panel} some minutes after they are made; the next run compares "
                       "again)."), ""
    if charged < booked:
        return line + ".", (f"{market.panel} shows {fmt(booked - charged)} {cur} fewer bonuses charged on the "
                            f"{plan.terms.task_word} than the ledger has paid ({fmt(charged)} against {fmt(booked)}): "
                            "payments can take minutes to show; if it still differs on the next run, check the "
                            f"{plan.terms.task_word}'s payments on {market.panel}.")
    return line + ".", (f"{market.panel} shows {fmt(charged - booked)} {cur} more bonuses charged on the "
                        f"{plan.terms.task_word} than the ledger has paid ({fmt(charged)} against {fmt(booked)}): "
                        "bonuses paid outside this tool (by hand, another wave's config) or paid twice. Check the "
                        f"{plan.terms.task_word}'s payments on {market.panel} before paying more.")


def decided_on_panel(plan: Plan) -> dict[str, tuple[State, datetime | None]]:
    """The submissions the panel showed approved or rejected when the plan was read, with
    the decision's time where the source gives one (SPEC 13: work decided elsewhere)."""
    return {d.submission_id: (d.state, d.decided_at) for d in plan.decisions
            if d.state in (State.APPROVED, State.REJECTED)}


def status_now(plan: Plan, ledger: Ledger, words: Words) -> Plan:
    """The plan with each submission's state as the panel now has it, after the approvals
    and rejections the ledger has done (SPEC 4.2: the status column shows it)."""
    entries = ledger.entries()
    decisions = []
    for d in plan.decisions:
        for kind, state in ((Kind.APPROVE, State.APPROVED), (Kind.REJECT, State.REJECTED),
                            (Kind.OVERRIDE, State.APPROVED)):
            e = entries.get(ledger.key(Action(kind, d.submission_id, task_id=d.task_id)))
            if e is not None and e.status == DONE and (d.state is State.PENDING or kind is Kind.OVERRIDE):
                d = dataclasses.replace(d, state=state, status=words.of(state))
        decisions.append(d)
    return dataclasses.replace(plan, decisions=decisions)


def _result(actions: list[Action], ledger: Ledger, outcomes: Outcomes, balance: Decimal | None,
            workbook: Path) -> ApplyResult:
    entries = ledger.entries()
    mine = [entries[k] for k in (ledger.key(a) for a in actions) if k in entries]
    done = Counter(Kind(e.kind) for e in mine if e.status == DONE)
    bonus_total = sum((Decimal(e.amount) for e in mine if e.status == DONE and e.kind == Kind.BONUS and e.amount),
                      Decimal("0.00"))
    # Never sent (e.g. interrupted before its turn) counts as failed: it is not done.
    missing = [a for a in actions if ledger.key(a) not in entries]
    waiting = [e for e in mine if e.status == PENDING and e.phase == WAITING]
    failed = [e for e in mine if e.status == FAILED or (e.status == PENDING and e.phase != WAITING)]
    failed += [Entry(ledger.key(a), a.kind.value, a.submission_id, a.participant_id, a.task_id, a.group_id,
                     a.amount_text, FAILED, "", "not sent", 0, "") for a in missing]
    skipped = [e for e in mine if e.status == SKIPPED]
    result = ApplyResult(done, bonus_total, failed, skipped, outcomes.attempted, balance, Path(workbook))
    result.waiting, result.run_again_after = waiting, outcomes.wait_until
    # Done in this run, less what was found already done by another run (nothing was sent).
    now_done = [entries[k] for k, (status, _) in outcomes.results.items()
                if status == DONE and k in entries and entries[k].phase != ELSEWHERE]
    result.sent = Counter(Kind(e.kind) for e in now_done)
    result.sent_bonus_total = sum((Decimal(e.amount) for e in now_done if e.kind == Kind.BONUS and e.amount),
                                  Decimal("0.00"))
    return result


def log_rows(ledger: Ledger, group_word: str = "group") -> list[LogRow]:
    """One Log row per recorded action of the wave (every run), in SPEC order: kind, then
    first recorded. Grants name their qualification type in Detail."""
    entries = sorted(ledger.entries().values(), key=lambda e: _KIND_ORDER.get(Kind(e.kind), len(_KIND_ORDER)))
    rows = []
    for e in entries:
        detail = e.detail or (f"RequestId {e.request_id}" if e.request_id else "")
        if e.kind in (Kind.GRANT, Kind.REVOKE):
            detail = f"{group_word} {e.group_id}" + (f"; {detail}" if detail else "")
        elif e.kind == Kind.COMPENSATE and e.batch_id and e.batch_id not in detail:
            made = f"paid by {e.batch_id}" if e.submission_id else f"{group_word} {e.batch_id} ({e.group_id})"
            detail = made + (f"; {detail}" if detail else "")
        elif e.kind == Kind.EXPIRE and e.task_id not in detail:
            detail = e.task_id + (f": {detail}" if detail else "")
        elif e.batch_id and e.kind == Kind.BONUS and e.batch_id not in detail:
            detail = f"paid by {e.batch_id}" + (f"; {detail}" if detail else "")
        if e.phase in _PHASE_WORDS and e.kind in (Kind.BONUS, Kind.COMPENSATE):  # SPEC 13's recovery points
            detail = _PHASE_WORDS[e.phase] + (f": {detail}" if detail else "")
        rows.append(LogRow(e.kind, e.submission_id, e.participant_id, e.amount, e.status, detail, e.updated_at))
    return rows
