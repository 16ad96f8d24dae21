"""Holdout groups: which clients a marketing campaign leaves out, so its effect can be measured.

A pure function of the campaign's name, the client's external id and the share held out: the
same client is held out of the same campaign on every run, every machine and every Python
version (SHA-256, not :func:`hash`, which is salted per process), and each campaign draws its
own group (the name is in the hash), so one client is not held out of everything.
"""

from __future__ import annotations

import hashlib

HELD_OUT = "held out"  # the status reason of a message withheld from a holdout client

_SCALE = 2**64


def holdout_draw(campaign: str, client_external_id: str) -> float:
    """The client's stable draw for this campaign, uniform in [0, 1): the first 8 bytes of
    SHA-256(campaign NUL external id) over 2**64."""
    digest = hashlib.sha256(f"{campaign}\0{client_external_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def in_holdout(campaign: str, client_external_id: str, share: float) -> bool:
    """True when this client is in the campaign's holdout group; ``share`` is 0..1 (0.1 = 10 %).
    Raising the share keeps everyone already held out and adds more."""
    return share > 0 and holdout_draw(campaign, client_external_id) < share
