"""Choosing the next self-care tip for a client: a pure function of library and history.

Rules, in order:
1. Never repeat a tip until every tip of its category has been sent to this client
   (then that category starts a new round).
2. Prefer tips for the session's focus areas, then general tips, then the rest.
3. Rotate categories: the category this client heard from longest ago goes first.
4. Ties break by a stable hash of (client, tip), so clients don't all get the same
   tip on the same day, yet a re-run picks the same one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence

from followup.core.tips import Tip, TipLibrary


def remaining_in_round(pool: Sequence[Tip], history: Sequence[str]) -> list[Tip]:
    """Tips of ``pool`` not yet sent in the client's current round of that pool."""
    ids = {t.id for t in pool}
    seen: set[str] = set()
    for tip_id in history:
        if tip_id in ids:
            seen.add(tip_id)
            if seen == ids:
                seen = set()
    return [t for t in pool if t.id not in seen]


def choose_tip(
    library: TipLibrary,
    categories: Sequence[str],
    history: Sequence[str],
    focus_areas: Collection[str] = (),
    salt: str = "",
) -> Tip | None:
    """The tip to send next, or ``None`` when the categories hold no tips at all.

    ``history`` lists the ids of tips already sent to this client, oldest first.
    """
    last_used: dict[str, int] = {}
    by_id = {t.id: t for t in library.tips}
    for position, tip_id in enumerate(history):
        tip = by_id.get(tip_id)
        if tip is not None:
            last_used[tip.category] = position

    focus = set(focus_areas)
    candidates: list[Tip] = []
    for category in dict.fromkeys(categories):
        pool = [t for t in library.tips if t.category == category]
        candidates.extend(remaining_in_round(pool, history))
    if not candidates:
        return None

    def rank(tip: Tip) -> tuple[int, int, str]:
        if focus & set(tip.focus):
            fit = 0
        elif not tip.focus:
            fit = 1
        else:
            fit = 2
        spread = hashlib.sha256(f"{salt}:{tip.id}".encode()).hexdigest()
        return fit, last_used.get(tip.category, -1), spread

    return min(candidates, key=rank)
