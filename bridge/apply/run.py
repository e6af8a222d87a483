"""Apply a plan: check the cost against the balance, ask, send once, write the Log.

Before anything is sent, the plan's submissions must be the wave's task's as the panel shows
them (SPEC §12: another study's export never reaches the panel) and the cost must fit the
balance; a service down during these checks is exit 2 (nothing was sent; run again), a
refusal exit 1. After sending, the bonuses the panel shows charged on the task (Prolific's
study cost) are compared with the ledger's.

The caller supplies `confirm` (the CLI asks a person, or `--yes` answers for them) and
optional `progress` and `say` callbacks; this module never prints or prompts.

What is reported is what happened (SPEC 4.2): "sent this run" counts only what this run
sent; work found already done on the panel (another run, another machine, a person by hand)
is counted apart, and on a panel that reads states in bulk it is found before asking, so
"To send" and its cost leave it out. The workbook is rewritten with the Log, each row's
status as the panel now has it and the money spent and still to send, but never over edits
a person saved while the run went on (`bridge.workbook.review.unapplied_edits`).
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
    FAILED,
    PAID,
    PAYING,
    PENDING,
    SKIPPED,
    WAITING,
    Entry,
    Ledger,
    is_url,
    open_ledger,
)
from bridge.market import Marketplace, MarketplaceError, Words
from bridge.models import Plan, State
from bridge.money import fmt
from bridge.workbook.review import Found, unapplied_edits
from bridge.workbook.sheet import file_digest
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
    found: Counter[Kind] = dataclasses.field(default_factory=Counter)  # found already done on the panel
    found_bonus_total: Decimal = Decimal("0.00")

    @property
    def nothing_to_send(self) -> bool:
        return not sum(self.to_send.values())

    def lines(self) -> list[str]:
        c, cur = self.cost, self.currency
        lines = [f"{self.where[0].upper()}{self.where[1:]}" + (": REAL MONEY" if self.environment == "production" else "")]
        lines.append("To send: " + ", ".join(f"{self.to_send[k]} {LABELS[k]}" for k in Kind
                                             if k in CORE_KINDS or self.to_send[k])
                     + (f" ({self.already_done} already done)" if self.already_done else ""))
        if self.found:
            lines.append(found_line(self.panel, self.found, self.found_bonus_total, self.currency,
                                    "found before sending"))
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
    sent: Counter[Kind] = dataclasses.field(default_factory=Counter)  # sent in this run, and accepted
    sent_bonus_total: Decimal = Decimal("0.00")  # bonuses paid in this run
    found: Counter[Kind] = dataclasses.field(default_factory=Counter)  # found already done on the panel
    found_bonus_total: Decimal = Decimal("0.00")
    workbook_refused: str = ""  # edits saved while the run went on: the workbook was left as it was
    # Bonuses held back because another run decided their work (SPEC 13), and when the
    # last of them may be paid: run again after that.
    waiting: list[Entry] = dataclasses.field(default_factory=list)
    run_again_after: datetime | None = None

    def _counts(self, d: Counter[Kind], bonus_total: Decimal) -> str:
        return _counts(d, bonus_total, self.currency)

    def sent_line(self) -> str:
        """What this run sent (and the panel accepted); never what it found already done."""
        if not sum(self.sent.values()):
            return "Sent this run: nothing."
        money = any(self.sent[k] for k in (Kind.APPROVE, Kind.OVERRIDE, Kind.BONUS, Kind.COMPENSATE))
        return f"Sent this run: {_listed(self.sent, self.sent_bonus_total, self.currency)}" + (
            "." if money else " (no money).")

    def found_line(self) -> str:
        """Work this run found already done on the panel, not sent again ("" when none)."""
        return found_line(self.panel, self.found, self.found_bonus_total, self.currency) if self.found else ""

    def summary_line(self) -> str:
        """Running totals for the wave: every run's actions, from the ledger."""
        line = f"Applied: {self._counts(self.done, self.bonus_total)}; "
        if self.skipped:
            line += f"{len(self.skipped)} skipped, "
        if self.waiting:
            line += f"{len(self.waiting)} waiting, "
        return line + f"{len(self.failed)} failed."

    def raise_for_failures(self) -> None:
        """SafetyRefusal (exit 3) when the workbook was left as it was because a person saved
        edits while the run went on; ApplyError (exit 2) when an action failed or waits, or the
        workbook could not be written."""
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
        if self.workbook_refused:
            raise SafetyRefusal("\n".join([self.workbook_refused, *problems]))
        if problems:
            raise ApplyError("\n".join(problems))


