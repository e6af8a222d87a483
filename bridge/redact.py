"""Credentials never shown: a user name and password inside a URL (`https://user:pass@host`)
are replaced by `***` wherever a URL is printed, stored in the workbook or the ledger, or put
in a message (SPEC §10, §12). A host written without its scheme (`user:pass@host`, as a
message may quote a URL's network location) is caught too, when a colon marks a password.
"""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s]*@")
# `user:secret@host` without a scheme: a name, a colon, a secret, `@`, then a host name.
_BARE = re.compile(r"(?<![\w.+-])[\w.~%!$&'()*+,;=-]+:[^\s/@'\"]+@(?=[A-Za-z0-9\[])")


def redact(text: str) -> str:
    """`text` with the user-info part of every URL in it replaced by `***`."""
    if "@" not in text:
        return text
    return _BARE.sub("***@", _USERINFO.sub(r"\1***@", text))
