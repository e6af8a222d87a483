"""Where a ledger lives, as `[output] ledger` or the command line names it: a file path
(SQLite) or a `postgresql://HOST:PORT/DB` URL (the lab's shared ledger, SPEC 13).

A URL never carries a password: libpq takes the user and password from its usual sources
(`PGUSER`, `PGPASSWORD`, `PGPASSFILE` or `~/.pgpass`), so the config can be shared and
committed. A password in the URL (or in its query string) is refused before anything
connects, and every URL shown in a message goes through `shown` (no user-info at all).
"""

from __future__ import annotations

import re
from pathlib import Path

SCHEMES = ("postgresql://", "postgres://")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
WHERE_PASSWORDS_GO = ("put the password in PGPASSWORD or in ~/.pgpass (host:port:database:user:password, mode "
                      "0600), and the user in PGUSER, not in the URL")


def is_url(location: str | Path) -> bool:
    return isinstance(location, str) and location.lower().startswith(SCHEMES)


def url_problem(url: str) -> str | None:
    """What is wrong with a ledger URL (None: nothing). Never echoes a password."""
    if _SCHEME.match(url) and not is_url(url):
        return (f"{shown(url.split('://', 1)[0] + '://…')} is not a ledger this tool can use: give a file path "
                "(SQLite) or a postgresql://HOST:PORT/DATABASE URL")
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(url)
    except Exception:  # psycopg.ProgrammingError, with libpq's words; they may quote the URL
        return f"{shown(url)} is not a PostgreSQL URL libpq can read (postgresql://HOST:PORT/DATABASE)"
    if params.get("password"):
        return f"{shown(url)} holds a password: {WHERE_PASSWORDS_GO}"
    return None


def shown(location: str | Path) -> str:
    """The location for a message: a path as it is; a URL without its user-info and query."""
    if not is_url(location) and not (isinstance(location, str) and _SCHEME.match(location)):
        return str(location)
    text = str(location)
    scheme, rest = text.split("://", 1)
    rest = rest.split("?", 1)[0]
    if "@" in rest.split("/", 1)[0]:
        rest = rest.split("@", 1)[1]
    return f"{scheme}://{rest}"
