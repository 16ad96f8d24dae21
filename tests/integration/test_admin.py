"""The owner dashboard over real HTTP (uvicorn on a local port), on a constructed history
written through the real store: sign-in, the session cookie, CSRF, the panels, mark handled,
client search; and once in a real browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import uvicorn

import followup.web.admin
from followup.config.loader import ClinicConfig, load_clinic
from followup.config.settings import Settings
from followup.core.domain import Client, Consent
from followup.store.sql import SqlStore
from followup.web.admin_auth import COOKIE
from followup.web.app import create_app
from followup.web.context import WebContext
from followup.web.passwords import hash_password
from tests.conftest import REPO
from tests.report_history import T0, _message, build

PASSWORD = "a long passphrase for the owner"
NOW = T0 + timedelta(days=3)  # Thursday 2026-11-05 11:00 in Miami
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"


@dataclass
class Dash:
    url: str
    store: SqlStore
    maria: int  # client id of Maria Lopez, +1 305 555 0101

    def login_page(self, http: requests.Session) -> str:
        """GET /admin/login; the form's CSRF token."""
        page = http.get(self.url + "/admin/login", timeout=10)
        assert page.status_code == 200, page.text
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found, page.text
        return found.group(1)

    def login(self, password: str = PASSWORD) -> tuple[requests.Session, requests.Response]:
        http = requests.Session()
        token = self.login_page(http)
        answer = http.post(
            self.url + "/admin/login",
            data={"csrf_token": token, "password": password},
            allow_redirects=False,
            timeout=30,
        )
        return http, answer

    def signed_in(self) -> requests.Session:
        http, answer = self.login()
        assert answer.status_code == 303 and answer.headers["location"] == "/admin", answer.text
        return http

    def csrf(self, http: requests.Session, path: str = "/admin/replies") -> str:
        found = re.search(r'name="csrf_token" value="([^"]+)"', http.get(self.url + path, timeout=10).text)
        assert found
        return found.group(1)


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(store: SqlStore, settings: Settings) -> Iterator[str]:
    base = load_clinic(REPO / "config", REPO / "templates", env_file=None)
    clinic = ClinicConfig(
        config_dir=base.config_dir,
        settings=settings,
        campaigns=base.campaigns,
        tips=base.tips,
        templates=base.templates,
    )
    app = create_app(WebContext(clinic=clinic, store=store, email=None, now=lambda: NOW, admin=store))
    port = _port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _history(store: SqlStore) -> int:
    build(store, reached=4, reached_rebooked=2, held=2, held_rebooked=1)
    maria, _ = store.upsert_client(
        Client(
            external_id="c-maria",
            first_name="Maria",
            last_name="Lopez",
            phone="+13055550101",
            email="maria.lopez@example.com",
            consent=Consent(sms_marketing=True),
        ),
        NOW - timedelta(days=40),
    )
    _message(
        store,
        maria,
        "reminder/c-maria",
        campaign="pre_visit_reminder",
        step="reminder_24h",
        purpose="care",
        priority="reminder",
        due_at=NOW + timedelta(days=2),
        next_attempt_at=NOW + timedelta(days=2),
        expires_at=NOW + timedelta(days=3),
    )
    # The cheapest scrypt cost keeps the tests fast; the stored string carries its cost, and
    # followup admin set-password writes the full one (tests/unit/test_admin_auth.py).
    store.set_admin_password_hash(hash_password(PASSWORD, n=2**14), NOW - timedelta(days=1))
    return maria


@pytest.fixture
def dash(sqlite_url: str) -> Iterator[Dash]:
    store = SqlStore.from_url(sqlite_url)
    store.upgrade()
    maria = _history(store)
    settings = Settings(public_base_url="http://127.0.0.1:8080", secret_key="admin-signing-key-for-tests")
    for url in _serve(store, settings):
        yield Dash(url, store, maria)
    store.close()


# --- nothing without a session ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin", "/admin/replies", "/admin/clients?q=maria", "/admin/no-such-page"])
def test_pages_without_a_session_redirect_to_the_login(dash: Dash, path: str) -> None:
    answer = requests.get(dash.url + path, allow_redirects=False, timeout=10)
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/login"
    assert "Maria" not in answer.text and answer.headers["cache-control"] == "no-store"


def test_a_post_without_a_session_is_refused_and_changes_nothing(dash: Dash) -> None:
    reply = dash.store.replies(unhandled=True)[0]
    answer = requests.post(dash.url + f"/admin/replies/{reply.id}/handle", data={}, timeout=10)
    assert answer.status_code == 401
    assert reply.id in [r.id for r in dash.store.replies(unhandled=True)]


