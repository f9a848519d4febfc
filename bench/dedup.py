"""Near-duplicate detection: the similarity figures behind the threshold, and what the index costs.

    python bench/dedup.py [DATASET_DIR]

Reads the prompts of a dataset directory (its batches and review queue); without one, first generates
400 episodes offline (simulated models, seed 7, --max-rounds 1 so the review queue has prompts too).
Prints, for store/dedup.py's salted word + bigram shingles, the highest true Jaccard of each distinct
prompt to any other (with and without the entity salt), the same for every pair of persona templates
filled with one customer, the Jaccard of planted paraphrases, and how PromptIndex classifies both.
Then times building the index for 2,000 and 20,000 template-filled prompts and querying it.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulation.domains.kyc.world import FIRST, LAST  # noqa: E402
from store.dedup import (  # noqa: E402
    NEAR_DUPLICATE_THRESHOLD,
    NUM_PERM,
    PromptIndex,
    jaccard,
    normalise_prompt,
    prompt_words,
    shingles,
)

FILLERS = ["urgently", "please", "also", "quickly", "today", "again", "now", "kindly", "all", "recent"]
TEMPLATES: list[str] = [
    question
    for questions in yaml.safe_load((ROOT / "simulation/domains/kyc/persona.yaml").read_text())["user_simulator"][
        "example_questions"
    ].values()
    for question in questions
]


def read_prompts(directory: Path) -> list[str]:
    prompts = []
    for path in sorted([*directory.glob("batches/*.jsonl"), *directory.glob("review/*.jsonl")]):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if isinstance(record, dict) and record.get("prompt"):
                prompts.append(record["prompt"])
    return prompts


def generated_prompts() -> list[str]:
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [sys.executable, "main.py", "generate", "--count", "400", "--seed", "7", "--max-rounds", "1"]
            + ["--output-dir", out],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        return read_prompts(Path(out) / "kyc")


def unsalted(text: str) -> set[str]:
    words = prompt_words(text)
    return set(words) | {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}


def editable(words: list[str]) -> list[int]:
    """Positions of plain lowercase words: never an id, a name or a quoted span."""
    return [i for i, w in enumerate(words) if w.isalpha() and w.islower()]


def with_filler(word: str, rng: random.Random) -> str:
    bare = word if word[-1].isalnum() else word[:-1]
    return rng.choice([f for f in FILLERS if f != bare]) + word[len(bare) :]


def replace(n: int) -> Callable[[str, random.Random], str]:
    def plant(prompt: str, rng: random.Random) -> str:
        words = prompt.split()
        for i in rng.sample(editable(words), n):
            words[i] = with_filler(words[i], rng)
        return " ".join(words)

    return plant


def insert(prompt: str, rng: random.Random) -> str:
    words = prompt.split()
    words.insert(rng.choice(editable(words)), rng.choice(FILLERS))
    return " ".join(words)


def delete(prompt: str, rng: random.Random) -> str:
    words = prompt.split()
    del words[rng.choice(editable(words))]
    return " ".join(words)


def swap(prompt: str, rng: random.Random) -> str:
    words = prompt.split()
    pairs = [i for i in editable(words) if i + 1 in editable(words)]
    i = rng.choice(pairs)
    words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def punctuation(prompt: str, rng: random.Random) -> str:
    return prompt.replace("?", ".").replace(",", "").replace(":", " -").rstrip(".") + "!!"


def reorder(prompt: str, rng: random.Random) -> str | None:
    sentences = re.split(r"(?<=[.?!:])\s+", prompt)
    return " ".join(sentences[1:] + sentences[:1]) if len(sentences) > 1 else None


def lowercase_and_replace(prompt: str, rng: random.Random) -> str:
    return replace(1)(prompt, rng).lower()


PLANTS: dict[str, Callable[[str, random.Random], str | None]] = {
    "1 word replaced": replace(1),
    "1 word inserted": insert,
    "1 word deleted": delete,
    "2 words swapped": swap,
    "sentences reordered": reorder,
    "punctuation changed": punctuation,
    "lowercased + 1 replaced": lowercase_and_replace,
    "2 words replaced": replace(2),
}


def figures(values: list[float]) -> str:
    ordered = sorted(values)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return f"min {ordered[0]:.2f}  p5 {p(0.05):.2f}  median {p(0.5):.2f}  p99 {p(0.99):.2f}  max {ordered[-1]:.2f}"


def highest_to_others(sets: list[set[str]]) -> list[float]:
    return [max(jaccard(a, b) for j, b in enumerate(sets) if j != i) for i, a in enumerate(sets)]


def similarity_report(prompts: list[str]) -> None:
    distinct = list({normalise_prompt(p): p for p in prompts}.values())
    print(f"{len(prompts)} prompts of simulated runs, {len(distinct)} distinct after normalisation")
    print("highest true Jaccard of a distinct prompt to any other:")
    print(f"  without the entity salt  {figures(highest_to_others([unsalted(p) for p in distinct]))}")
    print(f"  with it (store/dedup.py) {figures(highest_to_others([shingles(p) for p in distinct]))}")
    filled = [t.format(customer_id="C-0042", account_id="A-00042", customer_name="Elena Brennan") for t in TEMPLATES]
    pairs = [jaccard(shingles(a), shingles(b)) for a, b in itertools.combinations(filled, 2)]
    print(f"  every pair of the {len(filled)} persona templates, one customer: max {max(pairs):.2f}")

    index = PromptIndex()
    flagged = 0
    for n, prompt in enumerate(distinct):
        flagged += index.match(prompt) is not None
        index.add(str(n), prompt)
    print(f"  flagged by PromptIndex when added one by one: {flagged} of {len(distinct)}")

    rng = random.Random(7)
    long_enough = [(str(n), p) for n, p in enumerate(distinct) if len(p.split()) >= 10]
    print(f"planted paraphrases of the {len(long_enough)} distinct prompts of 10+ words (threshold ", end="")
    print(f"{NEAR_DUPLICATE_THRESHOLD}, {NUM_PERM} permutations): true Jaccard, and PromptIndex's verdict")
    for kind, plant in PLANTS.items():
        scores, verdicts = [], {"near_duplicate": 0, "duplicate": 0, "missed": 0, "wrong key": 0}
        for key, prompt in long_enough:
            variant = plant(prompt, rng)
            if variant is None:
                continue
            scores.append(jaccard(shingles(prompt), shingles(variant)))
            found = index.match(variant)
            verdict = "missed" if found is None else found.kind if found.key == key else "wrong key"
            verdicts[verdict] += 1
        counts = ", ".join(f"{v} {k}" for k, v in verdicts.items() if v)
        print(f"  {kind:<24} {figures(scores)}  | {counts}")


def synthetic_prompts(count: int, seed: int, start: int = 0) -> list[str]:
    """Prompts from the persona templates that name a customer, each about another customer (ids and names unique)."""
    rng = random.Random(seed)
    templates = [t for t in TEMPLATES if "{" in t]
    return [
        rng.choice(templates).format(
            customer_id=f"C-{n:05d}",
            account_id=f"A-{n:06d}",
            customer_name=f"{FIRST[n % len(FIRST)]} {LAST[n // len(FIRST) % len(LAST)]}-{LAST[n // 1000 % len(LAST)]}",
        )
        for n in range(start, start + count)
    ]


def timing_report() -> None:
    print("index cost, template-filled prompts about different customers (siblings differ only in an id or a name):")
    for size in (2_000, 20_000):
        items = [(str(n), p) for n, p in enumerate(synthetic_prompts(size, seed=size))]
        started = time.perf_counter()
        index = PromptIndex.from_prompts(items)
        build = time.perf_counter() - started
        rng = random.Random(1)
        siblings = synthetic_prompts(500, seed=1, start=size)  # new customers, same templates
        paraphrases = [replace(1)(p, rng) for _, p in rng.sample(items, 500)]
        queries = siblings + paraphrases
        # LSH candidates a query has to check (private API: a bench, not a contract)
        candidates = sum(len(index._lsh.query(index._minhash(q, prompt_words(q)))) for q in queries) / len(queries)
        started = time.perf_counter()
        found = [index.match(q) for q in queries]
        per_query = (time.perf_counter() - started) / len(queries)
        print(
            f"  {size:>6,} prompts: build {build:5.2f} s ({build / size * 1e6:3.0f} µs/prompt), "
            f"query {per_query * 1e6:3.0f} µs, {candidates:.2f} LSH candidates/query; flagged: "
            f"{sum(m is not None for m in found[:500])}/500 new-customer siblings, "
            f"{sum(m is not None and m.kind == 'near_duplicate' for m in found[500:])}/500 one-word paraphrases"
        )


def main() -> None:
    prompts = read_prompts(Path(sys.argv[1])) if len(sys.argv) > 1 else generated_prompts()
    similarity_report(prompts)
    timing_report()


if __name__ == "__main__":
    main()
