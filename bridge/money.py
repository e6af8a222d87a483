"""Money: parsing amounts as written by people and spreadsheets, cents, and the panels' fees.

Every amount is a `decimal.Decimal`; floats never touch money.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
# One optional sign (before or after `$`), digits with optional thousands groups of three,
# optional decimals. A decimal comma (`0,50`) is refused rather than read as 50.
_AMOUNT = re.compile(
    r"^([+-]?)\s*[$£]?\s*([+-]?)\s*((?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+)\s*(?:USD|GBP)?$",
    re.IGNORECASE,
)


class AmountError(ValueError):
    pass


def parse_amount(text: str) -> Decimal:
    """`$1.50`, `£1.50`, `1.5`, `1,000.00`, `-0.25`, `2 USD`, `2 GBP` → Decimal (sign kept,
    not rounded). The symbol is not checked against the wave's currency.

    Raises AmountError for anything else (`abc`, `1.2.3`, `NaN`, `1e3`).
    """
    s = str(text).strip()
    m = _AMOUNT.match(s)
    if not m:
        raise AmountError(f"not an amount: {text!r}")
    sign_before, sign_after, digits = m.groups()
    if sign_before and sign_after:
        raise AmountError(f"not an amount: {text!r}")
    try:
        value = Decimal(digits.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern already excludes these
        raise AmountError(f"not an amount: {text!r}") from None
    return -value if "-" in sign_before + sign_after else value


def to_cents(value: Decimal) -> Decimal:
    """Round half-up to whole cents."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def has_sub_cent(value: Decimal) -> bool:
    return to_cents(value) != value


def fmt(value: Decimal | None) -> str:
    """Two decimal places, or empty for None."""
    return "" if value is None else f"{to_cents(value):.2f}"


def fee(amount: Decimal, *, is_reward: bool, max_assignments: int | None, masters: bool = False) -> Decimal:
    """MTurk's commission on one reward or one bonus (mturk.com pricing, 2015 onwards).

    20% of the amount; rewards on HITs with 10 or more assignments pay 20% more, and 5%
    more on HITs that require Masters; at least $0.01; rounded half-up to the cent. Zero
    amounts cost nothing.
    """
    if amount <= 0:
        return Decimal("0.00")
    rate = Decimal("0.20")
    if is_reward and max_assignments is not None and max_assignments >= 10:
        rate += Decimal("0.20")
    if is_reward and masters:
        rate += Decimal("0.05")
    return max(CENT, to_cents(amount * rate))


def rate_fee(amount: Decimal, *, fee_rate: Decimal, vat_rate: Decimal) -> Decimal:
    """A percentage fee with VAT on the fee (Prolific, FACTS §2): `fee_rate` of the amount,
    plus `vat_rate` of that fee, each rounded half-up to the minor unit."""
    if amount <= 0:
        return Decimal("0.00")
    service = to_cents(amount * fee_rate)
    return service + to_cents(service * vat_rate)