def test_a_forged_or_signed_out_cookie_opens_nothing(dash: Dash) -> None:
    http = requests.Session()
    dash.login_page(http)  # a genuine, signed-out session cookie
    assert http.get(dash.url + "/admin", allow_redirects=False, timeout=10).status_code == 303
    http.cookies.set(COOKIE, "eyJjIjoieCIsInMiOnRydWV9.forged.signature", path="/admin")
    assert http.get(dash.url + "/admin", allow_redirects=False, timeout=10).status_code == 303


# --- signing in -------------------------------------------------------------------------------


def test_the_right_password_signs_in_with_a_strict_http_only_cookie(dash: Dash) -> None:
    http, answer = dash.login()
    assert answer.status_code == 303 and answer.headers["location"] == "/admin"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/admin" in cookie and "Max-Age=43200" in cookie
    assert "Secure" not in cookie  # an http public URL: a Secure cookie would never come back
    assert PASSWORD not in cookie
    page = http.get(dash.url + "/admin", timeout=30)
    assert page.status_code == 200 and "<svg" in page.text


def test_a_wrong_password_is_refused_and_signs_nothing_in(dash: Dash) -> None:
    http, answer = dash.login("not the password at all")
    assert answer.status_code == 401 and "Wrong password" in answer.text
    assert http.get(dash.url + "/admin", allow_redirects=False, timeout=10).status_code == 303


def test_a_login_post_without_the_csrf_token_is_refused(dash: Dash) -> None:
    http = requests.Session()
    dash.login_page(http)
    answer = http.post(dash.url + "/admin/login", data={"password": PASSWORD}, allow_redirects=False, timeout=10)
    assert answer.status_code == 403
    assert http.get(dash.url + "/admin", allow_redirects=False, timeout=10).status_code == 303


