"""Shared fixtures: a small clinic written to a temporary folder, and the repo paths."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

MINI_CAMPAIGNS = """\
post_session:
  description: Thanks after a session.
  purpose: care
  trigger: session_completed
  steps:
    - name: thanks
      offset: 2h
      channel: preferred
      template: thanks
      expires_after: 6h
    - offset: 3d at 10:00
      channel: sms
      template: tip_text
      tip:
        categories: [posture]
reminder:
  description: Day-before reminder.
  purpose: care
  trigger: session_booked
  steps:
    - offset: -24h
      channel: sms
      template: thanks
"""

MINI_TIPS = """\
focus_areas:
  neck_shoulders: Neck & shoulders
  lower_back: Lower back
categories:
  posture: Posture
  sleep: Sleep
tips:
  - id: posture-one
    category: posture
    focus: [neck_shoulders]
    title: Screen at eye level
    sms: "Raise your screen to eye level."
  - id: sleep-one
    category: sleep
    title: Pillow height
    sms: "Pick a pillow that keeps your neck level."
    email: "A longer text about pillows."
"""

MINI_TEMPLATES = {
    "_layouts/sms.j2": (
        '{{ body }}{% if campaign.purpose == "marketing" %}{{ "\\n\\n" }}Reply STOP to opt out.{% endif %}\n'
    ),
    "_layouts/email.txt.j2": (
        "{{ body }}\n\n--\n{{ business.name }}\n{{ business.address }}\nUnsubscribe: {{ links.unsubscribe }}\n"
    ),
    "_layouts/email.html.j2": (
        "<html><head><style>p { color: #123456; }</style></head><body>{{ body }}"
        '<p>{{ business.address }}</p><a href="{{ links.unsubscribe }}">Unsubscribe</a></body></html>\n'
    ),
    "thanks/sms.j2": "Hi {{ client.first_name }}, thanks for your {{ session.service }}.\n",
    "thanks/subject.j2": "Thank you, {{ client.first_name }}\n",
    "thanks/email.txt.j2": "Hi {{ client.first_name }},\n\nSee you {{ session.day }} at {{ session.time }}.\n",
    "tip_text/sms.j2": "{{ client.first_name }}: {{ tip.sms }}\n",
    # Spanish ("es" is in MINI_TOML's languages; check wants a version of every file).
    "_layouts/es/sms.j2": (
        '{{ body }}{% if campaign.purpose == "marketing" %}{{ "\\n\\n" }}'
        "Responda PARAR para no recibir más.{% endif %}\n"
    ),
    "_layouts/es/email.txt.j2": (
        "{{ body }}\n\n--\n{{ business.name }}\n{{ business.address }}\nDarse de baja: {{ links.unsubscribe }}\n"
    ),
    "_layouts/es/email.html.j2": (
        "<html><head><style>p { color: #123456; }</style></head><body>{{ body }}"
        '<p>{{ business.address }}</p><a href="{{ links.unsubscribe }}">Darse de baja</a></body></html>\n'
    ),
    "thanks/es/sms.j2": "Hola {{ client.first_name }}, gracias por su {{ session.service }}.\n",
    "thanks/es/subject.j2": "Gracias, {{ client.first_name }}\n",
    "thanks/es/email.txt.j2": (
        "Hola, {{ client.first_name }}:\n\nLe esperamos el {{ session.day }} a las {{ session.time }}.\n"
    ),
    "tip_text/es/sms.j2": "{{ client.first_name }}: {{ tip.sms }}\n",
}

MINI_TOML = """\
default_timezone = "America/New_York"
languages = ["en", "es"]

[business]
name = "Test Clinic"
address = "1 Ocean Dr, Miami Beach, FL 33139"
"""

MINI_TIPS_ES = """\
focus_areas:
  neck_shoulders: Cuello y hombros
  lower_back: Espalda baja
categories:
  posture: Postura
  sleep: Sueño
tips:
  posture-one:
    title: La pantalla a la altura de los ojos
    sms: "Suba la pantalla a la altura de los ojos."
  sleep-one:
    title: La altura de la almohada
    sms: "Elija una almohada que mantenga el cuello derecho."
    email: "Un texto más largo sobre almohadas."
"""

ClinicFactory = Callable[..., tuple[Path, Path]]


def write_tree(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture
def make_clinic(tmp_path: Path) -> ClinicFactory:
    """Write a small clinic; keyword arguments replace whole files or template files."""

    def factory(
        campaigns: str = MINI_CAMPAIGNS,
        tips: str = MINI_TIPS,
        toml: str = MINI_TOML,
        templates: dict[str, str | None] | None = None,
        tips_es: str | None = MINI_TIPS_ES,
    ) -> tuple[Path, Path]:
        config = tmp_path / "config"
        tdir = tmp_path / "templates"
        write_tree(config, {"campaigns.yaml": textwrap.dedent(campaigns), "tips.yaml": tips, "followup.toml": toml})
        # MINI_TIPS_ES translates MINI_TIPS; a test with its own library brings its own (or none).
        if tips_es is not None and (tips is MINI_TIPS or tips_es is not MINI_TIPS_ES):
            write_tree(config, {"tips.es.yaml": tips_es})
        files = dict(MINI_TEMPLATES)
        for name, text in (templates or {}).items():
            if text is None:
                files.pop(name, None)
            else:
                files[name] = text
        write_tree(tdir, {k: v for k, v in files.items() if v is not None})
        return config, tdir

    return factory


@pytest.fixture
def shipped_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the shipped config/ and templates/, safe to break."""
    config = tmp_path / "config"
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "config", config)
    shutil.copytree(REPO / "templates", templates)
    return config, templates


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No FOLLOWUP_* variable or .env from the developer's shell leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("FOLLOWUP_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
