"""Duplicate and near-duplicate prompts: exact identity by normalised text, near-duplicates by MinHash-LSH.

A prompt is an exact duplicate of another when `normalise_prompt` gives the same text (NFKC, casefold,
whitespace collapsed, trailing punctuation dropped). Identical prompts for different cases (e.g. two
out-of-scope requests) are duplicates on purpose: the dataset keeps one.

A prompt is a near-duplicate when the Jaccard similarity of its shingle set to an indexed prompt's,
estimated with MinHash (datasketch, `NUM_PERM` permutations), is at least `NEAR_DUPLICATE_THRESHOLD`.

Shingles are the prompt's words and word bigrams (after normalisation), each salted with the prompt's
**entity signature**: the set of its tokens that contain a digit (ids such as C-0042 or A-00017,
amounts, dates), its double-quoted spans, and runs of two or more Capitalised words (unquoted names).
The simulated user writes prompts from templates, so two different cases can give prompts that differ
only in an id or a name: without the salt, a real prompt's closest sibling shares a median 82% (up to
90%) of its shingles and would pass for a paraphrase. With it, prompts about different entities share
no shingle (Jaccard 0), and only requests about the same entities can match; a paraphrase that changes
an id or a name is, deliberately, a different prompt. Bigrams add some word order to the words, which
keep the score high under small edits; but the signature is a set, so swapping the roles of two ids
("C-1 paid C-2" / "C-2 paid C-1": 0.58) still reads as a near-duplicate.

Measured by `python bench/dedup.py` on 400 prompts of a simulated run (seed 7): the highest true Jaccard
of a distinct prompt (different normalised text) to any other is at most 0.16, and 0.23 over every pair
of persona templates filled with the same customer. Planted paraphrases of the prompts of 10+ words
score at least 0.78 with one word replaced, inserted or deleted or two words swapped (also when
lowercased), 0.92 with sentences reordered, 1.0 with punctuation changed, and 0.61 with two words
replaced. The threshold 0.5 leaves a margin of 0.27 below and 0.11 above; at 128 permutations the MinHash
estimate's standard deviation is at most 0.044 there, so both margins exceed 2.5 sigma (all 321 planted
two-word replacements were flagged, and none of the distinct prompts).
Prompts of fewer than `MIN_FUZZY_WORDS` words only match exactly: one word is a quarter of such a prompt.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from datasketch import MinHash

NEAR_DUPLICATE_THRESHOLD = 0.5
"""Estimated Jaccard of salted word + bigram shingles at or above which a prompt is a near-duplicate."""

_MEMORY_ORDER = 1 << 62
"""Added to the order of prompts added during a run: they come after every stored prompt."""

NUM_PERM = 128
"""MinHash permutations: the estimate's standard deviation is sqrt(J(1-J)/NUM_PERM), at most 0.044."""

MIN_FUZZY_WORDS = 4
"""Prompts with fewer words than this only match exactly."""

LSH_WEIGHTS = (0.05, 0.95)
"""datasketch's (false positive, false negative) weights: LSH only proposes candidates, each is then
checked against the threshold, so the bands favour recall (26 bands of 3 rows: a pair at Jaccard 0.6 is
a candidate with probability 0.998, one at 0.2 with 0.19; prompts about other entities are at 0)."""

_TOKEN = re.compile(r"\w+(?:[-./:]\w+)*")
_GAP_AND_WORD = re.compile(r"(\W*)(\w+(?:['’-]\w+)*)")
_QUOTED = re.compile(r'["“”«»„]([^"“”«»„\n]{1,80})["“”«»„]')
_DIGIT = re.compile(r"\d")
_SENTENCE_END = re.compile(r"[.!?;:\n]")
_SALT_SEPARATOR = "\x1f"
_SHINGLE_SEPARATOR = "\x1e"