def test_repeated_wrong_passwords_are_throttled(dash: Dash, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(followup.web.admin, "FAILED_LOGIN_DELAY", 0.0)
    for _ in range(5):
        assert dash.login("wrong wrong wrong wrong")[1].status_code == 401
    http, answer = dash.login()  # even the right password waits now
    assert answer.status_code == 429 and int(answer.headers["retry-after"]) > 0
    assert http.get(dash.url + "/admin", allow_redirects=False, timeout=10).status_code == 303


def test_setting_a_new_password_signs_every_session_out(dash: Dash) -> None:
    http = dash.signed_in()
    assert http.get(dash.url + "/admin/replies", allow_redirects=False, timeout=10).status_code == 200
    dash.store.set_admin_password_hash(hash_password("another long passphrase here", n=2**14), NOW)
    assert http.get(dash.url + "/admin/replies", allow_redirects=False, timeout=10).status_code == 303


def test_logout_needs_the_token_and_ends_the_session(dash: Dash) -> None:
    http = dash.signed_in()
    assert http.post(dash.url + "/admin/logout", data={}, allow_redirects=False, timeout=10).status_code == 403
    token = dash.csrf(http)
    answer = http.post(dash.url + "/admin/logout", data={"csrf_token": token}, allow_redirects=False, timeout=10)
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/login"
    assert http.get(dash.url + "/admin", allow_redirects=False, timeout=10).status_code == 303


def test_the_cookie_is_secure_when_the_public_url_is_https(sqlite_url: str) -> None:
    store = SqlStore.from_url(sqlite_url)
    store.upgrade()
    settings = Settings(public_base_url="https://followup.shoreline-nmt.example", secret_key="k" * 32)
    for url in _serve(store, settings):
        cookie = requests.get(url + "/admin/login", timeout=10).headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie
    store.close()


def test_without_a_secret_key_the_dashboard_is_off(sqlite_url: str) -> None:
    store = SqlStore.from_url(sqlite_url)
    store.upgrade()
    store.set_admin_password_hash(hash_password(PASSWORD, n=2**14), NOW)
    for url in _serve(store, Settings(public_base_url="http://127.0.0.1:8080")):
        page = requests.get(url + "/admin/login", timeout=10)
        assert page.status_code == 503 and "FOLLOWUP_SECRET_KEY" in page.text
        assert "set-cookie" not in page.headers
        refused = requests.post(url + "/admin/login", data={"password": PASSWORD}, allow_redirects=False, timeout=10)
        assert refused.status_code == 403
    store.close()


# --- the panels -------------------------------------------------------------------------------


def test_overview_shows_the_chart_funnel_and_holdout(dash: Dash) -> None:
    page = dash.signed_in().get(dash.url + "/admin?days=30", timeout=30).text
    # 5 nudges sent on Monday 2026-11-02 (T0), clinic's day
    assert re.search(r'<rect [^>]*data-status="sent" data-count="5"><title>2026-11-02: 5 sent</title>', page)
    assert "rebook_nudge" in page and "first_nudge" in page
    assert "40.0%" in page  # conversion: 2 bookings / 5 messages that reached the client
    assert "Too few clients to conclude" in page  # 5 reached, 2 held out
    assert "(America/New_York)" in page and " ET " in page


def test_mark_handled_needs_the_csrf_token_and_then_works(dash: Dash) -> None:
    http = dash.signed_in()
    reply = next(r for r in dash.store.replies(unhandled=True) if r.client == "x-stop")
    inbox = http.get(dash.url + "/admin/replies", timeout=10).text
    assert "Who is this?" in inbox and "rebook_nudge / first_nudge" in inbox
    path = f"{dash.url}/admin/replies/{reply.id}/handle"
    assert http.post(path, data={}, allow_redirects=False, timeout=10).status_code == 403
    assert http.post(path, data={"csrf_token": "guess"}, allow_redirects=False, timeout=10).status_code == 403
    assert reply.id in [r.id for r in dash.store.replies(unhandled=True)]
    answer = http.post(path, data={"csrf_token": dash.csrf(http)}, timeout=10)
    assert answer.status_code == 200 and f"Reply #{reply.id} marked handled." in answer.text
    assert reply.id not in [r.id for r in dash.store.replies(unhandled=True)]
    handled = next(r for r in dash.store.replies() if r.id == reply.id)
    assert handled.handled_at == NOW


@pytest.mark.parametrize(
    "typed", ["(305) 555-0101", "305.555.0101", "+1 305 555 0101", "3055550101", "lopez", "MARIA.LOPEZ@", "c-maria"]
)
def test_client_search_finds_by_phone_in_any_format_name_email_and_id(dash: Dash, typed: str) -> None:
    http = dash.signed_in()
    page = http.get(dash.url + "/admin/clients", params={"q": typed}, timeout=10).text
    assert "1 found" in page and 'href="/admin/client?id=c-maria"' in page


def test_client_search_takes_percent_signs_literally(dash: Dash) -> None:
    page = dash.signed_in().get(dash.url + "/admin/clients", params={"q": "%"}, timeout=10).text
    assert "No client matches" in page


def test_client_page_shows_consent_sessions_and_messages(dash: Dash) -> None:
    http = dash.signed_in()
    page = http.get(dash.url + "/admin/client", params={"id": "x-stop"}, timeout=10).text
    assert "Ana3000 Diaz" in page and "keyword" in page and "STOP" in page  # the opt-out in the ledger
    assert "rebook_nudge / first_nudge" in page and "2026-11-02 11:00 ET" in page
    missing = http.get(dash.url + "/admin/client", params={"id": "nobody"}, timeout=10)
    assert missing.status_code == 404 and "Traceback" not in missing.text


def test_upcoming_lists_the_next_seven_days_in_the_clinics_time(dash: Dash) -> None:
    page = dash.signed_in().get(dash.url + "/admin/upcoming", timeout=10).text
    assert "2026-11-07 11:00 ET" in page and "pre_visit_reminder / reminder_24h" in page


def test_what_clients_wrote_is_escaped(dash: Dash) -> None:
    dash.store.record_inbound(
        "SM-xss", dash.maria, "+13055550101", "<script>alert(1)</script>", NOW - timedelta(hours=1), "reply", None
    )
    page = dash.signed_in().get(dash.url + "/admin/replies", timeout=10).text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- a real browser ---------------------------------------------------------------------------


def _chromium_or_skip() -> None:
    if shutil.which("chromium") is None or not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required under CI=true (make test installs it with apt-get)")
        pytest.skip("chromium not installed (apt-get install chromium)")


def test_in_a_real_browser_sign_in_see_the_chart_and_mark_a_reply_handled(dash: Dash) -> None:
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "admin-dashboard.png"
    reply = next(r for r in dash.store.replies(unhandled=True) if r.client == "x-stop")
    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone's screen
            page.goto(dash.url + "/admin")
            assert page.url.endswith("/admin/login")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(dash.url + "/admin")
            chart = page.locator("svg.chart")
            assert chart.is_visible()
            assert page.locator('svg.chart rect[data-status="sent"]').count() >= 1
            page.screenshot(path=str(shot), full_page=True)
            page.get_by_role("link", name="Replies").click()
            page.get_by_role("button", name=f"Mark #{reply.id} handled").click()
            assert page.get_by_role("status").inner_text() == f"Reply #{reply.id} marked handled."
        finally:
            browser.close()
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 0
    assert reply.id not in [r.id for r in dash.store.replies(unhandled=True)]


@pytest.mark.parametrize("days", ["abc", "-5", "0", "7.5", ""])
def test_a_hand_edited_period_shows_a_page_not_an_error(dash: Dash, days: str) -> None:
    http = dash.signed_in()
    page = http.get(f"{dash.url}/admin", params={"days": days}, allow_redirects=False)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "<svg" in page.text
