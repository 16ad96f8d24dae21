"""The owner dashboard's session cookie, CSRF tokens and login throttle.

**Session.** One cookie, ``followup_admin`` (RFC 6265): ``HttpOnly`` (no script reads it),
``SameSite=Strict`` (never sent on a request another site starts), ``Secure`` when
``FOLLOWUP_PUBLIC_BASE_URL`` is https, ``Path=/admin``, ``Max-Age`` :data:`SESSION_SECONDS`.
Its value is signed with ``FOLLOWUP_SECRET_KEY`` by :mod:`itsdangerous` (HMAC, a timestamp
inside; the signature and the age are both checked on every request, so an old cookie is
refused even by a browser that kept it).  It carries no password and no client data: a
random CSRF token, whether the visitor signed in, and a fingerprint of the password hash it
signed in with, so ``followup admin set-password`` signs every session out.

**CSRF** (OWASP Cross-Site Request Forgery Prevention Cheat Sheet, "synchronizer token"):
each session has a random token; every form carries it in a hidden ``csrf_token`` field (or
an ``X-CSRF-Token`` header) and a POST without the session's token is refused (403).  The
login form has one too, from a signed-out session cookie (against login CSRF).  A successful
login issues a new session and token (no session fixation).

**Throttle.** Failed logins are counted per client address and in total; past the limits the
login answers 429 until the oldest failure leaves the window.  Counts live in the process
(a restart forgets them), which is enough to make guessing slow on top of scrypt's cost.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "followup_admin"
COOKIE_PATH = "/admin"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_SECONDS = 12 * 3600  # a working day; then the owner signs in again
_SALT = "followup.admin.session"  # keeps these signatures apart from the unsubscribe links'


@dataclass(frozen=True)
class AdminSession:
    """What the cookie says: ``csrf`` the form token; ``signed_in`` with the password whose
    hash has fingerprint ``password``."""

    csrf: str
    signed_in: bool = False
    password: str = ""


def new_session(*, signed_in: bool = False, password: str = "") -> AdminSession:
    """A session with a fresh 256-bit CSRF token."""
    return AdminSession(secrets.token_urlsafe(32), signed_in, password)


class SessionCodec:
    """Signs sessions into cookie values and reads them back (None for anything forged,
    altered, malformed or older than :data:`SESSION_SECONDS`)."""

    def __init__(self, secret_key: str, *, secure: bool) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        self._key = secret_key.encode()
        self.secure = secure

    def dumps(self, session: AdminSession) -> str:
        return self._serializer.dumps({"c": session.csrf, "s": session.signed_in, "p": session.password})

    def loads(self, value: str | None) -> AdminSession | None:
        if not value:
            return None
        try:
            data = self._serializer.loads(value, max_age=SESSION_SECONDS)
        except BadSignature:  # SignatureExpired is one too
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str) or not data["c"]:
            return None
        return AdminSession(str(data["c"]), data.get("s") is True, str(data.get("p", "")))

    def fingerprint(self, password_hash: str) -> str:
        """A keyed digest of the stored hash (not the hash itself: the cookie is readable)."""
        return hmac.new(self._key, password_hash.encode(), hashlib.sha256).hexdigest()[:32]

    def cookie_header(self, session: AdminSession | None) -> str:
        """The ``Set-Cookie`` value that stores ``session`` (None: deletes the cookie)."""
        value = self.dumps(session) if session is not None else ""
        max_age = SESSION_SECONDS if session is not None else 0
        parts = [f"{COOKIE}={value}", f"Path={COOKIE_PATH}", f"Max-Age={max_age}", "HttpOnly", "SameSite=Strict"]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)


def csrf_matches(session: AdminSession | None, given: str | None) -> bool:
    """The form's token is the session's, compared in constant time; never without both."""
    if session is None or not given:
        return False
    return hmac.compare_digest(session.csrf.encode(), given.encode())


class LoginThrottle:
    """Failed logins within ``window``: at most ``per_address`` from one address and ``total``
    from all together (a proxy in front makes every visitor one address; the total still
    holds when a guesser rotates addresses).  Thread-safe; times are aware datetimes."""

    def __init__(self, per_address: int = 5, total: int = 20, window: timedelta = timedelta(minutes=15)) -> None:
        self.per_address = per_address
        self.total = total
        self.window = window
        self._failures: deque[tuple[datetime, str]] = deque()
        self._lock = threading.Lock()

    def _forget(self, now: datetime) -> None:
        while self._failures and self._failures[0][0] <= now - self.window:
            self._failures.popleft()

    def wait(self, address: str, now: datetime) -> timedelta | None:
        """How long ``address`` must wait before trying again; None: it may try now."""
        with self._lock:
            self._forget(now)
            mine = [at for at, who in self._failures if who == address]
            if len(mine) >= self.per_address:
                return mine[0] + self.window - now
            if len(self._failures) >= self.total:
                return self._failures[0][0] + self.window - now
            return None

    def failed(self, address: str, now: datetime) -> None:
        with self._lock:
            self._forget(now)
            self._failures.append((now, address))

    def succeeded(self, address: str) -> None:
        """The owner got in: that address's failures are forgiven."""
        with self._lock:
            self._failures = deque(f for f in self._failures if f[1] != address)
