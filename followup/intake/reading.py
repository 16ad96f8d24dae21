"""Bytes -> text -> CSV records: encoding, delimiter, records with their line numbers.

A file is read twice, never held whole: :func:`check_file` streams it once in chunks to
refuse what is not CSV UTF-8 before anything is imported (and counts its lines for a
progress bar); :func:`open_records` then streams its records.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from followup.intake.results import MappingError

_CHUNK = 1 << 20  # bytes read at a time by the encoding check
_HEAD = 1 << 16  # characters kept from the start to find the header line


@dataclass(frozen=True)
class FileFacts:
    delimiter: str
    lines: int  # physical lines, header included: an upper bound on the records (a progress bar's total)


def _open_bytes(path: Path, file: str) -> io.BufferedReader:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise MappingError(f"{file}: file not found") from None
    except OSError as exc:
        raise MappingError(f"{file}: cannot be read ({exc.strerror or exc})") from None


def _refuse_other_formats(head: bytes, file: str) -> None:
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise MappingError(f"{file}: is an Excel workbook, not CSV; open it in Excel and Save As > CSV UTF-8")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise MappingError(f"{file}: is UTF-16; save it as CSV UTF-8 (Excel: Save As > CSV UTF-8)")


def _not_utf8(file: str, line: int, byte: int) -> MappingError:
    return MappingError(
        f"{file}:{line}: not UTF-8 (byte 0x{byte:02x}); save it as CSV UTF-8 (Excel: Save As > CSV UTF-8)"
    )


def check_file(path: Path, file: str) -> FileFacts:
    """Stream ``path`` once: refuse an Excel workbook, UTF-16 or any byte that is not UTF-8
    (naming its line), and find the delimiter.  Raises :class:`MappingError`; memory is one chunk."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    lines = 0
    last = b"\n"
    first = ""
    with _open_bytes(path, file) as stream:
        try:
            chunk = stream.read(_CHUNK)
        except OSError as exc:
            raise MappingError(f"{file}: cannot be read ({exc.strerror or exc})") from None
        _refuse_other_formats(chunk, file)
        while chunk:
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                # exc.start counts from the chunk plus what the decoder held back (at most 3 bytes)
                held = len(exc.object) - len(chunk)
                at = max(exc.start - held, 0)
                raise _not_utf8(file, lines + chunk[:at].count(b"\n") + 1, exc.object[exc.start]) from None
            if len(first) < _HEAD:  # the header line, for the delimiter
                first += text[: _HEAD - len(first)]
            lines += chunk.count(b"\n")
            last = chunk[-1:]
            chunk = stream.read(_CHUNK)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise _not_utf8(file, lines + 1, exc.object[exc.start]) from None
    return FileFacts(delimiter=delimiter(first), lines=lines + (last != b"\n"))


def load_text(path: Path, file: str) -> str:
    """The whole file as text (small files: tests, the sample data); same refusals as :func:`check_file`."""
    check_file(path, file)
    return path.read_bytes().decode("utf-8-sig")


def delimiter(text: str) -> str:
    """Comma, or the semicolon / tab a European Excel or a TSV export uses, judged by the header line."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclass(frozen=True)
class Record:
    line: int  # physical line where the record starts
    cells: list[str]
    problem: str = ""  # the csv module could not split it


_CSV_PROBLEMS = {
    "unexpected end of data": (
        'a quoted value opened here is never closed (the rest of the file was read into it); add the closing "'
    ),
}


def _records(lines: Iterable[str], sep: str) -> Iterator[Record]:
    reader = csv.reader(lines, delimiter=sep, strict=True)
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = _CSV_PROBLEMS.get(str(exc), f'{exc} (quote the whole value and double any " inside it)')
            yield Record(line, [], reason)
            continue
        if "".join(cells).strip():  # a blank record is skipped (some cell holds more than whitespace)
            yield Record(line, cells)


def read_records(text: str) -> Iterator[Record]:
    """Non-blank records of ``text`` with the line each starts on."""
    return _records(io.StringIO(text, newline=""), delimiter(text))


def open_records(path: Path, file: str, facts: FileFacts) -> Iterator[Record]:
    """Non-blank records of the file ``check_file`` passed, streamed (one line in memory at a time)."""
    try:
        stream = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise MappingError(f"{file}: cannot be read ({exc.strerror or exc})") from None
    with stream:
        yield from _records(stream, facts.delimiter)
