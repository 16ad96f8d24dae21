from __future__ import annotations

import pytest

from followup.core.tips import Tip, TipLibrary
from followup.core.tipselect import choose_tip, remaining_in_round


def tip(tip_id: str, category: str, focus: list[str] | None = None) -> Tip:
    return Tip(id=tip_id, category=category, focus=focus or [], title=tip_id, sms=f"sms {tip_id}")


LIB = TipLibrary(
    focus_areas={"neck": "Neck", "back": "Back"},
    categories={"posture": "Posture", "sleep": "Sleep"},
    tips=[
        tip("p-neck", "posture", ["neck"]),
        tip("p-back", "posture", ["back"]),
        tip("p-general", "posture"),
        tip("s-1", "sleep"),
        tip("s-2", "sleep", ["neck"]),
    ],
)


def test_focus_areas_preferred_then_general_then_others() -> None:
    first = choose_tip(LIB, ["posture"], [], ["back"])
    assert first is not None and first.id == "p-back"
    second = choose_tip(LIB, ["posture"], ["p-back"], ["back"])
    assert second is not None and second.id == "p-general"
    third = choose_tip(LIB, ["posture"], ["p-back", "p-general"], ["back"])
    assert third is not None and third.id == "p-neck"


def test_no_repeat_until_category_exhausted_then_new_round() -> None:
    history: list[str] = []
    for _ in range(3):
        chosen = choose_tip(LIB, ["posture"], history, ["neck"], salt="c1")
        assert chosen is not None
        history.append(chosen.id)
    assert sorted(history) == ["p-back", "p-general", "p-neck"]
    fourth = choose_tip(LIB, ["posture"], history, ["neck"], salt="c1")
    assert fourth is not None and fourth.id == "p-neck"  # round two starts with the best fit again


def test_long_run_never_repeats_within_a_round() -> None:
    history: list[str] = []
    for _ in range(20):
        chosen = choose_tip(LIB, ["posture", "sleep"], history, [], salt="c9")
        assert chosen is not None
        history.append(chosen.id)
    for category in ("posture", "sleep"):
        ids = [h for h in history if h.startswith(category[0])]
        size = 3 if category == "posture" else 2
        for start in range(0, len(ids) - size + 1, size):
            assert len(set(ids[start : start + size])) == size, ids


def test_categories_rotate() -> None:
    # For every client, whatever the first pick, the second comes from the other category.
    for n in range(20):
        salt = f"client-{n}"
        first = choose_tip(LIB, ["posture", "sleep"], [], [], salt=salt)
        assert first is not None
        second = choose_tip(LIB, ["posture", "sleep"], [first.id], [], salt=salt)
        assert second is not None and second.category != first.category, salt


def test_empty_categories_give_none_and_remaining_helper() -> None:
    assert choose_tip(LIB, ["stress"], [], []) is None
    pool = [t for t in LIB.tips if t.category == "sleep"]
    assert [t.id for t in remaining_in_round(pool, ["s-1"])] == ["s-2"]
    assert [t.id for t in remaining_in_round(pool, ["s-1", "s-2"])] == ["s-1", "s-2"]


def test_deterministic_per_client_but_varies_across_clients() -> None:
    library = TipLibrary(
        focus_areas={}, categories={"sleep": "Sleep"}, tips=[tip("a", "sleep"), tip("b", "sleep"), tip("c", "sleep")]
    )
    picks = set()
    for n in range(30):
        chosen = choose_tip(library, ["sleep"], [], [], salt=f"client-{n}")
        assert chosen is not None
        picks.add(chosen.id)
    assert picks == {"a", "b", "c"}
    assert choose_tip(LIB, ["sleep"], [], [], salt="a") == choose_tip(LIB, ["sleep"], [], [], salt="a")


# A slice of the shipped library: general tips only, so category rotation alone decides.
GENERAL = TipLibrary(
    focus_areas={"neck_shoulders": "Neck & shoulders"},
    categories={"posture": "Posture", "stress": "Stress", "sleep": "Sleep"},
    tips=[
        tip("posture-desk-timer", "posture"),
        tip("posture-phone-up", "posture"),
        tip("posture-bag-switch", "posture"),
        tip("posture-feet-flat", "posture"),
        tip("stress-slow-exhale", "stress"),
        tip("stress-jaw-check", "stress"),
        tip("stress-shoulder-drop", "stress"),
        tip("sleep-pillow-height", "sleep"),
        tip("sleep-screens-off", "sleep"),
    ],
)
CLIENTS = [f"client-{n}" for n in range(12)]


@pytest.mark.parametrize("client", CLIENTS)
def test_category_never_heard_goes_first(client: str) -> None:
    # Last week's tip was about posture; stress and sleep were never sent: one of those is next.
    chosen = choose_tip(GENERAL, ["posture", "stress", "sleep"], ["posture-desk-timer"], salt=client)
    assert chosen is not None and chosen.category in ("stress", "sleep")


@pytest.mark.parametrize("client", CLIENTS)
def test_category_heard_longest_ago_goes_first(client: str) -> None:
    history = ["sleep-pillow-height", "stress-slow-exhale", "posture-desk-timer"]
    chosen = choose_tip(GENERAL, ["posture", "stress", "sleep"], history, salt=client)
    assert chosen is not None and chosen.id == "sleep-screens-off"
    history = ["stress-slow-exhale", "sleep-pillow-height", "posture-desk-timer", "posture-phone-up"]
    chosen = choose_tip(GENERAL, ["posture", "stress", "sleep"], history, salt=client)
    assert chosen is not None and chosen.category == "stress" and chosen.id != "stress-slow-exhale"


def test_history_with_a_retired_tip_still_picks_and_rotates() -> None:
    # "stress-old-breathing" was deleted from tips.yaml after it went out; the history keeps it.
    history = ["stress-old-breathing", "stress-slow-exhale", "posture-desk-timer"]
    chosen = choose_tip(GENERAL, ["posture", "stress"], history, salt="c-1042")
    assert chosen is not None and chosen.category == "stress" and chosen.id != "stress-slow-exhale"
