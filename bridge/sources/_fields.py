"""A row's values by column name, in a fraction of a dict's memory (issue 11, SPEC §10).

A reader makes one `Fields` per row: the column names and their positions are one dict
shared by every row of the file, the row's own values one tuple. A dict of four values
takes 184 bytes, of 25 values 1.2 KB; a `Fields` 48 bytes plus its tuple (8 bytes a value),
so `Response.fields` and `Submission.answers` of a million rows cost a few hundred MB less.

It behaves as the dict it replaces for everything the code and the tests do with one: look
up, `get`, `in`, iterate in the file's order, `len`, `keys`/`values`/`items`, `==` with a dict
or another `Fields`, `dict(fields)`, and assignment (a changed value gets the row its own
list; a new or deleted key its own copy of the names), so a caller may still edit a row.

A reader that renames a column (the Qualtrics reader's `ResponseID` -> `ResponseId`) gives
its rows `Names` instead of a dict: a row then also answers to the name the file shows, so a
config naming the column as the person sees it works; it lists each column once, by the
reader's name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, MutableMapping


class Fields(MutableMapping):
    __slots__ = ("_names", "_values")

    def __init__(self, names: dict[str, int], values: tuple[str, ...] | list[str]):
        """`names`: column -> position in `values` (shared, never changed in place)."""
        self._names = names
        self._values = values

    def __getitem__(self, key: str) -> str:
        return self._values[self._names[key]]

    def get(self, key, default=None):
        i = self._names.get(key)
        return default if i is None else self._values[i]

    def __contains__(self, key) -> bool:
        return key in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __setitem__(self, key: str, value: str) -> None:
        i = self._names.get(key)
        if i is None:
            self._names = {**self._names, key: len(self._values)}
            self._values = [*self._values, value]
            return
        if not isinstance(self._values, list):
            self._values = list(self._values)
        self._values[i] = value

    def __delitem__(self, key: str) -> None:
        old = self._names
        gone = old[key]
        self._names = {n: (p if p < gone else p - 1) for n, p in old.items() if n != key}
        self._values = [v for j, v in enumerate(self._values) if j != gone]

    def __eq__(self, other) -> bool:
        if isinstance(other, Fields) and other._names is self._names:
            return tuple(self._values) == tuple(other._values)
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    __hash__ = None  # mutable, like a dict

    def __repr__(self) -> str:
        return repr(dict(self.items()))

    def copy(self) -> dict[str, str]:
        return dict(self.items())

    def __reduce__(self):
        return (Fields, (dict(self._names), tuple(self._values)))


class Names(dict):
    """Column -> position, as a `Fields` needs it, that also answers to `aliases` (a name
    the file shows -> the reader's name). Iterating, `len` and `==` see the reader's names
    only; looking up (`[]`, `get`, `in`) takes either."""

    __slots__ = ("aliases",)

    def __init__(self, positions: dict[str, int], aliases: Mapping[str, str]):
        super().__init__(positions)
        self.aliases = dict(aliases)

    def __missing__(self, key: str) -> int:
        return dict.__getitem__(self, self.aliases[key])

    def get(self, key, default=None):
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        alias = self.aliases.get(key)
        return default if alias is None else dict.get(self, alias, default)

    def __contains__(self, key) -> bool:
        return dict.__contains__(self, key) or key in self.aliases


class Repeats:
    """Values repeated in a file's first rows (a status, a completion code many entered, an
    answer such as `Female` or `United Kingdom`): one object each, shared by every later row
    that has them. Unique values (ids, times) are left alone, so the table of shared values
    stays small whatever the file holds."""

    __slots__ = ("shared", "_counts", "_left")
    AFTER = 1000  # rows looked at before sharing
    MAX_LEN = 64  # longer values are not worth a look

    def __init__(self) -> None:
        self.shared: dict[str, str] = {}
        self._counts: Counter[str] | None = Counter()
        self._left = self.AFTER

    def share(self, values: list[str]) -> list[str]:
        """The row's values, each repeated one replaced by the shared object."""
        if self._left:
            self._counts.update(v for v in values if len(v) <= self.MAX_LEN)
            self._left -= 1
            if not self._left:
                self.shared = {v: v for v, k in self._counts.items() if k > 1}
                self._counts = None
        get = self.shared.get
        return list(map(get, values, values))

    def own(self, values) -> list[str]:
        """The values a row keeps for itself: neither empty nor shared."""
        shared = self.shared
        return [v for v in values if v and v not in shared]


class Numbers:
    """One object per whole number seen (durations, times taken: a few thousand values repeated
    over many rows), up to MAX distinct values; past that, new values are left alone."""

    __slots__ = ("_seen",)
    MAX = 65536

    def __init__(self) -> None:
        self._seen: dict[int, int] = {}

    def share(self, n: int | None) -> int | None:
        if n is None:
            return None
        seen = self._seen
        have = seen.get(n)
        if have is not None:
            return have
        if len(seen) < self.MAX:
            seen[n] = n
        return n
