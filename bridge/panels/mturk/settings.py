"""The `[mturk]` section of a wave's config (SPEC §3)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from bridge.settings_base import Section

_ENTITY_ID = re.compile(r"^[A-Z0-9]+$")
# RejectAssignment refuses these ASCII control characters in feedback (FORMATS.md).
_BAD_FEEDBACK_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def check_feedback(value: str) -> str:
    """MTurk's rules for feedback text (RejectAssignment); raises ValueError."""
    if len(value) > 1024:
        raise ValueError(f"is {len(value)} characters; MTurk accepts at most 1024")
    if _BAD_FEEDBACK_CHARS.search(value):
        raise ValueError("contains control characters that MTurk refuses")
    return value


class MTurkSettings(Section):
    csv: Path | None = None
    hit_ids: list[str] | None = None
    code_answer: str = Field(default="surveycode", min_length=1)
    environment: str = "sandbox"
    profile: str | None = None
    # After applying, set the wave's HITs to expire now (SPEC §9): no new worker accepts them.
    expire_hits: bool = False
    # The HITs require Masters (a 5% fee surcharge on rewards): read from the HIT through the
    # API; the batch file does not say, so the config can.
    masters: bool = False

    @field_validator("code_answer")
    @classmethod
    def _code_answer(cls, v: str) -> str:
        # The batch file's column is `Answer.surveycode`; the field is `surveycode`.
        return v.removeprefix("Answer.") or v

    @field_validator("hit_ids")
    @classmethod
    def _hit_ids(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not v:
                raise ValueError("is empty; list at least one HIT id")
            bad = [h for h in v if not _ENTITY_ID.match(h)]
            if bad:
                raise ValueError(f"{', '.join(bad)}: a HIT id is upper-case letters and digits only")
        return v

    @field_validator("environment")
    @classmethod
    def _environment(cls, v: str) -> str:
        if v in ("sandbox", "production") or re.match(r"^https?://", v):
            return v
        raise ValueError(f"{v!r} must be sandbox, production or an http://127.0.0.1:PORT endpoint")

    @model_validator(mode="after")
    def _a_source(self) -> "MTurkSettings":
        # With both, the file is read and hit_ids checks it (SPEC §12: every HIT of the file
        # must be listed).
        if self.csv is None and self.hit_ids is None:
            raise ValueError("give csv = \"batch_results.csv\" or hit_ids = [\"...\"] (or both: the file is read "
                             "and hit_ids checks it)")
        return self
