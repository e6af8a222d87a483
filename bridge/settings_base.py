"""What every config section shares: unknown keys are errors, text is trimmed."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
