"""``compare_cards`` and ``imitate`` for any card: the article's model, or a learner's script.

A script card (``card --script``) carries a ``"script"`` part; these two functions send it to
:mod:`~helpers.cards.script_compare` and :mod:`~helpers.cards.script_imitate`, and every other
card to :mod:`~helpers.cards.compare` and :mod:`~helpers.cards.imitate`, unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers.cards.fileformat import Card, as_card
from helpers.cards.script_cards import is_script_card, script_card
from helpers.core.config import ConfigError


def compare_cards(a: Card | str | Path, b: Card | str | Path, setting: str | None = None) -> Any:
    """Compare two cards (loaded, or paths): a ``Comparison`` for the article's cards, a
    ``ScriptComparison`` for two cards of a script. ``setting`` ("seeded" or "cpu") is for the former."""
    from helpers.cards.compare import compare_cards as compare_article_cards

    card_a, card_b = as_card(a, "A"), as_card(b, "B")
    scripts = is_script_card(card_a), is_script_card(card_b)
    if scripts == (False, False):
        return compare_article_cards(card_a, card_b, setting=setting)
    if scripts != (True, True):
        script, other = (card_a, card_b) if scripts[0] else (card_b, card_a)
        raise ConfigError(f"{script.name} is a card of a script and {other.name} of the article's model; make both "
                          "with `python -m helpers card --script SCRIPT.py` to compare them.")
    from helpers.cards.script_compare import compare_script_cards

    return compare_script_cards(script_card(card_a), script_card(card_b))


def imitate(card: Card | str | Path, setting: str | None = None, *, script: str | Path | None = None,
            progress: bool = True, parallel: int | None = None, other_stacks: bool = True) -> Any:
    """Try here the settings that reproduce ``card``'s seeded weights. A script card needs the script
    itself (``script``): the card carries only its name and hash."""
    loaded = as_card(card, "to imitate")
    if not is_script_card(loaded):
        from helpers.cards.imitate import imitate as imitate_article

        if script is not None:
            raise ConfigError(f"{loaded.name} is a card of the article's model; imitate it without a script.")
        return imitate_article(loaded, setting, progress=progress, parallel=parallel, other_stacks=other_stacks)
    if script is None:
        name = loaded.document["script"].get("name", "its script")
        raise ConfigError(f"{loaded.name} is a card of {name}; give the script too (--script {name}), since a card "
                          "carries only its name and hash.")
    from helpers.cards.script_imitate import imitate_script

    return imitate_script(loaded, script, parallel=parallel)
