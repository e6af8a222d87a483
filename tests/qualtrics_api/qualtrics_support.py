"""Helpers for the Qualtrics API tests: a loader for the recorded cassette, the parts of a
scripted HTTP server that answers canned responses in order, a fake clock and a generated export.

Test modules import these by this module's name, never from `conftest`: with several
conftest.py files in the tree, which one is the module `conftest` depends on load order."""

from __future__ import annotations

import base64
import csv
import io
import threading
import zlib
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

# shared/ sits beside the repository, locally and in CI's fresh clone (tests/paths.py: a test
# naming these paths skips without it, fails under CI).
from paths import REALWORLD, need_shared  # noqa: E402

CASSETTE = REALWORLD / "qualtrics_export_session.yml"
SAMPLE_CSV = REALWORLD / "qualtrics_sample.csv"
TOKEN = "tok-S3CRET-7f2a9c41d0e8b6"  # distinctive, so a leak is easy to spot


# --- a loader for the YAML subset a vcr cassette uses ---------------------------------------
# PyYAML is not a project dependency; the cassette only needs block mappings and sequences,
# plain and single-quoted (folded) scalars and `|-` literal blocks.


class _MiniYaml:
    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.i = 0

    @staticmethod
    def _indent(line: str) -> int:
        return len(line) - len(line.lstrip(" "))

    def _skip_blank(self) -> None:
        while self.i < len(self.lines) and not self.lines[self.i].strip():
            self.i += 1

    def _at(self, indent: int, dash: bool) -> bool:
        self._skip_blank()
        if self.i >= len(self.lines):
            return False
        line = self.lines[self.i]
        return self._indent(line) == indent and line.lstrip().startswith("- ") == dash

    def node(self, indent: int):
        self._skip_blank()
        return self.seq(indent) if self.lines[self.i].lstrip().startswith("- ") else self.map(indent)

    def seq(self, indent: int) -> list:
        items = []
        while self._at(indent, dash=True):
            line = self.lines[self.i]
            self.lines[self.i] = " " * (indent + 2) + line.lstrip()[2:]  # "- k: v" -> "  k: v"
            items.append(self.map(indent + 2))
        return items

    def map(self, indent: int) -> dict:
        out = {}
        while self._at(indent, dash=False):
            key, _, rest = self.lines[self.i].strip().partition(":")
            rest = rest.strip()
            self.i += 1
            if rest in ("|", "|-"):
                out[key] = self.literal(indent, keep=rest == "|")
            elif rest.startswith("'"):
                out[key] = self.quoted(rest)
            elif rest:
                out[key] = self.plain(rest, indent)
            else:
                self._skip_blank()
                nxt = self.lines[self.i] if self.i < len(self.lines) else ""
                deeper = self._indent(nxt) > indent or (self._indent(nxt) == indent and nxt.lstrip().startswith("- "))
                out[key] = self.node(self._indent(nxt)) if nxt and deeper else None
        return out

    @staticmethod
    def _fold(parts: list[str]) -> str:
        text, empties = parts[0].rstrip(" ") if len(parts) > 1 else parts[0], 0
        for part in parts[1:]:
            if not part.strip():
                empties += 1
                continue
            text += "\n" * empties if empties else " "
            text += part.strip()
            empties = 0
        return text

    @staticmethod
    def _close(text: str) -> int:
        j = 0
        while j < len(text):
            if text[j] == "'":
                if text[j + 1 : j + 2] == "'":
                    j += 2
                    continue
                return j
            j += 1
        return -1

    def quoted(self, first: str) -> str:
        parts = [first[1:]]
        while self._close(parts[-1]) < 0:
            parts.append(self.lines[self.i])
            self.i += 1
        text = self._fold(parts)
        return text[: self._close(text)].replace("''", "'")

    def plain(self, first: str, indent: int) -> str:
        parts = [first]
        while self.i < len(self.lines) and self.lines[self.i].strip() and self._indent(self.lines[self.i]) > indent:
            parts.append(self.lines[self.i])
            self.i += 1
        return self._fold(parts)

    def literal(self, indent: int, keep: bool) -> str:
        block: list[str] = []
        width = None
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.strip():
                if self._indent(line) <= indent:
                    break
                width = self._indent(line) if width is None else width
            block.append(line[width:] if line.strip() else "")
            self.i += 1
        while block and not block[-1]:
            block.pop()
        return "\n".join(block) + ("\n" if keep else "")


def load_cassette(path: Path = CASSETTE) -> list[dict]:
    return _MiniYaml(need_shared(path).read_text(encoding="utf-8")).map(0)["http_interactions"]


def cassette_body(response: dict) -> bytes:
    body = response["body"]
    if "raw_gzip" in body:  # base64 of zlib-compressed bytes
        return zlib.decompress(base64.b64decode("".join(body["raw_gzip"].split())))
    return body["string"].encode("utf-8")


# --- a scripted server ---------------------------------------------------------------------


class Script:
    """Answers requests from a list of (status, headers, body) in order, or from a function
    of (method, path, body); records every request it got."""

    def __init__(self, answers):
        self.answers = answers
        self.got: list[dict] = []
        self.lock = threading.Lock()

    def answer(self, method: str, path: str, headers, body: bytes):
        with self.lock:
            self.got.append({"method": method, "path": path, "headers": dict(headers), "body": body})
            if callable(self.answers):
                return self.answers(method, path, body)
            if not self.answers:
                return 599, {"content-type": "text/plain"}, b"script exhausted"
            return self.answers.pop(0)


class ScriptHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.emulator.answer(self.command, urlsplit(self.path).path, self.headers, body)
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in ("content-length", "date", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _serve

    def log_message(self, *args) -> None:
        pass


# --- time and data ----------------------------------------------------------------------


class FakeClock:
    """`sleep` advances `now` instantly; `waits` keeps every requested sleep."""

    def __init__(self):
        self.now = 1000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def make_big_csv() -> bytes:
    """A 3-header-row labelled export with 1,500 responses and awkward values."""
    meta = ["StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)", "Finished",
            "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName", "RecipientEmail",
            "ExternalReference", "LocationLatitude", "LocationLongitude", "DistributionChannel", "UserLanguage"]
    names = meta + ["Q1", "Q7", "bonus", "Random ID", "workerId"]
    texts = [n for n in meta] + ["How old are you?", "Which colour, \"exactly\"?", "bonus", "Random ID", "workerId"]
    imports = [f'{{"ImportId":"{n}"}}' for n in meta] + ['{"ImportId":"QID1_TEXT"}', '{"ImportId":"QID7"}',
                                                         '{"ImportId":"bonus"}', '{"ImportId":"Random ID"}',
                                                         '{"ImportId":"workerId"}']
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerows([names, texts, imports])
    statuses = ["IP Address", "IP Address", "Survey Preview", "Spam", "IP Address"]
    for i in range(1500):
        out.writerow([
            "2024-05-01 10:00:00", "2024-05-01 10:07:00", statuses[i % 5], f"10.0.{i // 256}.{i % 256}",
            "100", str(120 + i), "True" if i % 7 else "False", "2024-05-01 10:07:01", f"R_{i:015d}",
            "", "", "", "", "", "", "anonymous", "EN",
            str(18 + i % 60), "Blue, \"navy\"\nsecond line" if i % 11 == 0 else "Blue", f"{i % 4}.50",
            f"{i:07d}", f"A{i:013d}",
        ])
    return buf.getvalue().encode("utf-8")
