"""Pure helpers shared by the world, its tools, the written rules and the MCP fixture: how names are normalised,
how alike two names are, and what a sanctions screening of a name returns. Nothing here knows about a world."""

from __future__ import annotations

import unicodedata
from collections import Counter
from difflib import SequenceMatcher
from functools import lru_cache

# Letters that Unicode does not decompose into a base letter and an accent.
_LETTERS = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D"})


@lru_cache(maxsize=65536)
def normalise_name(name: str) -> str:
    """Case-, accent- and spacing-insensitive form of a person or company name ("Inês  Sørensen" -> "ines sorensen")."""
    stripped = unicodedata.normalize("NFKD", name.translate(_LETTERS)).encode("ascii", "ignore").decode()
    return " ".join(stripped.casefold().split())


@lru_cache(maxsize=262144)
def name_similarity(a: str, b: str) -> float:
    """How alike two names are, in [0, 1] (1: the same normalised name), rounded to 3 decimals."""
    matcher = SequenceMatcher(None, normalise_name(a), normalise_name(b))
    return round(matcher.ratio(), 3)


_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789 &.-'"


@lru_cache(maxsize=65536)
def _letters(normalised: str) -> tuple[int, ...]:
    """How often each character occurs (characters outside _ALPHABET counted together)."""
    counts = Counter(normalised)
    known = tuple(counts.get(ch, 0) for ch in _ALPHABET)
    return (*known, len(normalised) - sum(known))


def similar_at_least(a: str, b: str, floor: float) -> float | None:
    """`name_similarity(a, b)` when it is at least `floor`, else None. Two upper bounds of the similarity are
    tried first (the lengths, then the shared letters, as difflib's real_quick_ratio and quick_ratio)."""
    na, nb = normalise_name(a), normalise_name(b)
    total = len(na) + len(nb)
    if not total:
        return 1.0
    margin = floor - 0.0005  # a score is rounded to 3 decimals
    if 2 * min(len(na), len(nb)) < margin * total:
        return None
    shared = sum(map(min, _letters(na), _letters(nb)))  # characters both have (an upper bound on matches)
    if 2 * shared < margin * total:
        return None
    score = name_similarity(a, b)
    return score if score >= floor else None


SCREENING_MIN_SCORE = 0.85


def screening_hits(name: str, entries: list[dict]) -> list[dict]:
    """The list entries (as dicts, in list order) whose name or an alias scores at least SCREENING_MIN_SCORE
    against `name`, as the screening tool reports them: the listed entity's details and the best score."""
    hits = []
    for entry in entries:
        scores = [similar_at_least(name, n, SCREENING_MIN_SCORE) for n in [entry["name"], *entry.get("aliases", [])]]
        found = [s for s in scores if s is not None]
        if not found:
            continue
        hit = {
            "query": name,
            "entry_id": entry["id"],
            "listed_name": entry["name"],
            "list": entry["kind"],
            "program": entry["program"],
            "entity_type": entry["entity_type"],
            "country": entry["country"],
            "registration_number": entry.get("registration_number"),
            "date_of_birth": entry.get("date_of_birth"),
            "position": entry.get("position"),
            "score": max(found),
        }
        hits.append({k: v for k, v in hit.items() if v is not None})
    return hits
