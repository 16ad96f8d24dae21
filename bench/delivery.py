"""Benchmark (run by hand, not a test): the live channels against local peers.

1. Emails per second through SmtpEmailChannel to a local aiosmtpd server: one reused
   connection for the batch vs a new connection per message.
2. The Twilio channel's overhead per message over a bare SDK call, both against the same
   local Twilio stand-in (tests/integration/twilio_standin.py).

    .venv/bin/python bench/delivery.py --emails 500 --sms 500
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from followup.channels.base import Outgoing
from followup.channels.smtp_email import SmtpConfig, SmtpEmailChannel
from followup.channels.twilio_sms import Pacer, TwilioConfig, TwilioSmsChannel
from followup.rendering.templates import RenderedEmail
from tests.integration.smtp_server import smtp_server
from tests.integration.twilio_standin import ACCOUNT, twilio_standin

NOW = datetime.now(UTC)
HTML = "<html><body>" + "<p style='color:#1f6f78'>Hi Maria, a self-care tip for today.</p>" * 30 + "</body></html>"


def email(n: int) -> Outgoing:
    return Outgoing(
        message_id=n,
        key=f"k{n}",
        channel="email",
        to=f"c{n}@example.com",
        purpose="marketing",
        expires_at=NOW + timedelta(hours=5),
        client_external_id=f"c{n}",
        campaign="bench",
        step="s",
        at=NOW,
        email=RenderedEmail(subject="Your tip", text="Hi Maria,\n\nA tip.\n" * 20, html=HTML),
        unsubscribe_url="https://followup.example/u/token",
    )


def bench_smtp(count: int) -> dict[str, float]:
    results = {}
    with smtp_server() as box:
        config = SmtpConfig(host="127.0.0.1", port=box.port, tls="none", sender="Clinic <hello@clinic.example>")
        for mode in ("reused", "new-per-message"):
            smtp = SmtpEmailChannel(config)
            start = time.perf_counter()
            if mode == "reused":
                smtp.open()
            for n in range(count):
                smtp.send(email(n))
            smtp.close()
            elapsed = time.perf_counter() - start
            results[mode] = count / elapsed
        assert len(box.received) == 2 * count
    return results


def bench_twilio(count: int) -> dict[str, float]:
    with twilio_standin() as standin:
        bare = Client(ACCOUNT, "token", http_client=TwilioHttpClient(timeout=10))
        url = standin.base_url
        # The bare SDK call, pointed at the same stand-in by its own base-URL option.
        bare.api.base_url = url
        timings: dict[str, list[float]] = {"bare SDK": [], "TwilioSmsChannel": []}
        channel = TwilioSmsChannel(
            TwilioConfig(
                account_sid=ACCOUNT,
                auth_token="token",
                api_url=url,
                from_number="+13055550100",
                status_callback_base="https://followup.example",
            ),
            pacer=Pacer(1_000_000),
        )
        for n in range(count):
            start = time.perf_counter()
            bare.messages.create(
                to="+13055550101",
                from_="+13055550100",
                body=f"Hello {n}",
                status_callback="https://followup.example/twilio/status?m=1",
                validity_period=3600,
            )
            timings["bare SDK"].append(time.perf_counter() - start)
            message = Outgoing(
                message_id=n,
                key=f"k{n}",
                channel="sms",
                to="+13055550101",
                purpose="care",
                expires_at=NOW + timedelta(hours=1),
                client_external_id="c",
                campaign="b",
                step="s",
                at=NOW,
                sms=f"Hello {n}",
            )
            start = time.perf_counter()
            channel.send(message)
            timings["TwilioSmsChannel"].append(time.perf_counter() - start)
        assert len(standin.posts) == 2 * count, "both clients must have reached the stand-in"
    return {name: statistics.median(values) * 1e6 for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=500)
    parser.add_argument("--sms", type=int, default=500)
    args = parser.parse_args()
    smtp = bench_smtp(args.emails)
    print(f"SMTP, {args.emails} emails to a local aiosmtpd:")
    for mode, rate in smtp.items():
        print(f"  {mode:16s} {rate:8.1f} emails/s")
    print(f"  reuse speed-up   {smtp['reused'] / smtp['new-per-message']:8.2f}x")
    twilio = bench_twilio(args.sms)
    print(f"Twilio, {args.sms} messages to a local stand-in (median per message):")
    for name, micros in twilio.items():
        print(f"  {name:18s} {micros:8.0f} us")
    print(f"  channel overhead   {twilio['TwilioSmsChannel'] - twilio['bare SDK']:8.0f} us per message")


if __name__ == "__main__":
    main()
