"""Streaming decode of an uploaded object: gunzip behind a bomb guard, then lines.

Memory stays bounded by the chunk size and the longest accepted line, whatever the file's
size: gzip output is pulled in slices (`max_length`), and an over-long line is skipped to its
end instead of being buffered.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sluice.errors import (
    DECOMPRESSION_BOMB,
    GZIP_CORRUPT,
    GZIP_TRUNCATED,
    FileRejected,
)

GZIP_MAGIC = b"\x1f\x8b"
_SLICE = 256 * 1024  # decompressed bytes per zlib call: the bound on one step's output
_GZIP_WBITS = 16 + zlib.MAX_WBITS


@dataclass(frozen=True)
class Line:
    """One physical line: `data` is None when it was longer than allowed (and not kept)."""

    number: int
    data: bytes | None
    # Offset just after this line's newline in the decoded stream (for plain files, the
    # stored object too: a resumed read starts there).
    end: int


def is_gzip(head: bytes) -> bool:
    return head[:2] == GZIP_MAGIC


def gunzip(
    chunks: Iterable[bytes], *, max_ratio: int, max_bytes: int, ratio_floor: int = 16 * 1024 * 1024
) -> Iterator[bytes]:
    """Decompress gzip (multi-member too) chunk by chunk.

    Fails with DECOMPRESSION_BOMB once the output passes `max_bytes`, or `max_ratio` times the
    input read so far (after `ratio_floor` bytes: small files compress too well to judge);
    with GZIP_TRUNCATED when the stream ends inside a member; GZIP_CORRUPT on bad data.
    """
    decoder = zlib.decompressobj(_GZIP_WBITS)
    member_open = False
    consumed = produced = 0
    try:
        for chunk in chunks:
            consumed += len(chunk)
            data = chunk
            while data:
                member_open = True
                out = decoder.decompress(data, _SLICE)
                produced += len(out)
                if produced > max_bytes or (produced > ratio_floor and produced > max_ratio * consumed):
                    raise FileRejected(
                        DECOMPRESSION_BOMB,
                        f"decompressed output passed the limit ({max_ratio}x, {max_bytes} bytes)",
                    )
                if out:
                    yield out
                if decoder.eof:
                    # Concatenated members (e.g. `cat a.gz b.gz`) are one valid gzip file.
                    data = decoder.unused_data
                    decoder = zlib.decompressobj(_GZIP_WBITS)
                    member_open = False
                else:
                    data = decoder.unconsumed_tail
        if member_open:
            raise FileRejected(GZIP_TRUNCATED, "the gzip stream ends before its end marker")
    except zlib.error:
        raise FileRejected(GZIP_CORRUPT, "the gzip stream is corrupt") from None


def split_lines(
    chunks: Iterable[bytes], *, max_line_bytes: int, first_number: int = 1, start: int = 0
) -> Iterator[Line]:
    """Split a byte stream on LF (a CR before it is dropped), numbering lines from `first_number`."""
    buffer = bytearray()
    overlong = False
    number = first_number
    position = start  # stream offset of the current chunk's first byte
    for chunk in chunks:
        cursor = 0
        while (newline := chunk.find(b"\n", cursor)) >= 0:
            if not overlong:
                buffer += chunk[cursor:newline]
                overlong = len(buffer) > max_line_bytes
            yield Line(number, None if overlong else _strip_cr(buffer), position + newline + 1)
            buffer.clear()
            overlong = False
            number += 1
            cursor = newline + 1
        if not overlong:
            buffer += chunk[cursor:]
            if len(buffer) > max_line_bytes:
                overlong = True
                buffer.clear()  # keep nothing of a line we will reject anyway
        position += len(chunk)
    if buffer or overlong:
        yield Line(number, None if overlong else _strip_cr(buffer), position)


def _strip_cr(buffer: bytearray) -> bytes:
    return bytes(buffer[:-1] if buffer.endswith(b"\r") else buffer)
