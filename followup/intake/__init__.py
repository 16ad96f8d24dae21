"""Intake: the owner's booking-system exports -> validated clients and sessions.

Pure: reads the one file it is given, never the clock or a database.  ``stream_clients`` /
``stream_sessions`` read it one record at a time (memory does not grow with the file);
``read_clients`` / ``read_sessions`` collect that into one :class:`ParseResult`.  A bad row becomes
one or more :class:`RowError` (every problem of the row, not just the first) and is
left out; good rows come through.  Problems with the file as a whole (not found, not
UTF-8, no header, a required column missing, a ``--map`` that names nothing) raise
:class:`MappingError`.  Storing the rows and resolving session -> client references is
:mod:`followup.engine.ingest`'s job.

Modules by concern: ``reading`` (bytes, encoding, delimiter, records), ``mapping``
(fields, ``--map``, header), ``values`` (phones, emails, consent, language),
``dates`` (dates, times, durations), ``rows`` (the shared per-record loop and
duplicates), ``clients`` and ``sessions`` (what a row of each must hold).
"""

from followup.intake.clients import read_clients, stream_clients
from followup.intake.mapping import CLIENT_FIELDS, SESSION_FIELDS, parse_mapping
from followup.intake.results import ClientRow, MappingError, ParseResult, RowError, SessionRow
from followup.intake.rows import Parsed, RowStream
from followup.intake.sessions import read_sessions, stream_sessions

__all__ = [
    "CLIENT_FIELDS",
    "SESSION_FIELDS",
    "ClientRow",
    "MappingError",
    "ParseResult",
    "Parsed",
    "RowError",
    "RowStream",
    "SessionRow",
    "parse_mapping",
    "read_clients",
    "read_sessions",
    "stream_clients",
    "stream_sessions",
]
