"""The owner's dashboard password: scrypt (stdlib :func:`hashlib.scrypt`) with a random salt.

Format of a stored hash: ``scrypt$<n>$<r>$<p>$<salt, base64>$<key, base64>``.  The cost
parameters travel inside the string, so raising them later still verifies older hashes.
Defaults are the OWASP Password Storage Cheat Sheet's minimum for scrypt (N=2^17, r=8, p=1:
128 MiB of memory and a few tenths of a second per attempt on one core, which is also what
slows a guesser down).  Standard library only: the CLI imports this without the web stack.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N, R, P = 2**17, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
# NIST SP 800-63B (rev. 4) asks for at least 15 characters when the password is the only
# factor, as here; any characters, no composition rules.
MIN_LENGTH = 15


class PasswordError(ValueError):
    """A password refused by :func:`check_strength`, or a stored hash that cannot be read."""


def check_strength(password: str) -> None:
    """Raises :class:`PasswordError` (the message says why) for a password too short or blank."""
    if len(password.strip()) < MIN_LENGTH:
        raise PasswordError(f"a password needs at least {MIN_LENGTH} characters (a few words make a good one)")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # maxmem: scrypt needs 128 * n * r bytes; OpenSSL's default cap (32 MiB) is below N=2^17.
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r + 1024 * 1024, dklen=KEY_BYTES
    )


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P) -> str:
    """The storable hash string of ``password``, with a fresh 16-byte random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, n, r, p)
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(key).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (compared in constant time); False for a hash
    string this module cannot read (never an exception: a login just fails)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key, validate=True)
        given = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(given, expected)
