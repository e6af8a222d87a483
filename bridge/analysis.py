"""Data for analysis as a pandas DataFrame (SPEC §11): `responses_frame(config_path)`.

The same table as the close-out's `<wave>-responses.csv` (`bridge.responses`, which
documents its columns): the wave is planned again (`bridge.closeout.plan_wave`), a person's
edits in the workbook already there are carried over (`bridge.workbook.review`), and the
rows are built by `bridge.responses.table`. Nothing is written and no money moves; pandas is
imported here only, never on the close-out's path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from bridge.closeout import plan_wave
from bridge.config import load_config
from bridge.responses import OUTCOME_COLUMNS, PAY_FACTS, table
from bridge.sources._csv import unique_names
from bridge.workbook.review import carry_over

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PAY_FACTS", "responses_frame"]


def responses_frame(config_path: str | os.PathLike, *, now: datetime | None = None,
                    env: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The analysis table of the wave `config_path` describes, as a pandas DataFrame.

    The same rows and cells as the close-out's CSV: planned with `bridge.closeout.plan_wave`
    (a person's edits in the workbook already there carried over, the workbook only read),
    survey and outcome columns as pandas' `string` dtype (empty cells are "", not NA),
    `Include` as `bool`. Moves no money, writes nothing; needs no credentials when the config
    reads files (`env`: where tokens are looked up for an API source, default the process's).
    """
    import pandas as pd

    settings = load_config(Path(config_path))
    result = plan_wave(settings, now or datetime.now(timezone.utc), env=env, keep_export=True)
    try:
        result.plan = carry_over(result.plan, settings, settings.workbook_path).plan
        header, rows = table(result, settings)
        columns: list[list[str]] = [[] for _ in header]
        appends = [c.append for c in columns]
        for row in rows:
            for append, value in zip(appends, row):
                append(value)
    finally:
        if result.survey_export is not None:
            result.survey_export.close()
    names = unique_names(header)
    data = {n: pd.array(values, dtype="string") for n, values in zip(names, columns)}
    include = len(names) - 1 - OUTCOME_COLUMNS[::-1].index("Include")
    data[names[include]] = pd.array([v == "true" for v in columns[include]], dtype="bool")
    return pd.DataFrame(data, copy=False)