def normalise_prompt(text: str) -> str:
    """The prompt's identity for exact duplicates: NFKC, casefolded, whitespace collapsed, no trailing punctuation."""
    text = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    end = len(text)
    while end and (unicodedata.category(text[end - 1]).startswith("P") or text[end - 1].isspace()):
        end -= 1
    return text[:end]


def prompt_entities(text: str) -> frozenset[str]:
    """What a prompt is about, casefolded: tokens with a digit, double-quoted spans, runs of 2+ Capitalised words.

    A run that starts a sentence loses its first word when it has three or more ("Check Elena Brennan").
    Single capitalised words (Compliance, KYC, QA) are vocabulary, not entities.
    """
    return _entities(text, prompt_words(text))


def _entities(text: str, words: list[str]) -> frozenset[str]:
    text = unicodedata.normalize("NFKC", text)
    entities = {" ".join(m.group(1).casefold().split()) for m in _QUOTED.finditer(text)}
    entities.update(_name_runs(_QUOTED.sub(" , ", text)))
    entities.update(word for word in words if _DIGIT.search(word))
    entities.discard("")
    return frozenset(entities)


def _name_runs(text: str) -> Iterator[str]:
    run: list[str] = []
    run_starts_sentence = False
    at_sentence_start = True
    for gap, word in _GAP_AND_WORD.findall(text):
        if gap != " ":
            at_sentence_start = at_sentence_start or bool(_SENTENCE_END.search(gap))
            if run and gap.strip():
                yield from _run_name(run, run_starts_sentence)
                run = []
        if word[0].isupper() and not word.isupper() and not _DIGIT.search(word):
            if not run:
                run_starts_sentence = at_sentence_start
            run.append(word)
        elif run:
            yield from _run_name(run, run_starts_sentence)
            run = []
        at_sentence_start = False
    yield from _run_name(run, run_starts_sentence)


def _run_name(run: list[str], starts_sentence: bool) -> Iterator[str]:
    words = run[1:] if starts_sentence and len(run) >= 3 else run
    if len(words) >= 2:
        yield " ".join(words).casefold()


def prompt_words(text: str) -> list[str]:
    """The normalised prompt's words, punctuation dropped."""
    return _TOKEN.findall(normalise_prompt(text))


def shingles(text: str) -> set[str]:
    """The prompt's words and word bigrams, each salted with its entity signature (see the module docstring)."""
    return _shingles(text, prompt_words(text))


def _salt(text: str, words: list[str]) -> str:
    return _SALT_SEPARATOR.join(sorted(_entities(text, words))) + _SHINGLE_SEPARATOR


def _shingles(text: str, words: list[str], salt: str | None = None) -> set[str]:
    salt = _salt(text, words) if salt is None else salt
    return {salt + gram for gram in itertools.chain(words, map(" ".join, itertools.pairwise(words)))}


