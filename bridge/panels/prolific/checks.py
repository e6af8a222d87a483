"""The money checks of applying on Prolific (SPEC §12): the bonus set-up's answer against the
plan before the pay call that cannot be undone, and the study's cost read back afterwards.

The set-up takes amounts in major units ("An amount of 30 will pay £/$30.00", FACTS 1.8)
while a recipe Prolific publishes elsewhere sends cents: a set-up that read its amounts in
other units answers an `amount` a hundred times the plan's, and paying it would pay that.
So the answer (`BulkBonus`: `amount`, `fees`, `vat`, `total_amount`, minor units as
floats, FACTS 1.8) must say what the plan says for exactly the set-up's members:

- `amount`: the sum of the planned bonuses, exactly;
- `fees` + `vat`: the plan's fees on them (`[prolific] fee_rate`, `vat_rate`), within
  rounding: one minor unit per member, or 2% of the planned fees when that is more (Prolific
  rounds its fee in fractions of a penny, and a `fee_rate` of 0.333 is not its 1/3 to the
  penny on large bonuses); a gross difference (a corporate account's 42.8% against 33.3%)
  is refused with the hint to check the rates;
- `total_amount` = `amount` + `fees` + `vat`.

Otherwise nothing is paid: the bonuses fail with both figures (exit 2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge.actions import Action
from bridge.market import MarketplaceError
from bridge.money import fmt, rate_fee

_HUNDRED = Decimal(100)
_FEE_SLACK = Decimal("0.02")  # of the planned fees
_FLOAT_SLACK = Decimal("0.01")  # minor units: floats on the wire


def _minor(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        return None
    return out if out.is_finite() else None


def _major(minor: Decimal) -> str:
    return fmt(minor / _HUNDRED)


def check_setup(body: Any, actions: Sequence[Action], *, fee_rate: Decimal, vat_rate: Decimal, where: str,
                currency: str = "") -> None:
    """Raise MarketplaceError ("BonusCheck") unless the set-up's answer `body` is the plan
    for `actions` (see the module's docstring)."""
    cur = f" {currency}" if currency else ""
    amount = sum((a.amount for a in actions if a.amount is not None), Decimal("0.00")) * _HUNDRED
    fees = sum((rate_fee(a.amount, fee_rate=fee_rate, vat_rate=vat_rate) for a in actions if a.amount is not None),
               Decimal("0.00")) * _HUNDRED
    plan = (f"the plan says {len(actions)} bonus(es) of {_major(amount)}{cur}, fees and VAT {_major(fees)}{cur}, "
            f"total {_major(amount + fees)}{cur}")
    body = body if isinstance(body, Mapping) else {}
    got = {k: _minor(body.get(k)) for k in ("amount", "fees", "vat", "total_amount")}
    said = (f"{where} set them up as amount {_shown(got['amount'], cur)}, fees {_shown(got['fees'], cur)}, VAT "
            f"{_shown(got['vat'], cur)}, total {_shown(got['total_amount'], cur)}")
    slack = max(Decimal(len(actions)), fees * _FEE_SLACK)
    problem = ""
    if got["amount"] is None and got["total_amount"] is None:
        problem = "the answer names no amount"
    elif got["amount"] is not None and abs(got["amount"] - amount) > _FLOAT_SLACK:
        times = got["amount"] / amount if amount else None
        problem = "the amounts differ" + (f" ({float(times):.4g} times the plan's: amounts read in other units?)"
                                          if times is not None and times not in (0, 1) else "")
    elif got["fees"] is not None and abs(got["fees"] + (got["vat"] or 0) - fees) > slack:
        problem = "the fees differ (check [prolific] fee_rate and vat_rate against the workspace's)"
    elif got["total_amount"] is not None:
        whole = got["amount"] is not None and got["fees"] is not None
        expected = got["amount"] + got["fees"] + (got["vat"] or 0) if whole else amount + fees
        if abs(got["total_amount"] - expected) > (_FLOAT_SLACK if whole else slack):
            problem = "the total differs"
    if problem:
        raise MarketplaceError("BonusCheck", f"{said}; {plan}: {problem}. Nothing was paid (the set-up is left "
                                             "unpaid, which costs nothing); find out why before running again")


def _shown(minor: Decimal | None, cur: str) -> str:
    return "none" if minor is None else f"{_major(minor)}{cur}"


def bonus_cost(body: Any) -> Decimal | None:
    """The bonuses (without fees) of a `StudyTotalCost` answer (FACTS 1.9), major units;
    None when it does not say."""
    if not isinstance(body, Mapping):
        return None
    bonuses = body.get("bonuses")
    rewards = bonuses.get("rewards") if isinstance(bonuses, Mapping) else None
    amount = _minor(rewards.get("amount")) if isinstance(rewards, Mapping) else None
    return None if amount is None else (amount / _HUNDRED).quantize(Decimal("0.01"))
