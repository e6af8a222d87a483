"""The panels a wave can be recruited on, each in its own folder.

A panel folder holds the panel's own words and nothing else needs them: its config section
(`settings.py`), its file reader (`reader.py`), its API source (`api.py`), its adapter
behind the `Marketplace` seam (`adapter.py`), its emulator (`emulator/`), and one object,
`PANEL`, that describes it to the panel-neutral core (`Panel` below). The core asks the
panel; it never tests which panel it is. A third panel is added by copying the shape of
`prolific/`, naming it in `PANELS` and giving its settings section a field of
`bridge.config.Settings`.

Panels sit on a floor below the config: a panel imports the core's data (`models`, `match`),
the apply seam (`bridge.market`, `bridge.actions`) and the sources, never `bridge.config`,
`rules`, `closeout` or `apply`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bridge.identity import Identity
    from bridge.market import Marketplace
    from bridge.match import MatchOptions
    from bridge.models import Columns, SubmissionTable, Terms

# The wave's validated config (`bridge.config.Settings`). Panels sit below the config, which
# holds their sections, so they read it without importing it.
Settings = Any

# [wave] platform -> the module whose PANEL describes it.
PANELS = {"mturk": "bridge.panels.mturk", "prolific": "bridge.panels.prolific"}


class Panel(Protocol):
    key: str  # the [wave] platform value and the config section's name
    name: str  # "MTurk", "Prolific": in labels and messages
    columns: Columns  # the workbook's column names for the panel's ids

    def config_problems(self, settings: Settings) -> list[str]:
        """What this panel refuses in a config that is otherwise valid (all at once)."""

    def read(self, settings: Settings, env: Mapping[str, str]) -> SubmissionTable:
        """The wave's submissions, from the file or the API the config names."""

    def column_problems(self, settings: Settings, table: SubmissionTable) -> list[str]:
        """Fields the config names that the submissions do not have."""

    def match_options(self, settings: Settings) -> MatchOptions:
        """How submissions join survey responses."""

    def identity(self, settings: Settings, table: SubmissionTable) -> Identity:
        """The wave's task as the panel's own sources name it (file name, config, API),
        with every disagreement among them (SPEC §12)."""

    def task_column(self, settings: Settings) -> str | None:
        """The survey column that holds the panel's task id (Prolific's STUDY_ID), if any."""

    def terms(self, settings: Settings, table: SubmissionTable) -> Terms:
        """Currency, fees, words and rejection rules of this wave."""

    def environment(self, settings: Settings) -> str:
        """Where money moves, as the config says it."""

    def canonical_environment(self, environment: str) -> str:
        """The one spelling of an environment, for ledger keys and labels."""

    def describe_environment(self, environment: str) -> str:
        """For messages: "the MTurk sandbox", "Prolific at http://127.0.0.1:8765"."""

    def connect(self, settings: Settings, env: Mapping[str, str]) -> Marketplace:
        """The adapter for applying; credentials resolved now (InputError if missing)."""

    def feedback_problem(self, text: str) -> str | None:
        """Why the panel would refuse this rejection message, or None."""


def get_panel(key: str) -> Panel:
    try:
        module = PANELS[key]
    except KeyError:
        raise ValueError(f"unknown platform {key!r}; known: {', '.join(PANELS)}") from None
    return importlib.import_module(module).PANEL
