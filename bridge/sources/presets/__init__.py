"""Presets: the export layouts of survey tools whose format is public (SPEC §14), as data.

One TOML file per tool in this folder, named by the `[survey] format` that chooses it
(`limesurvey.toml` → `format = "limesurvey"`): `name`, `what` (the kind of file, for
messages), `source` (the documentation it follows; each file cites its sources in a comment)
and one `[[styles]]` table per heading style the tool writes, mapping the keys of
`bridge.sources.csv_survey.CsvLayout` to column names. `required` lists the keys whose
column the file must have; the others are used when it has them. A preset's names also
match a header that differs in case or writes spaces as underscores. A preset is a table of
column names, not code: a new tool whose export is documented is one more file.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources

from bridge.sources.csv_survey import COLUMN_KEYS, CsvLayout

_LAYOUT_KEYS = frozenset(COLUMN_KEYS) | {"finished_values"}


@dataclass(frozen=True, slots=True)
class Preset:
    key: str  # the format name: "limesurvey"
    name: str  # "LimeSurvey"
    what: str  # "LimeSurvey response export"
    source: str  # the documentation's address
    styles: tuple[CsvLayout, ...]
    other_columns: tuple[tuple[str, ...], ...] = ()  # per style: the tool's other metadata columns

    def layouts(self, overrides: Mapping[str, object]) -> tuple[CsvLayout, ...]:
        """Each heading style with the config's own keys in place of the preset's; a column
        the config names is one the file must have."""
        given = {k: (tuple(v) if k == "finished_values" else v) for k, v in overrides.items()
                 if k in _LAYOUT_KEYS and v is not None}
        if not given:
            return self.styles
        named = frozenset(k for k in given if k in COLUMN_KEYS)
        out = []
        for style in self.styles:
            changed = dict(given)
            if "duration_column" in given:  # the config's count of seconds, not the preset's times
                changed.setdefault("started_column", None)
                changed.setdefault("ended_column", None)
            if "started_column" in given or "ended_column" in given:
                changed.setdefault("duration_column", None)
            required = frozenset(k for k in style.required | named if changed.get(k, getattr(style, k)))
            out.append(replace(style, **changed, required=required))
        return tuple(out)


def names() -> list[str]:
    """The formats a preset provides, sorted."""
    return sorted(p.name.removesuffix(".toml") for p in resources.files(__name__).iterdir()
                  if p.name.endswith(".toml"))


@functools.cache
def preset(key: str) -> Preset:
    """The preset `key` (KeyError when there is none)."""
    if key not in names():
        raise KeyError(key)
    data = tomllib.loads(resources.files(__name__).joinpath(f"{key}.toml").read_text(encoding="utf-8"))
    styles, others = [], []
    for table in data["styles"]:
        table = dict(table)
        others.append(tuple(table.pop("other_columns", ())))
        required = frozenset(table.pop("required", ()))
        if "finished_values" in table:
            table["finished_values"] = tuple(table["finished_values"])
        styles.append(CsvLayout(**table, required=required, loose=True))
    return Preset(key=key, name=data["name"], what=data["what"], source=data["source"], styles=tuple(styles),
                  other_columns=tuple(others))
