"""Bytes to text for the CSV readers: a decoder that falls back to cp1252 mid-stream, and a
raw stream that stops at a size limit while it is read.

The decoder is registered as the codec `bridge_utf8_then_cp1252` so that `io.TextIOWrapper`
(C speed, universal line ends) can use it over any binary stream.
"""

from __future__ import annotations

import codecs
import io
from typing import BinaryIO

from bridge.errors import SourceError
from bridge.sources.limits import size_text

BOM = b"\xef\xbb\xbf"
CODEC = "bridge_utf8_then_cp1252"
READ_CHUNK = 1 << 20


class _Utf8ThenCp1252(codecs.IncrementalDecoder):
    """UTF-8, a leading BOM dropped; from the first byte that is not UTF-8 on, cp1252 (its
    five undefined bytes become U+FFFD). What came before stays UTF-8, so a file that turns
    cp1252 after its first megabyte reads, the part before undamaged."""

    def __init__(self, errors: str = "strict"):
        super().__init__(errors)
        self.reset()

    def reset(self) -> None:
        self._pending = b""  # a possible BOM, or a UTF-8 sequence cut by the chunk's end
        self._started = False
        self._cp1252 = False

    def getstate(self) -> tuple[bytes, int]:
        return self._pending, int(self._cp1252) | int(self._started) << 1

    def setstate(self, state: tuple[bytes, int]) -> None:
        self._pending, flags = state
        self._cp1252, self._started = bool(flags & 1), bool(flags & 2)

    def decode(self, data: bytes, final: bool = False) -> str:
        data = self._pending + bytes(data) if self._pending else bytes(data)
        self._pending = b""
        if not self._started:
            if len(data) < len(BOM) and not final and BOM.startswith(data):
                self._pending = data
                return ""
            self._started = True
            data = data.removeprefix(BOM)
        if self._cp1252:
            return data.decode("cp1252", "replace")
        try:
            text, used = codecs.utf_8_decode(data, "strict", final)
        except UnicodeDecodeError as exc:
            self._cp1252 = True
            return data[: exc.start].decode("utf-8") + data[exc.start :].decode("cp1252", "replace")
        self._pending = data[used:]
        return text


def _codec_search(name: str) -> codecs.CodecInfo | None:
    if name != CODEC:
        return None
    return codecs.CodecInfo(
        name=CODEC,
        encode=codecs.utf_8_encode,
        decode=lambda data, errors="strict": (_Utf8ThenCp1252().decode(data, True), len(data)),
        incrementaldecoder=_Utf8ThenCp1252,
    )


codecs.register(_codec_search)


def decode_bytes(data: bytes, final: bool = True) -> str:
    """Bytes as the readers decode them (UTF-8, BOM dropped, else cp1252 from the first bad byte)."""
    return _Utf8ThenCp1252().decode(data, final)


class Bounded(io.RawIOBase):
    """`prefix`, then the rest of `stream`; a SourceError as soon as more than `limit` bytes
    came, so a stream that expands (a zip member) is stopped while it is read."""

    def __init__(self, prefix: bytes, stream: BinaryIO, *, owned: bool, limit: int, label: str, what: str):
        self._prefix = memoryview(prefix)
        self._stream, self._owned = stream, owned
        self._limit, self._label, self._what = limit, label, what
        self._total = len(prefix)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if len(self._prefix):
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        try:
            data = self._stream.read(min(len(buffer), READ_CHUNK))
        except SourceError:
            raise
        except Exception as exc:  # a damaged zip member (bad CRC, zlib error), a read error
            raise SourceError(
                f"{self._label}: could not be read to its end ({type(exc).__name__}); "
                "the file is damaged: export it again."
            ) from None
        self._total += len(data)
        if self._total > self._limit:
            raise SourceError(
                f"{self._label}: holds more than {size_text(self._limit)}, the limit for a {self._what}; "
                "it is damaged or not an export. Export only this wave's rows (a date range or filter) or split it."
            )
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self._owned and not self.closed:
            self._stream.close()
        super().close()
