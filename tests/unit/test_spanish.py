"""Spanish: accents and GSM-7, dates by locale, tip translations, keyword replies, page
language, and what check says about missing translations."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from followup.checker import missing_translations, run_check
from followup.config.loader import load_clinic
from followup.config.settings import Settings
from followup.core.keywords import classify, keyword_language, reply_text
from followup.core.sms_encoding import GSM7_BASIC, analyse, strip_accents
from followup.exceptions import ConfigError
from followup.rendering.compose import compose
from followup.rendering.context import babel_locale, local_day, local_short_date, local_time
from followup.rendering.examples import SAMPLE_NOW, sample_client, sample_session
from followup.timeutil import zone
from followup.web.pages import PAGE_TEXT, accepted_languages, page_language
from tests.conftest import MINI_TOML, REPO, ClinicFactory

MIAMI = zone("America/New_York")


# --- accents and GSM-7 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("más", "mas"),
        ("Día", "Dia"),
        ("¿Sí? ¡Adiós!", "¿Si? ¡Adios!"),
        ("después, él, niño, pingüino", "después, él, niño, pingüino"),  # é ñ ü are GSM-7
        ("ÁÍÓÚ áíóú", "AIOU aiou"),
        ("Núñez", "Nuñez"),
        ("ç ë", "c e"),
        ("Hola 💆 ’", "Hola 💆 ’"),  # not letters: left for smart encoding and check
        ("Дмитрий", "Дмитрий"),  # no GSM-7 spelling: kept, never blanked
    ],
)
def test_strip_accents_takes_off_only_what_gsm7_lacks(given: str, expected: str) -> None:
    assert strip_accents(given) == expected


def test_gsm7_has_the_spanish_letters_the_readme_says() -> None:
    assert set("éñÑüÜ¿¡É") <= GSM7_BASIC
    assert not set("áíóúÁÍÓÚ") & GSM7_BASIC


# --- dates by locale ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "language", "day", "short", "time"),
    [
        (datetime(2026, 12, 10, 15, 30, tzinfo=MIAMI), "en", "Thursday, December 10", "Dec 10", "3:30 PM"),
        (datetime(2026, 12, 10, 15, 30, tzinfo=MIAMI), "es", "jueves, 10 de diciembre", "10 dic", "3:30 p.m."),
        (datetime(2026, 12, 12, 9, 5, tzinfo=MIAMI), "es", "sábado, 12 de diciembre", "12 dic", "9:05 a.m."),
        (datetime(2027, 1, 6, 13, 0, tzinfo=MIAMI), "es", "miércoles, 6 de enero", "6 ene", "1:00 p.m."),
    ],
)
def test_dates_and_times_come_from_cldr_per_language(
    moment: datetime, language: str, day: str, short: str, time: str
) -> None:
    assert local_day(moment, language) == day
    assert local_short_date(moment, language) == short
    assert local_time(moment, language) == time


def test_the_locale_is_the_language_in_the_clinics_region() -> None:
    assert babel_locale("es", "US") == "es_US"
    assert babel_locale("es", "ES") == "es_ES"
    assert babel_locale("en", "ZZ") == "en"
    moment = datetime(2026, 12, 10, 15, 30, tzinfo=MIAMI)
    assert local_time(moment, "es", "ES") == "15:30"  # Madrid writes 24-hour time


# --- settings --------------------------------------------------------------------------------


def test_accents_setting_one_value_or_per_language() -> None:
    assert Settings().strip_accents("es") and Settings().strip_accents("en")
    assert not Settings(sms_accents="keep").strip_accents("es")
    mixed = Settings(sms_accents={"es": "keep", "*": "strip"})
    assert not mixed.strip_accents("es") and mixed.strip_accents("en")
    assert Settings().languages == ["en", "es"]


def test_a_bad_accents_value_names_file_line_and_key(tmp_path: Path) -> None:
    from followup.config.settings import load_settings

    (tmp_path / "followup.toml").write_text('languages = ["en", "es"]\n\n[sms]\naccents = "drop"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, env_file=None)
    text = str(caught.value)
    assert "followup.toml:4: sms.accents" in text and "keep" in text and "strip" in text, text


# --- tips ------------------------------------------------------------------------------------


def test_a_spanish_client_gets_the_spanish_tip_and_labels(make_clinic: ClinicFactory) -> None:
    clinic = load_clinic(*make_clinic(), env_file=None)
    tip = clinic.tips.by_id("posture-one")
    assert tip is not None
    spanish = sample_client("es")
    out = compose(
        clinic,
        client=spanish,
        session=sample_session(spanish),
        visit_count=1,
        campaign_name="post_session",
        step_index=1,
        channel="sms",
        now=SAMPLE_NOW,
        tip=tip,
    )
    assert out.sms == "Carmen: Suba la pantalla a la altura de los ojos."
    assert clinic.tips.focus_label("neck_shoulders", "es") == "Cuello y hombros"
    assert clinic.tips.category_label("sleep", "es") == "Sueño"
    assert clinic.tips.focus_label("neck_shoulders", "fr") == "Neck & shoulders"


def test_an_id_the_library_lacks_is_an_error_with_file_line_and_key(make_clinic: ClinicFactory) -> None:
    from tests.conftest import MINI_TIPS_ES

    broken = MINI_TIPS_ES.replace("  sleep-one:", "  sleep-won:")
    with pytest.raises(ConfigError) as caught:
        load_clinic(*make_clinic(tips_es=broken), env_file=None)
    assert re.search(r"tips\.es\.yaml:11: tips\.sleep-won: 'sleep-won' is not in tips\.yaml's tips", str(caught.value))


def test_check_names_every_missing_translation_file_and_tip(make_clinic: ClinicFactory) -> None:
    from tests.conftest import MINI_TIPS_ES

    without_tip = MINI_TIPS_ES.split("  sleep-one:")[0]
    config, templates = make_clinic(templates={"thanks/es/subject.j2": None}, tips_es=without_tip)
    clinic = load_clinic(config, templates, env_file=None)
    issues = [str(i) for i in missing_translations(clinic)]
    assert len(issues) == 2, issues
    assert any("thanks/es/subject.j2: missing" in i and "thanks/subject.j2" in i for i in issues), issues
    assert any("tips.es.yaml: tips.sleep-one: missing" in i for i in issues), issues
    assert not run_check(clinic).ok
    # English only: nothing is missing.
    english = load_clinic(*make_clinic(toml=MINI_TOML.replace('["en", "es"]', '["en"]'), tips_es=None), env_file=None)
    assert missing_translations(english) == [] and run_check(english).ok


def test_no_tips_file_at_all_is_one_issue(make_clinic: ClinicFactory) -> None:
    clinic = load_clinic(*make_clinic(tips_es=None), env_file=None)
    (issue,) = [str(i) for i in missing_translations(clinic)]
    assert "tips.es.yaml: missing" in issue


# --- keywords and replies --------------------------------------------------------------------


def test_spanish_keywords_are_known_as_spanish() -> None:
    table = Settings().keyword_table()
    for text, language in [
        *[("Parar", "es"), ("ayuda", "es"), ("Sí", "es"), ("cancelar", "es"), ("Parar consejos", "es")],
        *[("STOP", "en"), ("help", "en"), ("Cancel", "en"), ("stop tips", "en"), ("YES", "en")],
        *[("INFO", None), ("BOOK", None), ("hola", None)],
    ]:
        assert keyword_language(classify(text, table).word) == language, text
    assert keyword_language(None) is None


@pytest.mark.parametrize("kind", ["help", "stop", "stop_marketing", "start"])
def test_every_reply_has_a_spanish_version_without_english(kind: str) -> None:
    spanish = reply_text(kind, "es", name="Clinic", short="Clinic", phone="+1 305 555 0100", cap=3)
    english = reply_text(kind, "en", name="Clinic", short="Clinic", phone="+1 305 555 0100", cap=3)
    assert spanish != english
    assert not re.search(r"\b(Reply|STOP|START|HELP|you|texts?)\b", spanish), spanish
    assert analyse(strip_accents(spanish)).encoding == "GSM-7"
    assert reply_text(kind, "fr", name="Clinic", short="Clinic", phone="1", cap=3) == reply_text(
        kind, "en", name="Clinic", short="Clinic", phone="1", cap=3
    )


def test_help_in_spanish_says_what_the_ctia_asks() -> None:
    text = Settings().help_reply("es")
    for part in ("Shoreline Neuromuscular Therapy", "hasta 3 mensajes al día", "tarifas de mensajes y datos", "PARAR"):
        assert part in text, text


# --- pages -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("es-US,es;q=0.9,en;q=0.8", ["es", "en"]),
        ("en;q=0.4, es", ["es", "en"]),
        ("fr-CA, *;q=0.1", ["fr"]),
        ("de;q=0, es;q=0.5", ["es"]),
        ("", []),
        ("garbage;;;, es;q=abc, en", ["en"]),
    ],
)
def test_accept_language_is_read_best_first(header: str, expected: list[str]) -> None:
    assert accepted_languages(header) == expected


def test_the_page_language_prefers_a_set_client_language_then_the_browser() -> None:
    languages = ["en", "es"]
    assert page_language("es", "en", languages, "en") == "es"
    assert page_language("en", "es-MX", languages, "en") == "es"  # the default counts as unset
    assert page_language("en", "fr", languages, "en") == "en"
    assert page_language(None, "es", languages, "en") == "es"
    assert page_language("pt", "", languages, "en") == "en"


def test_every_page_string_has_a_spanish_version() -> None:
    assert set(PAGE_TEXT["es"]) == set(PAGE_TEXT["en"])
    for key, text in PAGE_TEXT["es"].items():
        assert text != PAGE_TEXT["en"][key], key


# --- the shipped Spanish ---------------------------------------------------------------------

ENGLISH_WORDS = re.compile(
    r"\b(Hi|Hello|thanks?|Thank|session|Reply|STOP|reminder|Book|your|you|the|and|with|tip|"
    r"Unsubscribe|preferences|see|soon|Questions?|Take care|regards)\b"
)


def test_shipped_spanish_templates_contain_no_english_words() -> None:
    templates = REPO / "templates"
    files = sorted(templates.glob("*/es/*.j2"))
    assert len(files) == 3 + 9 * 3 + 1  # the 3 layouts, 9 templates x 3 files, the welcome email's HTML
    for path in files:
        text = re.sub(r"\{[{%#].*?[}%#]\}", " ", path.read_text(encoding="utf-8"), flags=re.S)
        text = re.sub(r"<[^>]+>|&\w+;", " ", text)  # HTML tags and entities
        found = ENGLISH_WORDS.findall(text)
        assert not found, f"{path}: {found}"


def test_shipped_spanish_tips_are_one_gsm7_segment_under_the_default() -> None:
    clinic = load_clinic(REPO / "config", REPO / "templates", env_file=None)
    assert clinic.tips.untranslated("es") == []
    for tip in clinic.tips.tips:
        spanish = clinic.tips.localized(tip, "es")
        assert spanish.sms != tip.sms and spanish.title != tip.title, tip.id
        info = analyse(strip_accents(spanish.sms))
        assert info.encoding == "GSM-7" and info.segments == 1, tip.id
        assert len(spanish.title) <= 40, tip.id
        assert not ENGLISH_WORDS.search(spanish.sms), tip.id


# --- focus areas in Spanish on import ----------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "areas"),
    [
        ("Cuello y hombros", ("neck_shoulders",)),
        ("Espalda baja; Mandíbula y cabeza", ("lower_back", "jaw_head")),
        ("mandibula y cabeza", ("jaw_head",)),  # accents and case aside
        ("CADERAS Y GLÚTEOS, Neck & shoulders", ("hips_glutes", "neck_shoulders")),  # languages mixed
        ("lower_back", ("lower_back",)),
    ],
)
def test_focus_labels_of_every_language_are_read_on_import(tmp_path: Path, cell: str, areas: tuple[str, ...]) -> None:
    from followup.intake import read_sessions

    clinic = load_clinic(REPO / "config", REPO / "templates", env_file=None)
    path = tmp_path / "sessions.csv"
    path.write_text(f'external_id,client,start,service,focus\ns1,c1,2026-12-03 10:00,NMT,"{cell}"\n', encoding="utf-8")
    result = read_sessions(path, focus_areas=clinic.tips.focus_areas, focus_names=clinic.tips.focus_names())
    assert result.warnings == [] and result.errors == []
    assert result.rows[0].session.focus_areas == areas


def test_an_unknown_focus_is_still_left_out(tmp_path: Path) -> None:
    from followup.intake import read_sessions

    clinic = load_clinic(REPO / "config", REPO / "templates", env_file=None)
    path = tmp_path / "sessions.csv"
    path.write_text("external_id,client,start,service,focus\ns1,c1,2026-12-03 10:00,NMT,Rodilla\n", encoding="utf-8")
    result = read_sessions(path, focus_areas=clinic.tips.focus_areas, focus_names=clinic.tips.focus_names())
    [warning] = result.warnings
    assert "'Rodilla' is not a focus area; left out" in warning.reason
    assert clinic.tips.focus_names()["Cuello y hombros"] == "neck_shoulders"


def test_missing_translations_are_listed_with_the_other_errors(make_clinic: ClinicFactory) -> None:
    from tests.conftest import MINI_TIPS_ES

    broken = MINI_TIPS_ES.replace("  sleep-one:", "  sleep-won:")  # an unknown id: loading fails
    config, templates = make_clinic(templates={"thanks/es/subject.j2": None}, tips_es=broken)
    with pytest.raises(ConfigError) as caught:
        load_clinic(config, templates, env_file=None)
    issues = [str(i) for i in caught.value.issues]
    assert any("'sleep-won' is not in tips.yaml's tips" in i for i in issues), issues
    # ...and, in the same run, what the translation lacks: the real tip and the template file
    assert any("tips.es.yaml: tips.sleep-one: missing" in i for i in issues), issues
    assert any("thanks/es/subject.j2: missing" in i for i in issues), issues


# --- stripping accents must not change the meaning ----------------------------------------------

# Unaccented forms that are other words: "qué cambió" stripped is "que cambio" ("a change").
OTHER_WORDS = frozenset(
    {"cambio", "esta", "este", "estan", "estas", "el", "si", "de", "se", "te", "mi", "tu", "papa", "mama", "vacia"}
    | {"practica", "publico", "termino", "continua", "limite", "ultimo", "envio", "llego", "pase"}
)


def _meaning_changes(text: str) -> list[str]:
    """Accented words that [sms] accents = strip changes (é stays: GSM-7 has it) into another
    word: a listed one, a future tense (-ará/-irá reads as a subjunctive stripped) or a
    preterite in -ó (reads as "I ...").  "más" -> "mas" is allowed: "no recibir mas" still
    reads as "no more" (the opt-out line every carrier sees)."""
    found = []
    for word in re.findall(r"\w*[áíóú]\w*", text):
        bare = strip_accents(word).lower()
        if bare == word.lower():
            continue
        if bare in OTHER_WORDS or re.search(r"(?:ará|irá|[^i]ó)$", word.lower()):
            found.append(word)
    return found


def _spanish_sms_texts() -> dict[str, str]:
    import yaml

    texts = {str(p.relative_to(REPO)): p.read_text(encoding="utf-8") for p in (REPO / "templates").glob("*/es/sms.j2")}
    tips = yaml.safe_load((REPO / "config" / "tips.es.yaml").read_text(encoding="utf-8"))["tips"]
    texts |= {f"tips.es.yaml {tip}": text["sms"] for tip, text in tips.items()}
    from followup.core.keywords import REPLIES

    texts |= {f"REPLIES['es'][{kind}]": text for kind, text in REPLIES["es"].items()}
    return texts


def test_no_spanish_sms_reads_as_other_words_with_accents_stripped() -> None:
    texts = _spanish_sms_texts()
    assert len(texts) > 40
    changed = {where: words for where, text in texts.items() if (words := _meaning_changes(text))}
    assert changed == {}, changed


def test_the_meaning_check_catches_what_it_is_for() -> None:
    assert _meaning_changes("cuéntenos qué cambió") == ["cambió"]
    assert _meaning_changes("Creo que está bien; nos encantará; sí, mi papá") == ["está", "encantará", "sí", "papá"]
    assert _meaning_changes("su sesión, después, más tarde, días, cómo, opinión, esté, dé") == []


def test_names_keep_their_accents_when_the_sms_is_ucs2_anyway() -> None:
    from dataclasses import replace

    from followup.config.loader import ClinicConfig

    shipped = load_clinic(REPO / "config", REPO / "templates", env_file=None)

    def with_accents(value: str) -> ClinicConfig:
        return replace(shipped, settings=shipped.settings.model_copy(update={"sms_accents": {"*": value}}))

    def sms(clinic: ClinicConfig, language: str) -> str:
        client = replace(sample_client(language), first_name="Ramón")
        composed = compose(
            clinic,
            client=client,
            session=sample_session(client),
            visit_count=3,
            campaign_name="rebook_nudge",
            step_index=0,
            channel="sms",
            now=SAMPLE_NOW,
        )
        assert composed.sms is not None
        return composed.sms

    kept = sms(with_accents("keep"), "es")  # "última sesión": UCS-2 anyway, so the name costs nothing
    assert "Ramón" in kept and "última" in kept and analyse(kept).encoding == "UCS-2", kept
    stripped = sms(with_accents("strip"), "es")
    assert "Ramon" in stripped and analyse(stripped).encoding == "GSM-7", stripped
    # an English text has no accents of its own: the name is spelt in GSM-7 to keep it GSM-7
    english = sms(with_accents("keep"), "en")
    assert "Ramon" in english and analyse(english).encoding == "GSM-7", english
