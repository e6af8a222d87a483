"""Credentials never shown: a user name and password inside a URL (`https://user:pass@host`)
are replaced by `***` wherever a URL is printed, stored in the workbook or the ledger, or put
in a message (SPEC §10)."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s]*@")


def redact(text: str) -> str:
    """`text` with the user-info part of every URL in it replaced by `***`."""
    return _USERINFO.sub(r"\1***@", text) if "@" in text else text
