"""The owner dashboard's pieces without a server: the password hash, the signed session
cookie, the CSRF comparison, the login throttle and the chart."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from followup.timeutil import zone
from followup.web.admin_auth import (
    SESSION_SECONDS,
    LoginThrottle,
    SessionCodec,
    csrf_matches,
    new_session,
)
from followup.web.charts import per_day, stacked_bars
from followup.web.passwords import MIN_LENGTH, PasswordError, check_strength, hash_password, verify_password

MIAMI = zone("America/New_York")
FAST = 2**14  # the tests' scrypt cost; the default is checked once below


def test_the_default_hash_is_scrypt_at_owasps_minimum_cost_with_a_random_salt() -> None:
    first, second = hash_password("the same password twice"), hash_password("the same password twice")
    assert first.startswith("scrypt$131072$8$1$")  # N=2^17, r=8, p=1
    assert first != second  # a fresh salt each time
    assert verify_password("the same password twice", first) and verify_password("the same password twice", second)


def test_verify_accepts_only_the_password() -> None:
    stored = hash_password("correct horse battery staple", n=FAST)
    assert verify_password("correct horse battery staple", stored)
    assert not verify_password("correct horse battery stapl", stored)
    assert not verify_password("Correct horse battery staple", stored)
    assert not verify_password("", stored)


@pytest.mark.parametrize("stored", ["", "scrypt$1$2", "bcrypt$16384$8$1$AAAA$AAAA", "scrypt$x$8$1$AAAA$AAAA"])
def test_an_unreadable_hash_is_a_failed_login_not_an_error(stored: str) -> None:
    assert verify_password("anything at all here", stored) is False


def test_short_passwords_are_refused() -> None:
    with pytest.raises(PasswordError, match=str(MIN_LENGTH)):
        check_strength("x" * (MIN_LENGTH - 1))
    with pytest.raises(PasswordError):
        check_strength(" " * 40)
    check_strength("four words make one")


def test_a_session_survives_the_cookie_and_nothing_else_does() -> None:
    codec = SessionCodec("a signing key", secure=False)
    session = new_session(signed_in=True, password=codec.fingerprint("scrypt$..."))
    assert codec.loads(codec.dumps(session)) == session
    value = codec.dumps(session)
    payload, rest = value.split(".", 1)
    assert codec.loads(payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + rest) is None  # altered
    assert SessionCodec("another key", secure=False).loads(value) is None  # signed by someone else
    assert codec.loads("") is None and codec.loads(None) is None and codec.loads("garbage") is None


def test_an_old_session_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    codec = SessionCodec("a signing key", secure=False)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - SESSION_SECONDS - 60)
    value = codec.dumps(new_session(signed_in=True))
    monkeypatch.setattr(time, "time", real)
    assert codec.loads(value) is None


def test_the_fingerprint_changes_with_the_password_and_hides_the_hash() -> None:
    codec = SessionCodec("a signing key", secure=False)
    one, two = hash_password("first long password", n=FAST), hash_password("second long password", n=FAST)
    assert codec.fingerprint(one) != codec.fingerprint(two)
    assert codec.fingerprint(one) not in one


def test_cookie_attributes() -> None:
    session = new_session()
    header = SessionCodec("k", secure=True).cookie_header(session)
    assert re.fullmatch(r"followup_admin=[^;]+; Path=/admin; Max-Age=43200; HttpOnly; SameSite=Strict; Secure", header)
    cleared = SessionCodec("k", secure=False).cookie_header(None)
    assert cleared == "followup_admin=; Path=/admin; Max-Age=0; HttpOnly; SameSite=Strict"


def test_csrf_tokens_are_random_and_compared_exactly() -> None:
    one, two = new_session(), new_session()
    assert one.csrf != two.csrf and len(one.csrf) >= 40
    assert csrf_matches(one, one.csrf)
    assert not csrf_matches(one, two.csrf)
    assert not csrf_matches(one, "") and not csrf_matches(one, None) and not csrf_matches(None, one.csrf)


def test_the_throttle_counts_per_address_and_in_total_within_the_window() -> None:
    throttle = LoginThrottle(per_address=3, total=5, window=timedelta(minutes=15))
    t = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    for i in range(3):
        assert throttle.wait("1.1.1.1", t) is None
        throttle.failed("1.1.1.1", t + timedelta(minutes=i))
    assert throttle.wait("1.1.1.1", t + timedelta(minutes=3)) == timedelta(minutes=12)
    assert throttle.wait("2.2.2.2", t + timedelta(minutes=3)) is None  # another address may try
    throttle.failed("2.2.2.2", t + timedelta(minutes=4))
    throttle.failed("3.3.3.3", t + timedelta(minutes=5))
    assert throttle.wait("4.4.4.4", t + timedelta(minutes=6)) is not None  # five in all: everyone waits
    assert throttle.wait("1.1.1.1", t + timedelta(minutes=15, seconds=1)) is None  # the first left the window
    throttle.succeeded("2.2.2.2")
    assert throttle.wait("4.4.4.4", t + timedelta(minutes=6)) is None


def test_messages_are_counted_on_the_clinics_day() -> None:
    moments = [
        (datetime(2026, 12, 3, 2, 0, tzinfo=UTC), "sent"),  # 21:00 on Dec 2 in Miami
        (datetime(2026, 12, 3, 15, 0, tzinfo=UTC), "sent"),
        (datetime(2026, 12, 3, 16, 0, tzinfo=UTC), "unknown"),  # in flight: "other"
        (datetime(2026, 12, 9, 16, 0, tzinfo=UTC), "failed"),  # after the last day: left out
    ]
    axis, counts = per_day(moments, date(2026, 12, 2), 2, MIAMI)
    assert axis == [date(2026, 12, 2), date(2026, 12, 3)]
    assert counts["sent"] == [1, 1] and counts["other"] == [0, 1] and counts["failed"] == [0, 0]


def test_the_chart_has_one_bar_part_per_day_and_status_with_its_numbers() -> None:
    axis = [date(2026, 12, 1), date(2026, 12, 2)]
    counts = {"sent": [3, 0], "failed": [1, 2]}
    svg = stacked_bars(axis, counts, title="Messages <per day>")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "Messages &lt;per day&gt;" in svg
    bars = re.findall(r'data-status="(\w+)" data-count="(\d+)"><title>([^<]+)</title>', svg)
    assert bars == [("sent", "3", "2026-12-01: 3 sent"), ("failed", "1", "2026-12-01: 1 failed"),
                    ("failed", "2", "2026-12-02: 2 failed")]  # fmt: skip
    heights = [float(h) for h in re.findall(r'height="([\d.]+)" fill', svg)]
    assert heights[0] == pytest.approx(3 * heights[1])  # bars to scale
