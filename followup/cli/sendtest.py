"""``followup send-test``: one real message through the configured channel, to yourself."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer

from followup.channels.base import Outgoing
from followup.cli.common import EXIT_INVALID, ConfigOpt, TemplatesOpt, err, fail, load, out
from followup.core.domain import ChannelName
from followup.core.tipselect import choose_tip
from followup.engine.worker import SystemClock
from followup.exceptions import ConfigError, ConfigIssue, DeliveryError, TemplateRenderError
from followup.rendering.compose import compose
from followup.rendering.examples import sample_client, sample_session
from followup.wiring import make_channels


def command(
    campaign: Annotated[str, typer.Argument(help="Campaign name.")],
    to: Annotated[str, typer.Option("--to", help="Your phone (+1305...) or email address.")],
    step: Annotated[int, typer.Option("--step", help="Step number, 1 = first.")] = 1,
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Send one message of CAMPAIGN to yourself, through the configured delivery
    (live with FOLLOWUP_DELIVERY=live, else the dry-run outbox), with sample data.

    Example: FOLLOWUP_DELIVERY=live followup send-test pre_visit_reminder --to +13055550100
    """
    clinic = load(config, templates)
    chosen = clinic.campaign(campaign) if campaign in clinic.campaigns else None
    if chosen is None or not 1 <= step <= len(chosen.steps):
        fail(
            ConfigError(
                [
                    ConfigIssue(
                        campaign,
                        None,
                        "--step" if chosen else "",
                        f"no such campaign or step (campaigns: {', '.join(clinic.campaigns)})",
                    )
                ]
            )
        )
    channel_name: ChannelName = "email" if "@" in to else "sms"
    client = replace(
        sample_client(clinic.settings.default_language),
        phone=to if channel_name == "sms" else None,
        email=to if channel_name == "email" else None,
    )
    session = sample_session(client)
    definition = chosen.steps[step - 1]
    tip = None
    if definition.tip is not None:
        tip = choose_tip(clinic.tips, definition.tip.categories, [], session.focus_areas, client.external_id)
    now = SystemClock().now()
    try:
        composed = compose(
            clinic,
            client=client,
            session=session,
            visit_count=3,
            campaign_name=campaign,
            step_index=step - 1,
            channel=channel_name,
            now=now,
            tip=tip,
        )
        channels = make_channels(clinic)
    except (TemplateRenderError, ConfigError) as exc:
        fail(exc if isinstance(exc, ConfigError) else ConfigError([exc.issue]))
    message = Outgoing(
        message_id=0,
        key=f"send-test/{campaign}/{step}/{now.timestamp():.0f}",
        channel=channel_name,
        to=to,
        purpose=chosen.purpose,
        expires_at=now + definition.expires_after,
        client_external_id="send-test",
        campaign=campaign,
        step=chosen.step_name(step - 1),
        at=now,
        sms=composed.sms,
        email=composed.email,
        unsubscribe_url=composed.unsubscribe_url,
    )
    try:
        sent = channels[channel_name].send(message)
    except DeliveryError as exc:
        err.print(f"not sent ({type(exc).__name__}): {exc}", markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    out.print(f"sent {channel_name} to {to} via {clinic.settings.delivery}: {sent.provider_id}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("send-test")(command)
