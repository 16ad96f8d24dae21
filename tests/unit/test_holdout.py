"""The holdout draw, pinned: SHA-256 of "campaign NUL external id", first 8 bytes big-endian
over 2**64, so a client's group never changes between runs, machines or releases."""

from __future__ import annotations

import hashlib

import pytest

from followup.core.holdout import HELD_OUT, holdout_draw, in_holdout


def test_the_draw_is_the_first_eight_bytes_of_sha256_over_two_to_the_64() -> None:
    digest = hashlib.sha256(b"rebook_nudge\x00c-1001").digest()
    assert holdout_draw("rebook_nudge", "c-1001") == int.from_bytes(digest[:8], "big") / 2**64
    assert holdout_draw("rebook_nudge", "c-1001") == pytest.approx(0.8211678270033447, abs=1e-15)
    assert holdout_draw("win_back", "c-1001") == pytest.approx(0.06815544991672674, abs=1e-15)
    assert holdout_draw("rebook_nudge", "c-1") == pytest.approx(0.26699966496323824, abs=1e-15)


def test_a_client_is_held_out_exactly_when_the_draw_is_below_the_share() -> None:
    draw = holdout_draw("rebook_nudge", "c-1001")  # 0.82
    assert in_holdout("rebook_nudge", "c-1001", 0.9)
    assert in_holdout("rebook_nudge", "c-1001", draw + 1e-12)
    assert not in_holdout("rebook_nudge", "c-1001", draw)  # strictly below
    assert not in_holdout("rebook_nudge", "c-1001", 0.5)
    assert in_holdout("win_back", "c-1001", 0.1)  # 0.07: another campaign, another draw
    assert not in_holdout("win_back", "c-1001", 0.05)


def test_a_share_of_zero_or_less_holds_out_nobody() -> None:
    assert not in_holdout("win_back", "c-1001", 0.0)
    assert not in_holdout("win_back", "c-1001", -0.5)
    assert in_holdout("win_back", "c-1001", 1.0)


def test_the_held_out_reason_is_the_one_the_outbox_stores() -> None:
    assert HELD_OUT == "held out"
