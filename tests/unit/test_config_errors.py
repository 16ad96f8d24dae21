"""Each kind of bad configuration yields an error naming file, line and key, saying what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from followup.checker import run_check
from followup.config.loader import ClinicConfig, load_clinic
from followup.exceptions import ConfigError, ConfigIssue
from tests.conftest import MINI_CAMPAIGNS, ClinicFactory


def load(config: Path, templates: Path) -> ClinicConfig:
    return load_clinic(config, templates, env_file=None)


def errors(config: Path, templates: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(config, templates)
    return [str(i) for i in caught.value.issues]


def check_errors(config: Path, templates: Path) -> list[ConfigIssue]:
    report = run_check(load(config, templates))
    assert not report.ok
    return report.issues


def test_mini_clinic_is_valid(make_clinic: ClinicFactory) -> None:
    clinic = load(*make_clinic())
    assert set(clinic.campaigns) == {"post_session", "reminder"}
    report = run_check(clinic)
    assert report.ok, report.issues
    assert ("thanks", "en") in report.sms


def test_bad_duration_message_matches_the_documented_form(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(campaigns=MINI_CAMPAIGNS.replace("offset: 3d at 10:00", "offset: 3 dayz"))
    found = errors(config, templates)
    assert found == [
        "config/campaigns.yaml:11: post_session.steps[1].offset: "
        "'3 dayz' is not a duration (examples: 2h, 1d, 3d at 10:00, -24h, -1d at 18:00)"
    ]


def test_unknown_key_lists_allowed_keys(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(campaigns=MINI_CAMPAIGNS.replace("      expires_after: 6h", "      expire: 6h"))
    (found,) = errors(config, templates)
    assert found.startswith("config/campaigns.yaml:10: post_session.steps[0].expire: unknown key (allowed: ")
    assert "expires_after" in found and "offset" in found


def test_every_error_is_listed_not_just_the_first(make_clinic: ClinicFactory) -> None:
    broken = (
        MINI_CAMPAIGNS.replace(
            "purpose: care\n  trigger: session_completed", "purpose: carer\n  trigger: session_completed"
        )
        .replace("channel: sms\n      template: tip_text", "channel: text\n      template: tip_text")
        .replace("offset: -24h", "offset: 24h")
    )
    config, templates = make_clinic(campaigns=broken)
    found = errors(config, templates)
    # Bad purpose and channel in one campaign; the other campaign's offset sign is still checked.
    assert len(found) == 3, found
    assert any(
        "config/campaigns.yaml:3: post_session.purpose: 'carer' is not allowed (allowed: 'care' or 'marketing')" in f
        for f in found
    )
    assert any(
        "config/campaigns.yaml:12: post_session.steps[1].channel: 'text' is not allowed" in f and "'preferred'" in f
        for f in found
    )
    assert any("config/campaigns.yaml:21: reminder.steps[0].offset: '24h'" in f for f in found), found


def test_reminder_offset_must_be_negative(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(campaigns=MINI_CAMPAIGNS.replace("offset: -24h", "offset: 24h"))
    (found,) = errors(config, templates)
    assert (
        "config/campaigns.yaml:21: reminder.steps[0].offset: '24h': session_booked steps go before the session" in found
    )


def test_unknown_template_names_the_available_ones(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(campaigns=MINI_CAMPAIGNS.replace("template: tip_text", "template: tip_txt"))
    (found,) = errors(config, templates)
    assert "config/campaigns.yaml:13: post_session.steps[1].template: 'tip_txt' is not a template" in found
    assert "available: thanks, tip_text" in found


def test_channel_needs_the_template_parts(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(templates={"thanks/subject.j2": None})
    found = errors(config, templates)
    assert any(
        "config/campaigns.yaml:9: post_session.steps[0].template: "
        "template 'thanks' has no subject.j2 (needed for channel preferred)" in f
        for f in found
    ), found


def test_missing_required_key_and_trigger_days(make_clinic: ClinicFactory) -> None:
    broken = MINI_CAMPAIGNS.replace("  description: Day-before reminder.\n", "").replace(
        "trigger: session_completed", "trigger: {type: no_rebook}"
    )
    config, templates = make_clinic(campaigns=broken)
    found = errors(config, templates)
    assert any("post_session.trigger: trigger no_rebook needs 'days'" in f for f in found), found
    assert any("reminder.description: required key is missing" in f for f in found), found


def test_yaml_syntax_error_and_duplicate_keys(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(campaigns="a:\n  b: [1, 2\n")
    (syntax,) = errors(config, templates)
    assert syntax.startswith("config/campaigns.yaml:3: YAML syntax error")
    config, templates = make_clinic(campaigns=MINI_CAMPAIGNS + "reminder:\n  description: again\n")
    assert errors(config, templates) == ["config/campaigns.yaml:24: reminder: duplicate key (first defined on line 16)"]


def test_tip_library_errors(make_clinic: ClinicFactory, tmp_path: Path) -> None:
    from tests.conftest import MINI_TIPS

    broken = MINI_TIPS.replace("focus: [neck_shoulders]", "focus: [neck]").replace(
        "category: sleep", "category: sleeping"
    )
    config, templates = make_clinic(tips=broken)
    found = errors(config, templates)
    assert any(
        "config/tips.yaml:10: tips[0].focus[0]: 'neck' is not a focus area (allowed: neck_shoulders, lower_back)" in f
        for f in found
    ), found
    assert any(
        "config/tips.yaml:14: tips[1].category: 'sleeping' is not a category (allowed: posture, sleep)" in f
        for f in found
    ), found


def test_unknown_tip_category_in_campaign(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(campaigns=MINI_CAMPAIGNS.replace("categories: [posture]", "categories: [postures]"))
    (found,) = errors(config, templates)
    assert (
        "config/campaigns.yaml:15: post_session.steps[1].tip.categories[0]: 'postures' is not a tip category" in found
    )


def test_template_undefined_variable_points_at_template_line(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(
        templates={"thanks/sms.j2": "Hi {{ client.first_name }},\nyour {{ client.frist_name }}\n"}
    )
    (issue,) = check_errors(config, templates)
    assert str(issue.file).endswith("thanks/sms.j2") and issue.line == 2
    assert "'client' has no 'frist_name' (it has: " in issue.message and "first_name" in issue.message


def test_template_unknown_top_level_variable(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(templates={"thanks/email.txt.j2": "Hi {{ customer.name }}\n"})
    (issue,) = check_errors(config, templates)
    assert str(issue.file).endswith("thanks/email.txt.j2") and issue.line == 1
    assert "'customer' is undefined" in issue.message and "client, session, business" in issue.message


def test_template_syntax_error(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(templates={"thanks/subject.j2": "Thanks\n{% if client.first_name %}hi\n"})
    issues = check_errors(config, templates)
    assert issues and all(str(i.file).endswith("thanks/subject.j2") for i in issues)
    assert issues[0].line is not None and "template syntax error" in issues[0].message


def test_sandbox_blocks_python_internals(make_clinic: ClinicFactory) -> None:
    config, templates = make_clinic(templates={"thanks/sms.j2": "{{ client.__class__.__mro__ }}\n"})
    (issue,) = check_errors(config, templates)
    assert str(issue.file).endswith("thanks/sms.j2")


def test_over_long_sms_fails_with_segment_count(make_clinic: ClinicFactory) -> None:
    long_text = "Hi {{ client.first_name }}, " + "stretch gently every day. " * 20
    config, templates = make_clinic(templates={"tip_text/sms.j2": long_text + "\n"})
    (issue,) = check_errors(config, templates)
    assert str(issue.file).endswith("tip_text/sms.j2")
    assert "renders to 4 SMS segments" in issue.message and "limit of 3" in issue.message


def test_segment_limit_is_configurable(make_clinic: ClinicFactory) -> None:
    from tests.conftest import MINI_TOML

    config, templates = make_clinic(
        toml=MINI_TOML + "[sms]\nmax_segments = 1\n",
        templates={"thanks/sms.j2": "x" * 200 + "\n"},
    )
    (issue,) = check_errors(config, templates)
    assert "renders to 2 SMS segments" in issue.message and "limit of 1" in issue.message


def test_bad_time_zone_in_settings_file(make_clinic: ClinicFactory) -> None:
    from tests.conftest import MINI_TOML

    config, templates = make_clinic(toml=MINI_TOML.replace("America/New_York", "America/Miami_Beach"))
    (found,) = errors(config, templates)
    assert found.startswith("config/followup.toml:1: default_timezone: 'America/Miami_Beach' is not an IANA time zone")


def test_a_campaign_may_not_take_a_reserved_name(make_clinic: ClinicFactory) -> None:
    from followup.config.loader import load_clinic
    from followup.exceptions import ConfigError

    campaigns = """\
reply_forward:
  description: Mine.
  purpose: care
  trigger: session_completed
  steps:
    - {offset: 2h, template: thanks}
"""
    config, templates = make_clinic(campaigns=campaigns)
    with pytest.raises(ConfigError) as caught:
        load_clinic(config, templates, env_file=None)
    assert any(i.key == "reply_forward" and "reserved" in i.message and i.line == 1 for i in caught.value.issues)
