"""Folding of personal names for matching: case, accents, scripts and spacing.

"José  ÁLVAREZ" -> "jose alvarez"; "Дмитрий Петров" -> "dmitrii petrov"; "Zoë" -> "zoe".
Pure: standard library plus anyascii for transliteration.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from anyascii import anyascii

__all__ = ["NAME_SEPARATOR", "fold_name", "fold_names"]

NAME_SEPARATOR = " | "


def fold_name(name: str) -> str:
    """Case-fold, strip accents, transliterate to Latin and collapse spaces and punctuation."""
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    latin = anyascii(stripped).casefold()
    cleaned = "".join(c if c.isalnum() else " " for c in latin)
    return " ".join(cleaned.split())


def fold_names(full_name: str, aliases: Iterable[str] = ()) -> str:
    """The folded name and aliases of a person, distinct, joined by ``NAME_SEPARATOR``."""
    folded: dict[str, None] = {}
    for name in (full_name, *aliases):
        if value := fold_name(name):
            folded.setdefault(value, None)
    return NAME_SEPARATOR.join(folded)
