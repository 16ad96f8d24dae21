"""The shipped tip library and campaigns meet what the clinic was promised."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from followup.config.loader import load_clinic
from followup.core.sms_encoding import analyse
from followup.exceptions import ConfigError
from tests.conftest import REPO, ClinicFactory, write_tree


def test_shipped_tips_cover_every_category_in_one_gsm7_segment() -> None:
    clinic = load_clinic(REPO / "config", REPO / "templates", env_file=None)
    tips = clinic.tips.tips
    assert len(tips) >= 30
    per_category = Counter(t.category for t in tips)
    assert set(per_category) == {
        "posture",
        "stress",
        "hydration_nutrition",
        "stretching_movement",
        "after_session",
        "sleep",
    }
    assert min(per_category.values()) >= 5
    for tip in tips:
        info = analyse(tip.sms)
        assert (info.encoding, info.segments) == ("GSM-7", 1), tip.id
        assert tip.email, tip.id


def test_shipped_campaigns_have_sms_and_email_for_every_step() -> None:
    clinic = load_clinic(REPO / "config", REPO / "templates", env_file=None)
    assert {c.trigger.type for c in clinic.campaigns.values()} == {
        "session_completed",
        "session_booked",
        "no_rebook",
        "lapsed",
        "first_visit",
    }
    for campaign in clinic.campaigns.values():
        for step in campaign.steps:
            for part in ("sms", "subject", "text"):
                assert clinic.templates.has(step.template, part), (step.template, part)


def test_one_file_per_campaign_and_duplicates_across_files(make_clinic: ClinicFactory, tmp_path: Path) -> None:
    from tests.conftest import MINI_CAMPAIGNS

    config, templates = make_clinic()
    reminder = MINI_CAMPAIGNS[MINI_CAMPAIGNS.index("reminder:") :]
    write_tree(config / "campaigns", {"reminder_copy.yaml": reminder.replace("reminder:", "second_reminder:")})
    clinic = load_clinic(config, templates, env_file=None)
    assert set(clinic.campaigns) == {"post_session", "reminder", "second_reminder"}
    write_tree(config / "campaigns", {"zz_dup.yaml": reminder})
    with pytest.raises(ConfigError) as caught:
        load_clinic(config, templates, env_file=None)
    (issue,) = caught.value.issues
    assert str(issue).startswith("config/campaigns/zz_dup.yaml:1: reminder: campaign defined twice (first in ")


def test_no_shipped_sms_names_what_was_treated() -> None:
    """HHS "minimum necessary": an SMS can be read on a lock screen, so no shipped SMS template,
    in any language, shows the session's focus areas (the body areas worked on)."""
    sms = sorted((REPO / "templates").rglob("sms.j2"))
    assert len(sms) >= 18  # every campaign's SMS and the layout, in English and Spanish
    for path in sms:
        text = path.read_text(encoding="utf-8")
        assert "focus" not in text, f"{path.relative_to(REPO)} shows the session's focus areas"
