"""Prolific behind the `Marketplace` seam (`bridge.market`): the API v1 calls applying
a plan needs, over `bridge.panels.prolific.http.ProlificHttp`.

- approvals: up to 1,000 ids in one bulk-approve call (FACTS 1.7), which is asynchronous, so
  each is then read back until Prolific shows it APPROVED (only then `accepted`: Dallinger
  marked people approved that Prolific had refused, FACTS §5.3), shows another state
  (`refused`, with it) or the time allowed runs out (`failed`: sent again next run, which
  is harmless: approving twice changes nothing);
- rejections: one transition each (FACTS 1.6), several at once (they move no money);
- bonuses: one set-up of up to 200 (FACTS 1.8), then one pay call, which is NOT idempotent:
  never retried except after a 429; a 5xx, a timeout or a dropped connection answers
  `unknown`, and the executor settles it from `bonus_payments`, never pays again;
- groups: one append of up to 1,000 participants (appending twice is harmless, FACTS 1.10);
  one removal likewise (removing a non-member is ignored, FACTS 1.10);
- overriding a rejection (SPEC §9): Prolific has no approval that overrides a rejection, but
  reversing one puts the submission back in review ("the submission will then revert to
  'awaiting review'. Either approve the submission, or ...",
  https://researcher-help.prolific.com/en/article/2ae029) and the transition API has the
  action UNREJECT (FACTS 1.6): so an override is UNREJECT, then APPROVE, each a transition
  (idempotent, FACTS 1.6), read back where the first answers an error;
- invitations: one bulk message of up to 100 participants (FACTS 1.11; the limit is
  unconfirmed), the subject as the message's first line (Prolific messages have none);
  never retried after a 5xx or a dropped answer (it could arrive twice);
- compensation tasks and closing the study are not done through this API: a compensation
  on Prolific is a bonus on the participant's submission (the bonus path above), and a
  study is stopped in Prolific's app.

States and paid bonuses are read per submission when few are asked for, else from the
study's submission list (its items carry `status` and `bonus_payments`, FACTS 1.5).

SPEC §12: a bulk call refused for what it holds (400, 422: one unknown or already-decided id)
raises `BatchRefused`, and the executor splits it until the member at fault is alone; a bonus
set-up's answer is checked against the plan before it is paid (`checks`); the study's cost is
read back after applying (`bonus_cost`); the plan's submissions are checked to be the
study's before anything is sent (`outside_task`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from bridge.actions import Action, Kind
from bridge.errors import InputError
from bridge.market import BatchRefused, MarketplaceError, Outcome, Reply, Words
from bridge.models import State
from bridge.panels.prolific.api import minor_to_major
from bridge.panels.prolific.checks import bonus_cost, check_setup
from bridge.panels.prolific.http import MAX_PAGES, PAGE_SIZE, Answer, ProlificHttp, Unreachable, problem, token_from
from bridge.panels.prolific.override import override_reply
from bridge.panels.prolific.words import state_of, status_word

WORDS = Words(
    status={State.PENDING: "AWAITING REVIEW", State.APPROVED: "APPROVED", State.REJECTED: "REJECTED",
            State.RETURNED: "RETURNED", State.TIMED_OUT: "TIMED-OUT", State.SCREENED_OUT: "SCREENED OUT",
            State.IN_PROGRESS: "ACTIVE"},
    submission="submission", group="participant group", state_check="read back from Prolific",
    paid_check="shown in Prolific's bonus_payments")
SETTLE_SECONDS = 60.0  # payments show "in the following minutes" (FACTS 1.8); a person settles the rest
CONFIRM_SECONDS = 120.0  # how long a bulk approval is read back (unconfirmed: Prolific gives no figure)
POLL_FIRST, POLL_MAX = 0.5, 5.0  # seconds between read-backs, doubling
FEW = 20  # up to this many submissions are read one GET each; more, from the study's list (unconfirmed)
MESSAGE_BATCH = 100  # participants per bulk message (unconfirmed: Prolific documents no limit)
_CENTS = Decimal("0.01")
REFUSALS = (400, 422)  # a batch refused for what it holds (one bad id): split, never for 401/403/404/429/5xx


class ProlificMarketplace:
    """`Marketplace` over Prolific's API v1 for one study (`study_id`, the wave's)."""

    panel = "Prolific"
    words = WORDS
    # FACTS 1.7 (1,000 ids per bulk approval), 1.8 (200 per bonus set-up); group appends: unconfirmed.
    batch = {Kind.APPROVE: 1000, Kind.BONUS: 200, Kind.GRANT: 1000, Kind.REVOKE: 1000, Kind.NOTIFY: MESSAGE_BATCH}
    # Payments contend for the workspace's wallet (429s, FACTS 1.3) and bonuses "do not support
    # concurrent requests" (FACTS 1.3): one at a time; rejections move no money.
    workers = {Kind.APPROVE: 1, Kind.BONUS: 1, Kind.REJECT: 4, Kind.GRANT: 1, Kind.OVERRIDE: 1, Kind.REVOKE: 1,
               Kind.NOTIFY: 1}
    pay_repeats = True  # every pay call pays again (FACTS 1.8)
    payments_show_late = True  # paid "in the following minutes" (FACTS 1.8); bulk approval is asynchronous (1.7)
    states_in_bulk = True  # the study's submissions, listed a page of many at a time

    def __init__(self, http: ProlificHttp, study_id: str, *, environment: str, workspace_id: str | None = None,
                 settle_seconds: float = SETTLE_SECONDS, confirm_seconds: float = CONFIRM_SECONDS,
                 poll_first: float = POLL_FIRST, poll_max: float = POLL_MAX,
                 fee_rate: Decimal = Decimal("0.333"), vat_rate: Decimal = Decimal("0"), currency: str = ""):
        from bridge.panels.prolific import PANEL

        self.http = http
        self.study_id = study_id
        self.environment = PANEL.canonical_environment(environment)
        self.where = PANEL.describe_environment(environment)
        self.group_hint = (" (a participant group's id is on its page in Prolific; the group must be in the "
                           "study's workspace)")
        self.workspace_id = workspace_id
        self.settle_seconds = settle_seconds
        self.confirm_seconds = confirm_seconds
        self.poll_first, self.poll_max = poll_first, poll_max
        # What the plan's fees were computed with: a bonus set-up is checked against them (SPEC §12).
        self.fee_rate, self.vat_rate, self.currency = Decimal(fee_rate), Decimal(vat_rate), currency
        self._sizes: dict[str, int] = {}  # submissions per study, from the last listing

    @property
    def requests(self) -> int:
        return self.http.requests

    # --- plumbing --------------------------------------------------------------------------

    def _send(self, send: Callable[[], Any], doing: str) -> Any:
        try:
            return send()
        except Unreachable as exc:
            raise MarketplaceError("Unreachable", f"cannot reach {self.where} while {doing}: {exc}",
                                   transient=True) from None

    def _error(self, answer: Answer, doing: str, not_found: str = "") -> MarketplaceError:
        """The answer as an error; `transient` for throttling and faults (SPEC §12: a service
        down before anything is sent is "run again", not a wrong config); `BatchRefused` for
        a validation refusal (400, 422) of a call that named several items."""
        kind = BatchRefused if answer.status in REFUSALS else MarketplaceError
        return kind(str(answer.status), problem(answer, doing=doing,
                                                not_found=not_found or f"{self.where} has no such object"),
                    transient=answer.status == 429 or answer.status >= 500)

    def _study_of(self, action: Action) -> str:
        return action.task_id or self.study_id

    def _detail(self, submission_id: str) -> tuple[dict | None, str]:
        """GET /submissions/{id}/ (`SubmissionDetail`, FACTS 1.5): (the item, or None and why)."""
        doing = f"reading submission {submission_id}"
        answer = self._send(lambda: self.http.get(f"/api/v1/submissions/{submission_id}/"), doing)
        if answer.ok and isinstance(answer.body, dict):
            return answer.body, ""
        return None, str(self._error(answer, doing, f"{self.where} has no submission {submission_id}"))

    def _lookup(self, actions: Sequence[Action], *, field: str = "status") -> tuple[dict[str, dict], dict[str, str]]:
        """Each action's submission as Prolific shows it now: (items by id, why for those it
        could not read). Few ids (or fewer ids than list pages): one GET each; many: the
        study's list, paged, with GETs for any it lacks or whose items lack `field`."""
        by_study: dict[str, list[str]] = defaultdict(list)
        for a in actions:
            if a.submission_id not in by_study[self._study_of(a)]:
                by_study[self._study_of(a)].append(a.submission_id)
        items: dict[str, dict] = {}
        unread: dict[str, str] = {}
        for study, ids in by_study.items():
            rest = ids
            pages = math.ceil(self._sizes[study] / PAGE_SIZE) if study in self._sizes else FEW
            if len(ids) > max(FEW, pages):
                doing = f"listing the submissions of study {study}"
                answer, listing = self._send(lambda: self.http.listing("/api/v1/submissions/", {"study": study}),
                                             doing)
                if not answer.ok:
                    raise self._error(answer, doing, f"{self.where} has no study {study}")
                if listing.count is not None:
                    self._sizes[study] = listing.count
                wanted = set(ids)
                for item in listing.items:
                    if item.get("id") in wanted and field in item:
                        item.setdefault("study_id", study)  # listed by study: it is the study's
                        items[item["id"]] = item
                rest = [i for i in ids if i not in items]
            for sid in rest:
                item, why = self._detail(sid)
                if item is None:
                    unread[sid] = why
                else:
                    items[sid] = item
        return items, unread

    # --- checks ----------------------------------------------------------------------------

    def account_balance(self) -> Decimal:
        """The workspace's available balance (FACTS 1.12), major units. The workspace is
        `[prolific] workspace_id`, else the study's `workspace` (FACTS 1.9)."""
        if not self.workspace_id:
            doing = f"reading study {self.study_id}"
            answer = self._send(lambda: self.http.get(f"/api/v1/studies/{self.study_id}/"), doing)
            if not answer.ok:
                raise self._error(answer, doing, f"{self.where} has no study {self.study_id}: check [prolific] "
                                                 "study_id")
            study = answer.body if isinstance(answer.body, dict) else {}
            workspace = study.get("workspace")
            if not isinstance(workspace, str) or not workspace:
                raise MarketplaceError("Study", f"study {self.study_id} does not name its workspace: set "
                                                "[prolific] workspace_id")
            self.workspace_id = workspace
        doing = f"reading the balance of workspace {self.workspace_id}"
        answer = self._send(lambda: self.http.get(f"/api/v1/workspaces/{self.workspace_id}/balance/"), doing)
        if not answer.ok:
            raise self._error(answer, doing, f"{self.where} has no workspace {self.workspace_id}: check [prolific] "
                                             "workspace_id")
        try:
            return minor_to_major(answer.body["available_balance"])
        except (KeyError, TypeError, ArithmeticError, ValueError):
            raise MarketplaceError("Balance", f"{self.where} answered a balance without available_balance") from None

    def group_exists(self, group_id: str) -> bool:
        doing = f"reading participant group {group_id}"
        answer = self._send(lambda: self.http.get(f"/api/v1/participant-groups/{group_id}/"), doing)
        if answer.status == 404:
            return False
        if not answer.ok:
            raise self._error(answer, doing)
        return not (isinstance(answer.body, dict) and answer.body.get("is_deleted"))

    def states(self, actions: Sequence[Action]) -> dict[str, State]:
        items, _ = self._lookup(actions)
        return {sid: state_of(status_word(str(item.get("status") or ""))) for sid, item in items.items()}

    # --- approvals and rejections ----------------------------------------------------------

    def approve(self, actions: Sequence[Action]) -> dict[str, Reply]:
        """One bulk approval (FACTS 1.7), then read back until Prolific shows the outcome."""
        ids = list(dict.fromkeys(a.submission_id for a in actions))
        trouble = ""
        try:
            answer = self.http.post("/api/v1/submissions/bulk-approve/", {"submission_ids": ids})
        except Unreachable as exc:
            trouble = f"the bulk approval got no answer ({exc})"
        else:
            if 400 <= answer.status < 500:  # refused: nothing was approved
                error = self._error(answer, f"approving {len(ids)} submissions")
                if isinstance(error, BatchRefused):  # one bad id among them: the executor splits the batch
                    raise error
                return {sid: Reply.failed(str(error)) for sid in ids}
            if not answer.ok:
                trouble = str(self._error(answer, f"approving {len(ids)} submissions"))
        # A bulk approval that answered an error may still have been queued: read it back once.
        deadline = time.monotonic() + (self.poll_first if trouble else self.confirm_seconds)
        replies = self._read_back(actions, deadline)
        for sid in ids:
            if sid not in replies:
                replies[sid] = Reply.failed(f"{trouble}; not shown approved by Prolific; run again" if trouble
                                            else "not confirmed by Prolific yet; run again")
        return replies

    def _read_back(self, actions: Sequence[Action], deadline: float) -> dict[str, Reply]:
        """Poll (doubling waits) until no submission is AWAITING REVIEW or `deadline`."""
        left = {a.submission_id: a for a in actions}
        replies: dict[str, Reply] = {}
        wait = self.poll_first
        while left:
            time.sleep(max(0.0, min(wait, deadline - time.monotonic())))
            try:
                items, _ = self._lookup(list(left.values()))
            except MarketplaceError as exc:
                return replies | {sid: Reply.failed(f"approval asked for, but reading it back failed ({exc}); "
                                                    "run again") for sid in left}
            for sid, item in items.items():
                status = status_word(str(item.get("status") or ""))
                state = state_of(status)
                if state is State.APPROVED:
                    replies[sid] = Reply.accepted(detail="approved (read back from Prolific)")
                elif state is not State.PENDING:
                    replies[sid] = Reply(Outcome.REFUSED, f"{status} on Prolific; not approved", state=state)
                else:
                    continue
                del left[sid]
            if time.monotonic() >= deadline:
                break
            wait = min(wait * 2, self.poll_max)
        return replies

    def reject(self, action: Action) -> Reply:
        """One REJECT transition with its message and category (FACTS 1.6; idempotent, so
        urllib3 may send it again after a 5xx)."""
        sid = action.submission_id
        body = {"action": "REJECT", "message": action.text, "rejection_category": action.category}
        try:
            answer = self.http.post(f"/api/v1/submissions/{sid}/transition/", body)
        except Unreachable as exc:
            return Reply.failed(f"cannot reach {self.where} while rejecting {sid}: {exc}")
        if answer.ok:
            status = status_word(str((answer.body or {}).get("status") or "")) if isinstance(answer.body, dict) else ""
            if not status or state_of(status) is State.REJECTED:
                return Reply.accepted(detail="rejected")
            return Reply(Outcome.REFUSED, f"{status} on Prolific; not rejected", state=state_of(status))
        error = str(self._error(answer, f"rejecting submission {sid}", f"{self.where} has no submission {sid}"))
        if answer.status == 400:
            # The refusal's wording for a wrong state is unconfirmed (FACTS 1.2): read the state.
            item, _ = self._detail(sid)
            state = state_of(status_word(str(item.get("status") or ""))) if item else None
            if state is not None and state is not State.PENDING:
                return Reply(Outcome.REFUSED, error, state=state)
        return Reply.failed(error)

    # --- bonuses ---------------------------------------------------------------------------

    def paid_bonuses(self, actions: Sequence[Action]) -> tuple[dict[str, list[Decimal]], dict[str, str]]:
        """`bonus_payments` (minor units, one entry per payment, FACTS 1.5) of each submission."""
        try:
            items, unlisted = self._lookup(actions, field="bonus_payments")
        except MarketplaceError as exc:
            return {}, {a.submission_id: str(exc) for a in actions}
        paid: dict[str, list[Decimal]] = {}
        for sid, item in items.items():
            raw = item.get("bonus_payments")
            if raw is None:  # none paid
                continue
            try:
                if not isinstance(raw, list) or any(isinstance(x, bool) or not isinstance(x, (int, float))
                                                    for x in raw):
                    raise TypeError
                amounts = [minor_to_major(x) for x in raw]
            except (TypeError, ValueError, ArithmeticError):
                unlisted[sid] = f"Prolific shows bonus_payments {raw!r} for {sid}"
                continue
            if amounts:
                paid[sid] = amounts
        return paid, unlisted

    def prepare_bonuses(self, actions: Sequence[Action], key: str) -> str:
        """One bonus set-up, by submission id, amounts in major units (FACTS 1.8). Prolific
        takes no idempotency token (`key` is unused): a set-up that is never paid costs
        nothing, so one repeated by a retry is harmless."""
        studies = {self._study_of(a) for a in actions}
        if len(studies) != 1:
            raise MarketplaceError("Bonus", f"bonuses of {len(studies)} studies in one set-up; one study per wave")
        (study,) = studies
        lines = []
        for a in actions:
            if a.amount is None or not a.amount.is_finite() or a.amount <= 0 or a.amount != a.amount.quantize(_CENTS):
                raise MarketplaceError("Bonus", f"bonus {a.amount} for {a.submission_id} is not an amount in pence "
                                                "or cents")
            lines.append(f"{a.submission_id},{a.amount:.2f}")
        doing = f"setting up {len(lines)} bonuses in study {study}"
        answer = self._send(lambda: self.http.post("/api/v1/submissions/bonus-payments/",
                                                   {"study_id": study, "csv_bonuses": "\n".join(lines) + "\n"}),
                            doing)
        if not answer.ok:
            raise self._error(answer, doing, f"{self.where} has no study {study}")
        bonus_id = answer.body.get("id") if isinstance(answer.body, dict) else None
        if not isinstance(bonus_id, str) or not bonus_id:
            raise MarketplaceError("Bonus", f"{self.where} set the bonuses up without naming the set-up")
        # SPEC §12: the set-up's figures must be the plan's before the pay call, which cannot be undone.
        check_setup(answer.body, actions, fee_rate=self.fee_rate, vat_rate=self.vat_rate,
                    where=f"{self.where} (bulk bonus {bonus_id})", currency=self.currency)
        return bonus_id

    def pay_bonuses(self, batch_id: str, actions: Sequence[Action]) -> dict[str, Reply]:
        """One pay call, never repeated by this adapter (FACTS 1.8). 202: paid (Prolific
        pays within minutes). A 5xx, a timeout or a dropped connection: `unknown`; a refusal
        (4xx, 429 after its retries) or a connection never made: `failed` (nothing paid)."""
        ids = [a.submission_id for a in actions]
        try:
            answer = self.http.post(f"/api/v1/bulk-bonus-payments/{batch_id}/pay/", once=True)
        except Unreachable as exc:
            outcome = Outcome.UNKNOWN if exc.sent else Outcome.FAILED
            return {sid: Reply(outcome, f"paying bulk bonus {batch_id}: {exc}") for sid in ids}
        if answer.ok:
            return {sid: Reply.accepted(batch_id, f"paid by bulk bonus {batch_id}") for sid in ids}
        error = str(self._error(answer, f"paying bulk bonus {batch_id}", f"{self.where} has no bulk bonus {batch_id}"))
        outcome = Outcome.UNKNOWN if answer.status >= 500 else Outcome.FAILED
        return {sid: Reply(outcome, error) for sid in ids}

    # --- groups ----------------------------------------------------------------------------

    def add_to_group(self, group_id: str, actions: Sequence[Action]) -> dict[str, Reply]:
        """One append (already-members ignored, FACTS 1.10); replies by participant id."""
        ids = list(dict.fromkeys(a.participant_id for a in actions))
        doing = f"adding {len(ids)} participants to participant group {group_id}"
        try:
            answer = self.http.post(f"/api/v1/participant-groups/{group_id}/participants/", {"participant_ids": ids})
        except Unreachable as exc:
            return {pid: Reply.failed(f"cannot reach {self.where} while {doing}: {exc}") for pid in ids}
        if answer.ok:
            return {pid: Reply.accepted(detail=f"in participant group {group_id}") for pid in ids}
        error = self._error(answer, doing, f"{self.where} has no participant group {group_id}")
        if isinstance(error, BatchRefused):  # one bad id among them: the executor splits the batch
            raise error
        return {pid: Reply.failed(str(error)) for pid in ids}

    # --- the rest of a close-out (SPEC §9) -------------------------------------------------

    def override(self, actions: Sequence[Action]) -> dict[str, Reply]:
        """UNREJECT, then APPROVE (see the module's docstring), one submission at a time."""
        return {a.submission_id: override_reply(self, a.submission_id) for a in actions}

    def group_members(self, group_id: str) -> set[str]:
        """GET participant-groups/{id}/participants/ (FACTS 1.10), following `next` links if
        Prolific pages it."""
        doing = f"listing participant group {group_id}"
        members: set[str] = set()
        url: str | None = f"/api/v1/participant-groups/{group_id}/participants/"
        seen: set[str] = set()
        while url and url not in seen and len(seen) < MAX_PAGES:
            seen.add(url)
            answer = self._send(lambda: self.http.get(url), doing)
            if not answer.ok:
                raise self._error(answer, doing, f"{self.where} has no participant group {group_id}")
            body = answer.body if isinstance(answer.body, dict) else {}
            members |= {r["participant_id"] for r in body.get("results") or []
                        if isinstance(r, dict) and isinstance(r.get("participant_id"), str)}
            url = ((body.get("_links") or {}).get("next") or {}).get("href")
        return members

    def remove_from_group(self, group_id: str, actions: Sequence[Action]) -> dict[str, Reply]:
        """One removal (non-members ignored, FACTS 1.10); replies by participant id."""
        ids = list(dict.fromkeys(a.participant_id for a in actions))
        doing = f"removing {len(ids)} participants from participant group {group_id}"
        try:
            answer = self.http.send("DELETE", f"/api/v1/participant-groups/{group_id}/participants/",
                                    body={"participant_ids": ids})
        except Unreachable as exc:
            return {pid: Reply.failed(f"cannot reach {self.where} while {doing}: {exc}") for pid in ids}
        if answer.ok:
            return {pid: Reply.accepted(detail=f"removed from participant group {group_id}") for pid in ids}
        error = str(self._error(answer, doing, f"{self.where} has no participant group {group_id}"))
        return {pid: Reply.failed(error) for pid in ids}

    def notify(self, actions: Sequence[Action]) -> dict[str, Reply]:
        """One bulk message (FACTS 1.11), the subject as its first line; sent once (a 5xx,
        a timeout or a dropped answer: UNKNOWN, never sent again)."""
        ids = list(dict.fromkeys(a.participant_id for a in actions))
        first = actions[0]
        body = f"{first.subject}\n\n{first.text}" if first.subject else first.text
        study = self._study_of(first)
        try:
            answer = self.http.post("/api/v1/messages/bulk/", {"ids": ids, "body": body, "study_id": study},
                                    once=True)
        except Unreachable as exc:
            outcome = Outcome.UNKNOWN if exc.sent else Outcome.FAILED
            return {pid: Reply(outcome, f"sending the message: {exc}") for pid in ids}
        if answer.ok:
            return {pid: Reply.accepted(detail="sent (bulk message)") for pid in ids}
        error = str(self._error(answer, f"messaging {len(ids)} participants", f"{self.where} has no study {study}"))
        return {pid: Reply(Outcome.UNKNOWN if answer.status >= 500 else Outcome.FAILED, error) for pid in ids}

    # --- the checks that keep a plan to its study and its money (SPEC §12) -------------

    def outside_task(self, actions: Sequence[Action]) -> dict[str, str]:
        """The submissions Prolific shows in another study than the wave's, with that study
        (read as `states` reads them: the study's list, or one GET each)."""
        wanted = [a for a in actions if a.submission_id]
        if not wanted:
            return {}
        items, _ = self._lookup([dataclasses.replace(a, task_id=self.study_id) for a in wanted])
        return {sid: study for sid, item in items.items()
                if isinstance(study := item.get("study_id"), str) and study and study != self.study_id}

    def bonus_cost(self) -> Decimal | None:
        """The bonuses Prolific has charged on the study (GET /studies/{id}/cost/, FACTS 1.9)."""
        doing = f"reading the cost of study {self.study_id}"
        answer = self._send(lambda: self.http.get(f"/api/v1/studies/{self.study_id}/cost/"), doing)
        if not answer.ok:
            raise self._error(answer, doing, f"{self.where} has no study {self.study_id}")
        return bonus_cost(answer.body)

    def compensation_group(self, action: Action) -> str:
        raise MarketplaceError("Compensation", "Prolific cannot open a study to one participant through its API: a "
                                               "compensation on Prolific is a bonus on the participant's submission")

    def create_compensation(self, group_id: str, action: Action, token: str) -> Reply:
        return Reply.failed("Prolific cannot open a study to one participant through its API")

    def expire_tasks(self, actions: Sequence[Action]) -> dict[str, Reply]:
        return {a.task_id: Reply.failed("Prolific: a study is stopped in Prolific's app, not by this tool")
                for a in actions}


