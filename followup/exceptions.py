"""Every error followup raises on purpose, under one root.

Callers catch :class:`FollowupError` to handle "our" failures and let anything else
(a bug) propagate with its traceback.  Errors carry the context an owner needs to fix
the cause (file, line, key path, variable name), and delivery errors say by their
type whether trying again can help.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path


class FollowupError(Exception):
    """Root of every error raised by followup."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in one configuration or template file.

    ``key`` is a dotted key path such as ``post_session.steps[1].offset`` (empty when
    the problem is the file as a whole); ``line`` is 1-based, ``None`` when unknown.
    """

    file: Path | str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else f"{self.file}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(FollowupError):
    """The owner's configuration is invalid; ``issues`` lists every problem found."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues: tuple[ConfigIssue, ...] = tuple(issues)
        super().__init__("\n".join(str(i) for i in self.issues) or "invalid configuration")


class SettingsError(ConfigError):
    """A setting is missing or invalid (named by its environment variable or file line)."""


class TemplateRenderError(FollowupError):
    """A template failed to render; ``issue`` says which file and line."""

    def __init__(self, issue: ConfigIssue) -> None:
        self.issue = issue
        super().__init__(str(issue))


class DeliveryError(FollowupError):
    """A channel could not deliver a message.  Subclasses say what may be done next."""

    def __init__(self, message: str, *, code: str | None = None, provider: str | None = None) -> None:
        self.code = code
        self.provider = provider
        super().__init__(message)


class TransientDeliveryError(DeliveryError):
    """Not delivered, and nothing reached the recipient: retry later (with backoff)."""


class PermanentDeliveryError(DeliveryError):
    """Never going to work for this recipient/content: do not retry."""


class RecipientOptedOutError(PermanentDeliveryError):
    """The provider says this address unsubscribed (Twilio error 21610, say): record the
    opt-out and stop sending to it.  Any channel may raise it; the dispatcher knows no provider."""


class ChannelPausedError(TransientDeliveryError):
    """Nothing reached the recipient, and for a while nothing on this channel can: the channel
    pauses for every worker (``pause``; None: the dispatcher's default) and its messages stay
    scheduled.  Still a transient error for callers that know no pauses."""

    def __init__(
        self, message: str, *, pause: timedelta | None = None, code: str | None = None, provider: str | None = None
    ) -> None:
        self.pause = pause
        super().__init__(message, code=code, provider=provider)


class RateLimitedError(ChannelPausedError):
    """The provider says "too many requests" (HTTP 429): wait ``pause`` (its Retry-After)."""


class AccountError(ChannelPausedError):
    """The provider refuses our account, credentials or sender (HTTP 401/403, account suspended,
    a From number that is not ours): every message would fail alike until the owner fixes it.
    Pause the channel, keep the messages, alert the owner once."""


class UnknownOutcomeError(DeliveryError):
    """The request may or may not have reached the provider: reconcile before any retry."""


def issues_text(issues: Sequence[ConfigIssue]) -> str:
    """One line per issue, in file/line order, for printing."""
    ordered = sorted(issues, key=lambda i: (str(i.file), i.line or 0, i.key))
    return "\n".join(str(i) for i in ordered)


class StoreBusyError(FollowupError):
    """The database stayed locked by another writer (another ``followup`` process: an
    import, a worker) for longer than the store waits (SQLite only; ``LOCK_WAIT_SECONDS`` in
    :mod:`followup.store.engine`).  Nothing was written; running the command again is safe."""
