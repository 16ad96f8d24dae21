"""Bytes -> text -> CSV records: encoding, delimiter, records with their line numbers."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from followup.intake.results import MappingError


def load_text(path: Path, file: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MappingError(f"{file}: file not found") from None
    except OSError as exc:
        raise MappingError(f"{file}: cannot be read ({exc.strerror or exc})") from None
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise MappingError(f"{file}: is an Excel workbook, not CSV; open it in Excel and Save As > CSV UTF-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise MappingError(f"{file}: is UTF-16; save it as CSV UTF-8 (Excel: Save As > CSV UTF-8)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start]
        raise MappingError(
            f"{file}:{line}: not UTF-8 (byte 0x{byte:02x}); save it as CSV UTF-8 (Excel: Save As > CSV UTF-8)"
        ) from None


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


def read_records(text: str) -> Iterator[Record]:
    """Non-blank records with the line each starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(text), strict=True)
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
        if any(c.strip() for c in cells):
            yield Record(line, cells)