def _counts(d: Counter[Kind], bonus_total: Decimal, currency: str) -> str:
    return (f"{d[Kind.APPROVE]} approvals, {d[Kind.REJECT]} rejections, {d[Kind.BONUS]} bonuses "
            f"({fmt(bonus_total)} {currency}), {d[Kind.GRANT]} qualification grants"
            + "".join(f", {d[k]} {LABELS[k]}" for k in Kind if k not in CORE_KINDS and d[k]))


def _listed(counts: Counter[Kind], bonus_total: Decimal, currency: str) -> str:
    """The kinds there are some of: '29 approvals, 30 bonuses (20.68 GBP)'."""
    return ", ".join(f"{n} {LABELS[k]}" + (f" ({fmt(bonus_total)} {currency})" if k is Kind.BONUS else "")
                     for k in Kind if (n := counts[k]))


def found_line(panel: str, found: Counter[Kind], bonus_total: Decimal, currency: str, how: str = "") -> str:
    """'Already done on Prolific: 29 approvals, 30 bonuses (20.68 GBP); not sent again.'"""
    return f"Already done on {panel}{f' ({how})' if how else ''}: {_listed(found, bonus_total, currency)}; not sent again."


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


def preflight(plan: Plan, actions: list[Action], market: Marketplace, ledger: Ledger,
              executor: Executor | None = None) -> Preflight:
    """Cost against balance; refuse (SafetyRefusal) before anything is sent if it does not fit.
    With `executor`, what the panel already shows done is found (and recorded) first, once the
    plan's submissions are known to be the wave's task's."""
    todo = executor.todo(actions) if executor is not None else actions
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
    found = executor.settle_done(actions) if executor is not None else {}
    entries = ledger.entries()
    warnings = [
        f"{plan.terms.submission_word} {aid}: bonus already paid {e.amount} on {e.updated_at[:10]}; the plan now says "
        f"{fmt(want) or 'none'}, which cannot be changed here (nothing more is sent for it)"
        for aid, e, want in paid_bonus_conflicts(plan, actions, ledger)
    ]
    final = {k for k, e in entries.items() if e.status in (DONE, SKIPPED)}
    todo = [a for a in actions if ledger.key(a) not in final]
    cost = plan_cost(with_ledger(plan, ledger))
    for gid in sorted({a.group_id for a in todo if a.kind in (Kind.GRANT, Kind.REVOKE)}):
        if not market.group_exists(gid):
            raise InputError(f"[qualifications] {gid}: no such {plan.terms.group_word} in {market.where}"
                             f"{market.group_hint}. Nothing was sent.")
    balance = market.account_balance()
    found_done = [a for a, (status, _) in found.items() if status == DONE]
    pre = Preflight(market.panel, market.environment, market.where, plan.terms.currency,
                    Counter(a.kind for a in todo), len(actions) - len(todo) - len(found_done), cost, balance, warnings,
                    Counter(a.kind for a in found_done),
                    sum((a.amount for a in found_done if a.kind is Kind.BONUS and a.amount), Decimal("0.00")))
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
    read: Found | None = None,
    say: Callable[[str], None] | None = None,
) -> ApplyResult:
    """Send the plan's actions once, then rewrite `workbook` with the Log and the balance.

    `confirm` sees the Preflight and returns False to stop (SafetyRefusal, nothing sent).
    Failures do not raise: see `ApplyResult.failed` / `raise_for_failures()`; nor does a
    workbook that cannot be rewritten once money may have moved (`workbook_error`), nor one
    left as it was because a person saved edits into it meanwhile (`workbook_refused`). `read`:
    the workbook as the plan's edits were read from it (default: as it is now, the plan's
    own). `say`: a line for a person at each step before sending. An unexpected error while
    sending is an ApplyError (the ledger keeps what was done).
    """
    say = say or (lambda line: None)
    if read is None:
        read = Found(file_digest(workbook) if Path(workbook).exists() else "",
                     seen={d.submission_id for d in plan.decisions})
    actions = plan_actions(plan)
    if market is None:
        market = settings.panel.connect(settings, os.environ if env is None else env)
    location = ledger_path or settings.ledger_location
    with open_ledger(location, panel=market.panel, environment=market.environment, tasks=list(plan.tasks),
                     wave=plan.wave, exclusive=True) as ledger:
        executor = Executor(market, ledger, progress=progress, decided=decided_on_panel(plan),
                            settle=timedelta(minutes=settings.safety.settle_minutes))
        say(f"checking the balance and what is already done on {market.panel}…")
        try:
            pre = preflight(plan, actions, market, ledger, executor)
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
                outcomes = executor.run(actions)
            except Exception as exc:  # a bug or a broken ledger: stop, but as an apply failure (exit 2)
                raise ApplyError(
                    f"Applying stopped on an unexpected error ({type(exc).__name__}: {exc}). The ledger keeps what "
                    "was done (nothing unconfirmed is marked done); run the same command again to resume."
                ) from None
        outcomes.found |= executor.found  # found before sending, when nothing was left to send
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
        shown = with_ledger(plan, ledger, market.words)
        if result.cost_check:
            shown = dataclasses.replace(shown, figures=[*shown.figures, ("Bonus cost check", result.cost_check)],
                                        warnings=[*shown.warnings, *([result.cost_warning] if result.cost_warning
                                                                     else [])])
    unapplied = unapplied_edits(workbook, plan, read) if read.digest else []
    if unapplied:
        shown_lines = "\n".join(f"  - {line}" for line in unapplied)
        result.workbook_refused = (
            f"{workbook} was saved while apply ran, with edits this run did not apply:\n{shown_lines}\nThe workbook "
            f"is left as it is (not rewritten with the Log). What was sent is in the ledger; run survey-bridge apply "
            f"{workbook} --config {settings.path} to apply those edits and rewrite it (nothing is sent twice).")
        return result
    try:
        write_workbook(shown, workbook, log=log,
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


def with_ledger(plan: Plan, ledger: Ledger, words: Words | None = None) -> Plan:
    """The plan with what the ledger has for each of its actions (`applied`: the Summary's
    money spent and still to send, its counts) and, with `words`, each submission's state as
    the panel now has it after the approvals and rejections done (SPEC 4.2: the status
    column shows it)."""
    entries = ledger.entries()
    if not entries:
        return plan
    by_submission: dict[str, dict[str, str]] = {}
    compensated: dict[str, str] = {}
    for a in plan_actions(plan):
        e = entries.get(ledger.key(a))
        if e is None:
            continue
        if a.kind is Kind.COMPENSATE:
            compensated[a.participant_id] = e.status
        elif a.submission_id:
            by_submission.setdefault(a.submission_id, {})[a.kind.value] = e.status
    decisions = []
    for d in plan.decisions:
        applied = by_submission.get(d.submission_id)
        if applied:
            d = dataclasses.replace(d, applied=applied)
            if words is not None:
                for kind, state in ((Kind.APPROVE, State.APPROVED), (Kind.REJECT, State.REJECTED),
                                    (Kind.OVERRIDE, State.APPROVED)):
                    if applied.get(kind.value) == DONE and (d.state is State.PENDING or kind is Kind.OVERRIDE):
                        d = dataclasses.replace(d, state=state, status=words.of(state))
        decisions.append(d)
    compensations = [dataclasses.replace(c, applied=compensated.get(c.participant_id, "")) for c in plan.compensations]
    return dataclasses.replace(plan, decisions=decisions, compensations=compensations)


def ledger_view(settings: Settings) -> Callable[[Plan], Plan]:
    """For a dry run: the plan with what the wave's ledger already has done (`with_ledger`),
    so its counts and costs are what is still to send. No ledger: the plan as it is (none is
    made)."""

    def view(plan: Plan) -> Plan:
        location = settings.ledger_location
        if not is_url(location) and not Path(location).exists():
            return plan
        environment = settings.panel.canonical_environment(plan.environment)
        with open_ledger(location, panel=plan.terms.panel, environment=environment, tasks=list(plan.tasks),
                         wave=plan.wave) as ledger:
            return with_ledger(plan, ledger)

    return view


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
    now_done = [entries[k] for k, (status, _) in outcomes.results.items() if status == DONE and k in entries]
    sent = [e for e in now_done if e.key not in outcomes.found]
    found = [entries[k] for k in outcomes.found if k in entries and entries[k].status == DONE]
    result.sent = Counter(Kind(e.kind) for e in sent)
    result.sent_bonus_total = _bonus_total(sent)
    result.found = Counter(Kind(e.kind) for e in found)
    result.found_bonus_total = _bonus_total(found)
    return result


def _bonus_total(entries: list[Entry]) -> Decimal:
    return sum((Decimal(e.amount) for e in entries if e.kind == Kind.BONUS and e.amount), Decimal("0.00"))


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
