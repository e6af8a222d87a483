"""The `[prolific]` section of a wave's config (SPEC §7)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from bridge.settings_base import Section

PROLIFIC_ID = re.compile(r"^[a-f0-9]{24}$")  # FACTS 1.1: 24 lowercase hex characters
# What a completion code means for the close-out (SPEC §7).
CodeOutcome = Literal["completed", "failed_check"]


def _rate(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError("must be a rate such as \"0.333\"")
    try:
        rate = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a rate such as \"0.333\"") from None
    if not rate.is_finite() or rate < 0 or rate >= 1:
        raise ValueError(f"{value!r} must be a fraction from 0 up to (not including) 1, such as \"0.333\"")
    return rate


class ProlificSettings(Section):
    csv: Path | None = None
    study_id: str | None = Field(default=None, pattern=PROLIFIC_ID.pattern)
    workspace_id: str | None = Field(default=None, pattern=PROLIFIC_ID.pattern)
    # The export's column holding the participant id, when a lab renamed `Participant id`.
    participant_column: str | None = Field(default=None, min_length=1)
    completion_codes: dict[str, CodeOutcome] = Field(default_factory=dict)
    environment: str = "production"
    # Prolific's service fee on rewards and bonuses: 33.3% for academic accounts, 42.8% for
    # corporate ones (FACTS §2); VAT on that fee for UK workspaces (20%).
    fee_rate: Decimal = Decimal("0.333")
    vat_rate: Decimal = Decimal("0")

    @field_validator("fee_rate", "vat_rate", mode="before")
    @classmethod
    def _rates(cls, v: Any) -> Decimal:
        return _rate(v)

    @field_validator("completion_codes")
    @classmethod
    def _codes(cls, v: dict[str, str]) -> dict[str, str]:
        blank = [c for c in v if not c.strip()]
        if blank:
            raise ValueError("a completion code is empty")
        return {c.strip(): outcome for c, outcome in v.items()}

    @field_validator("environment")
    @classmethod
    def _environment(cls, v: str) -> str:
        if v == "production" or re.match(r"^https?://", v):
            return v
        hint = " (Prolific has no sandbox)" if v == "sandbox" else ""
        raise ValueError(f"{v!r} must be production or an http://127.0.0.1:PORT emulator{hint}")

    @model_validator(mode="after")
    def _a_source(self) -> "ProlificSettings":
        # The export does not name its study (its file name usually does): with csv, a
        # study_id names it for the workbook and for applying.
        if self.csv is None and self.study_id is None:
            raise ValueError("give csv = \"prolific_export.csv\" (the study's export) or study_id = \"...\" (the API)")
        if self.participant_column is not None and self.csv is None:
            raise ValueError("participant_column names a column of the study's export: it goes with csv = \"...\"")
        return self