def connect(settings: Any, env: Mapping[str, str], **options: Any) -> ProlificMarketplace:
    """The adapter for the wave's study. The token (PROLIFIC_API_TOKEN only) and the study
    (`[prolific] study_id`, else the id in the export's file name) are resolved now: an
    InputError before any request when either is missing. `options` go to the adapter
    (settle_seconds, confirm_seconds, poll_first, poll_max) or, as `http`, replace the
    HTTP client (tests tune its back-off)."""
    from bridge.panels.prolific.reader import study_id_from_name

    p = settings.prolific
    token = token_from(env)
    study_id = p.study_id or study_id_from_name(p.csv)
    if not study_id:
        raise InputError("set [prolific] study_id (the study's id, 24 characters from its page in Prolific): "
                         "applying needs it and the export's file name does not carry it.")
    http = options.pop("http", None) or ProlificHttp(p.environment, token)
    for key in ("fee_rate", "vat_rate"):  # the plan's fees, to check a bonus set-up against
        if getattr(p, key, None) is not None:
            options.setdefault(key, getattr(p, key))
    currency = getattr(getattr(settings, "wave", None), "currency", None)
    if currency:
        options.setdefault("currency", currency)
    return ProlificMarketplace(http, study_id, environment=p.environment, workspace_id=p.workspace_id, **options)
