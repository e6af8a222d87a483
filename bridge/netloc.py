"""Where a URL points, for every panel and source: a local emulator or a real service."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_local_endpoint(url: str) -> bool:
    """http(s) on localhost or a loopback address (an emulator)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
