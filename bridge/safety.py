"""Safe by default (SPEC §12): the plausible mistake is refused, or sent to a person (pure).

Two gates on bulk harm (`[safety]`), applied to a plan's decisions after the rules made them
(`bridge.rules.build_plan`), each stated in the Summary with its figures:

- `min_match_share` (0.5): when fewer than that share of the *decidable* submissions (those
  awaiting review, `State.PENDING`) match a survey response, a wrong file is likelier than
  that many people cheating: rejections for `unmatched` become `review` (`low_match_share`).
- `max_reject_share` (0.25): when one rule (`unmatched`, `too_fast`, `attention_failed`, the
  failed-check completion code) would reject more than that share of the decidable
  submissions, its rejections become `review` (`many_rejections`): a broken check, cut-off
  or export is likelier. A rejection another rule also makes stands, with that rule's
  message and category.

A person can still reject any of them in the workbook. And one check on the survey before
anything is decided (`attention_coding`): an attention check whose expected answer is in
none of the finished responses is a config error naming the column, the expected text and
the values it holds (numeric codes, most often); a column mixing numeric codes and choice
text is a warning.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bridge.config import Settings
from bridge.errors import ConfigError
from bridge.match import IGNORED_STATUSES
from bridge.models import Decision, MatchKind, Response, State, SubmissionDecision, Terms

LOW_MATCH = "low_match_share"
MANY_REJECTIONS = "many_rejections"
MATCH_LABEL = "Match share (matched / decidable)"
REJECT_LABEL = "Would reject for {rule} (share of decidable)"
# The rules that can reject, in the order `bridge.rules.decide` applies them: rule -> the
# reason a rejection for it carries (its category follows from the reason).
RULES = {"unmatched": "unmatched", "failed_check code": "attention_failed", "too_fast": "too_fast",
         "attention_failed": "attention_failed"}
_HINTS = {
    "unmatched": "another study's export, another survey's, or the wrong join column?",
    "too_fast": "is the cut-off right for this survey?",
    "attention_failed": "are the answers exported as numeric codes, or is the expected answer mistyped?",
    "failed_check code": "does the survey send people to the failed-check code by mistake?",
}
_CODE = re.compile(r"^-?[0-9]+$")


def is_safety_row(label: str) -> bool:
    """A Summary row the gates add (the CLI prints them with the other figures)."""
    return label == MATCH_LABEL or label.startswith("Would reject")


def feedback_of(rule: str, settings: Settings) -> str:
    rules = settings.rules
    return {"unmatched": rules.reject_feedback, "too_fast": rules.too_fast_feedback}.get(rule,
                                                                                        rules.attention_feedback)


@dataclass(slots=True)
class Gates:
    """What the gates found: Summary rows and warnings."""

    figures: list[tuple[str, object]]
    warnings: list[str]


def apply_gates(decisions: Sequence[SubmissionDecision], rejecting: Mapping[int, Sequence[str]],
                withheld: Mapping[int, Decimal], settings: Settings, terms: Terms, key_column: str) -> Gates:
    """Send the rejections the gates catch to review, in place. `rejecting`: by index of
    `decisions`, the rules that rejected it (pending rejections only); `withheld`: the bonus
    a rejection took away (shown again once the row is in review); `key_column`: the survey
    column submissions join on (named in the warning)."""
    safety, word = settings.safety, terms.submission_word
    decidable = sum(d.state is State.PENDING for d in decisions)
    matched = sum(d.state is State.PENDING and d.match in (MatchKind.EXACT, MatchKind.NORMALIZED) for d in decisions)
    per_rule = Counter(rule for rules in rejecting.values() for rule in dict.fromkeys(rules))
    figures: list[tuple[str, object]] = []
    warnings: list[str] = []
    tripped: dict[str, list[str]] = {}  # rule -> the reasons its rejections go to review for
    if not decidable:
        figures.append((MATCH_LABEL, "no submissions awaiting review"))
        return Gates(figures, warnings)
    share = matched / decidable
    low = share < safety.min_match_share
    if low:
        tripped["unmatched"] = [LOW_MATCH]
    for rule, n in per_rule.items():
        if n / decidable > safety.max_reject_share:
            tripped.setdefault(rule, []).append(MANY_REJECTIONS)
    moved: Counter[str] = Counter()
    for i, rules in rejecting.items():
        caught = [r for r in rules if r in tripped]
        if not caught:
            continue
        d = decisions[i]
        left = [r for r in rules if r not in tripped]
        why = list(dict.fromkeys(reason for r in caught for reason in tripped[r]))
        for reason in why:
            if reason not in d.reasons:
                d.reasons.append(reason)
        for rule in caught:
            moved[rule] += 1
        if left:  # another rule still rejects it: its own message and category
            d.feedback = feedback_of(left[0], settings)
            if terms.rejection_categories is not None:
                d.rejection_category = terms.rejection_categories.get(RULES[left[0]], "OTHER")
            d.notes.append(f"not rejected for {', '.join(caught)} ({', '.join(why)}): rejected for {left[0]}")
            continue
        d.decision, d.feedback, d.rejection_category = Decision.REVIEW, "", ""
        d.notes.append(f"review, not reject: the safety gate ({', '.join(why)}) sent the rejection for "
                       f"{', '.join(caught)} to a person")
        bonus = withheld.get(i)
        if bonus is not None and d.bonus is None:
            d.bonus = bonus
            d.notes[:] = [n for n in d.notes if not n.startswith(f"bonus {bonus} not paid")]
    gate = f"(min_match_share {safety.min_match_share:g})"
    figures.append((MATCH_LABEL, f"{matched} / {decidable} = {share:.2f} {gate}"
                    + (f": {moved['unmatched']} rejection(s) for unmatched sent to review ({LOW_MATCH})"
                       if low and moved["unmatched"] else ": below the gate" if low else "")))
    if low:
        warnings.append(
            f"Only {matched} of the {decidable} {word}s awaiting review match a survey response ({share:.0%}; "
            f"[safety] min_match_share {safety.min_match_share:g}): a wrong file is likelier than that many people "
            f"without a response. Check the files: another study's export, another survey's export, or the join "
            f"column ({key_column!r}). "
            + (f"The {moved['unmatched']} rejection(s) for unmatched are in review ({LOW_MATCH}); a person can still "
               "reject them in the workbook." if moved["unmatched"] else "Nothing is rejected for it."))
    limit = f"(max_reject_share {safety.max_reject_share:g})"
    if not per_rule:
        figures.append((REJECT_LABEL.format(rule="any rule"), f"0 / {decidable} = 0.00 {limit}"))
    for rule in RULES:
        n = per_rule.get(rule, 0)
        if not n:
            continue
        many = MANY_REJECTIONS in tripped.get(rule, ())
        figures.append((REJECT_LABEL.format(rule=rule), f"{n} / {decidable} = {n / decidable:.2f} {limit}"
                        + (f": sent to review ({MANY_REJECTIONS})" if many else "")))
        if many and not (rule == "unmatched" and low):  # the low match share's warning says it
            warnings.append(
                f"The rule {rule} would reject {n} of the {decidable} {word}s awaiting review ({n / decidable:.0%}; "
                f"[safety] max_reject_share {safety.max_reject_share:g}): a broken check, cut-off or export is "
                f"likelier than that many people failing ({_HINTS[rule]}). Those rejections are in review "
                f"({MANY_REJECTIONS}); a person can still reject them in the workbook.")
    return Gates(figures, warnings)


# --- the attention checks' coding, read from the survey -----------------------------------


def _shown(values: Counter[str], most: int = 8) -> str:
    text = ", ".join(f"{(v[:40] + '…') if len(v) > 40 else v or '(empty)'} ({n})" for v, n in values.most_common(most))
    return text + (f" and {len(values) - most} more" if len(values) > most else "")


def attention_coding(settings: Settings, responses: Iterable[Response]) -> list[str]:
    """Warnings for attention-check columns that mix numeric codes and choice text; raises
    ConfigError (every check at once) when a check's expected answer is in none of the
    finished responses (a check everyone fails is a wrong setting or export, not a wave of
    cheats)."""
    checks = settings.rules.attention_checks
    if not checks:
        return []
    finished = [r for r in responses if r.finished is True and r.status not in IGNORED_STATUSES]
    if not finished:
        return []
    problems, warnings = [], []
    for i, check in enumerate(checks, 1):
        key = f"[rules] attention_checks[{i}]"
        values = Counter(r.fields.get(check.column, "").strip() for r in finished)
        expected = check.expected if isinstance(check.expected, str) else " or ".join(check.expected)
        codes = Counter({v: n for v, n in values.items() if _CODE.match(v)})
        texts = Counter({v: n for v, n in values.items() if v and not _CODE.match(v)})
        if not any(check.passes(v) for v in values):
            hint = ("Check the column and the expected text: a check that every participant fails is far likelier a "
                    "wrong setting than a wave of cheats.")
            if codes and not texts:
                hint = (f"The column holds numeric codes: export the responses with choice text (Qualtrics: Export, "
                        f"\"Use choice text\"), or set expected to the code of {expected!r} (e.g. expected = "
                        f"\"{codes.most_common(1)[0][0]}\", the most frequent answer).")
            problems.append(f"{key}: the expected answer {expected!r} is in none of the {len(finished)} finished "
                            f"responses' column {check.column!r}, which holds {_shown(values)}. {hint}")
        elif codes and texts:
            coded = sum(codes.values())
            warnings.append(
                f"{key}: column {check.column!r} mixes numeric codes ({_shown(codes, 4)}) and choice text "
                f"({_shown(texts, 4)}): the {coded} coded answer(s) are read as wrong answers to {expected!r}. Export "
                "the responses again with choice text, or list the code in expected.")
    if problems:
        raise ConfigError(settings.path, problems)
    return warnings