def text_hash(text: str) -> int:
    """A 63-bit hash of `text` (fits an SQLite INTEGER), for persisted lookups by normalised prompt or salt."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 1


@dataclass(frozen=True)
class Fingerprint:
    """What a persisted index keeps of a prompt: the hash of its normalised text (exact duplicates), the hash of
    its entity signature (only prompts with the same one share a shingle, so only they can be near duplicates),
    and its MinHash values as little-endian uint32 (None when it is too short to fuzzy-match)."""

    normalised: int
    salt: int
    signature: bytes | None


_MINHASH: MinHash | None = None


@functools.lru_cache(maxsize=256)
def fingerprint(prompt: str) -> Fingerprint:
    """The prompt's `Fingerprint`, with the same MinHash (`NUM_PERM`, seed 1) as `PromptIndex`. Kept for the last
    256 prompts: a screened request is matched, then added, then indexed again when its record is committed."""
    global _MINHASH
    normalised = normalise_prompt(prompt)
    words = _TOKEN.findall(normalised)
    salt = _salt(prompt, words)
    signature = None
    if len(words) >= MIN_FUZZY_WORDS:
        if _MINHASH is None:
            from datasketch import MinHash

            _MINHASH = MinHash(num_perm=NUM_PERM)
        minhash = _MINHASH.copy()
        minhash.update_batch([shingle.encode() for shingle in _shingles(prompt, words, salt)])
        signature = minhash.hashvalues.astype("<u4").tobytes()  # values are below 2**32 (datasketch masks them)
    return Fingerprint(text_hash(normalised), text_hash(salt), signature)


class StoredPrompts(Protocol):
    """A read-only, persisted set of indexed prompts (a dataset version's, see store/index.py) that a
    `PromptIndex` consults lazily instead of loading it. Orders are below those of prompts added during a run."""

    def __len__(self) -> int: ...

    def normalised_of(self, key: str) -> int | None:
        """The normalised-prompt hash of `key`, None when the key is not stored."""

    def first_with(self, normalised: int) -> str | None:
        """The first key stored with this normalised-prompt hash."""

    def with_salt(self, salt: int) -> list[tuple[str, int, bytes]]:
        """(key, order, signature) of every fuzzy-matchable stored prompt with this entity-signature hash."""


def jaccard(a: set[str], b: set[str]) -> float:
    """The true Jaccard similarity of two shingle sets (1.0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 1.0


@dataclass(frozen=True)
class Match:
    """An indexed prompt that a new prompt repeats: `similarity` is 1.0 for a duplicate, else the MinHash estimate."""

    kind: Literal["duplicate", "near_duplicate"]
    key: str
    similarity: float


class RunPrompts:
    """Prompts indexed during a run, answering what a `StoredPrompts` answers, in a private temporary SQLite
    database on disk (deleted when closed): its page cache is bounded, so a run's memory does not grow with the
    prompts it screens in, however many."""

    def __init__(self) -> None:
        import sqlite3

        self.db = sqlite3.connect("", isolation_level=None, check_same_thread=False)  # "": a private temp file
        self.db.executescript(
            "CREATE TABLE prompts (key TEXT PRIMARY KEY, ord INTEGER, normalised INTEGER, salt INTEGER, "
            "signature BLOB);"
            "CREATE INDEX by_normalised ON prompts (normalised, ord);"
            "CREATE INDEX by_salt ON prompts (salt, ord) WHERE signature IS NOT NULL;"
        )
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def __getstate__(self) -> dict[str, object]:
        raise TypeError("a run's prompt index lives in its process (a Ray coordinator builds its own)")

    def normalised_of(self, key: str) -> int | None:
        found = self.db.execute("SELECT normalised FROM prompts WHERE key = ?", (key,)).fetchone()
        return None if found is None else int(found[0])

    def first_with(self, normalised: int) -> str | None:
        query = "SELECT key FROM prompts WHERE normalised = ? ORDER BY ord LIMIT 1"
        found = self.db.execute(query, (normalised,)).fetchone()
        return None if found is None else str(found[0])

    def with_salt(self, salt: int) -> list[tuple[str, int, bytes]]:
        query = "SELECT key, ord, signature FROM prompts WHERE salt = ? AND signature IS NOT NULL ORDER BY ord"
        return [(k, int(o), bytes(sig)) for k, o, sig in self.db.execute(query, (salt,))]

    def add(self, key: str, printed: Fingerprint, *, first: bool) -> None:
        """Index `key` (new); `first`: no prompt with its normalised text is indexed yet (only a first one is
        matched fuzzily: the others repeat it)."""
        signature = printed.signature if first else None
        row = (key, _MEMORY_ORDER + self.size, printed.normalised, printed.salt, signature)
        self.db.execute("INSERT INTO prompts VALUES (?, ?, ?, ?, ?)", row)
        self.size += 1


class PromptIndex:
    """Prompts already in a dataset (or accepted in a run), by key, answering "is this prompt already here?".

    `add` every accepted prompt, `match` each new one before accepting it. Keys are unique; a prompt
    whose normalised text is already indexed keeps the first key. Two halves answer alike: `base`, a dataset's
    prompts read lazily from its index, and the prompts added here (`RunPrompts`); base prompts come first.
    """

    def __init__(self, threshold: float = NEAR_DUPLICATE_THRESHOLD, base: StoredPrompts | None = None) -> None:
        self.base = base  # persisted prompts consulted lazily (a dataset's); they come before those added here
        self.threshold = threshold
        # worked out now (datasketch integrates the false-positive and -negative rates), not by the first screen
        # that needs them: every screen after it in case order would wait
        self.bands = _bands(threshold)
        self.memory = RunPrompts()

    @classmethod
    def from_prompts(cls, items: Iterable[tuple[str, str]], threshold: float = NEAR_DUPLICATE_THRESHOLD) -> PromptIndex:
        """An index of `(key, prompt)` pairs, e.g. a dataset's records."""
        index = cls(threshold=threshold)
        for key, prompt in items:
            index.add(key, prompt)
        return index

    def _halves(self) -> list[StoredPrompts]:
        return [self.base, self.memory] if self.base is not None else [self.memory]

    def __len__(self) -> int:
        return sum(len(half) for half in self._halves())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and any(half.normalised_of(key) is not None for half in self._halves())

    def add(self, key: str, prompt: str) -> None:
        """Index `prompt` under `key`. Re-adding a key with the same prompt is a no-op; with another, an error."""
        printed = fingerprint(prompt)
        for half in self._halves():
            known = half.normalised_of(key)
            if known is not None:
                if known != printed.normalised:
                    raise ValueError(f"key {key!r} is already indexed with another prompt")
                return
        first = not any(half.first_with(printed.normalised) for half in self._halves())
        self.memory.add(key, printed, first=first)

    def match(self, prompt: str) -> Match | None:
        """The indexed prompt this one duplicates (same normalised text) or nearly duplicates, if any."""
        printed = fingerprint(prompt)
        for half in self._halves():
            if (key := half.first_with(printed.normalised)) is not None:
                return Match("duplicate", key, 1.0)
        if printed.signature is None:
            return None
        ranked = [self._best(half, printed) for half in self._halves()]
        best = max((rank for rank in ranked if rank is not None), default=None)
        return Match("near_duplicate", best[2], best[0]) if best else None

    def _best(self, half: StoredPrompts, printed: Fingerprint) -> tuple[float, int, str] | None:
        """The best near duplicate in `half`, as (estimate, -order, key). Only prompts with the same entity
        signature share a shingle, so only they are read; a candidate must also share an LSH band (`LSH_WEIGHTS`),
        so a pair is flagged exactly when an LSH index would propose it and its estimate reaches the threshold."""
        import numpy as np

        rows = half.with_salt(printed.salt)
        if not rows:
            return None
        signatures = np.frombuffer(b"".join(r[2] for r in rows), dtype="<u4").reshape(len(rows), NUM_PERM)
        query = np.frombuffer(printed.signature or b"", dtype="<u4")
        estimates = (signatures == query).sum(axis=1) / NUM_PERM
        bands, width = self.bands
        same = signatures[:, : bands * width].reshape(len(rows), bands, width) == query[: bands * width].reshape(
            bands, width
        )
        candidate = same.all(axis=2).any(axis=1)
        best: tuple[float, int, str] | None = None
        for (key, order, _), estimate, banded in zip(rows, estimates.tolist(), candidate.tolist(), strict=True):
            rank = (estimate, -order, key)
            if banded and estimate >= self.threshold and (best is None or rank > best):
                best = rank
        return best


@functools.cache
def _bands(threshold: float) -> tuple[int, int]:
    """(bands, rows per band) of datasketch's LSH for `threshold` at `NUM_PERM` with `LSH_WEIGHTS`."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM, weights=LSH_WEIGHTS)
    return lsh.b, lsh.r
