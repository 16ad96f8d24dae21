"""What reading an export produces: rows, row errors and warnings, and the file-level error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from followup.core.domain import Client, Session
from followup.exceptions import FollowupError

ClientRefKind = Literal["external_id", "phone", "email"]
T = TypeVar("T")


class MappingError(FollowupError):
    """The file as a whole can't be read as asked; the message names the file and what is allowed."""


@dataclass(frozen=True)
class RowError:
    """One problem with one record (also used for warnings)."""

    file: str
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.row}: {self.column}: {self.reason}"


@dataclass(frozen=True)
class ClientRow:
    row: int
    external_id: str | None  # None: no id in the file (match by phone/email); client.external_id is then ""
    client: Client
    # consent flag ("sms_marketing", "email_marketing") -> "FILE:ROW:COLUMN" that said so, or "default"
    consent_sources: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionRow:
    row: int
    session: Session  # session.client_external_id is the normalised client reference
    client_ref_kind: ClientRefKind
    client_name: str = ""  # tells apart clients who share the phone or email the reference names


@dataclass
class ParseResult(Generic[T]):
    file: str
    rows: list[T]
    errors: list[RowError]
    warnings: list[RowError]
    total: int  # data records seen (header and blank lines excluded)
    preset: str | None = None  # the preset recognised from the header, when none was named
    ignored: list[str] = field(default_factory=list)  # header columns no field reads
