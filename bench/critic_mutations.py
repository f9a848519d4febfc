"""Mutation score of the offline critic: break accepted examples in known ways and count what it catches.

    python bench/critic_mutations.py [--count 200] [--domain kyc] [--domain crypto] [--seed 3]
                                     [--write-suites rubrics/tests]

For each domain it generates `--count` accepted examples offline, applies every operator of
rubrics/mutations.py that fits each one, judges the mutants against the shipped rubric with the offline critic,
and prints per operator how many it killed (the attempt failed) and how many failed on the check that sees the
breakage. Operators a programmatic check sees must be killed at 100 %; the others are what only a real judge
can be trusted with (the offline judge's keyword readings are reported, not relied on). The unmutated answers
are judged too, as a control: all must pass. Exits 1 when a visible operator is not killed every time.

`--write-suites DIR` also writes the rubric test suites: one good answer per category, and up to three mutants
per operator (from different categories) as bad answers, with the criteria that must fail.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rubrics.mutations import MUTATIONS, Material, Mutation  # noqa: E402
from rubrics.suite import Known, RubricTester, Verdict, entry_line  # noqa: E402
from simulation.domains import get_domain  # noqa: E402
from simulation.runner import Run, RunConfig  # noqa: E402

PER_OPERATOR = 3  # mutants of one operator written to a bad suite


def accepted(domain: str, count: int, seed: int, cover: bool = False) -> tuple[list, list]:
    """The accepted examples of a `count`-episode run; with `cover`, also those of further batches (other seeds,
    the same dataset, so no case twice) until every category has one."""
    categories = set(get_domain(domain).categories)
    first, more = [], []
    with tempfile.TemporaryDirectory() as out:
        for batch in range(10 if cover else 1):
            config = RunConfig(
                domain=domain, count=count, seed=seed + batch, output_dir=out, concurrency=8, sim_defect_rate=0.0
            )
            results: list = []
            Run(config).execute(results.append)
            (more if batch else first).extend(r.example for r in results if r.example is not None)
            if not categories - {e.category for e in first + more}:
                break
    return first, more


def mutants(tester: RubricTester, records: list) -> tuple[list[Known], list[Known], dict[str, Mutation]]:
    """The good answers, and every mutant an operator makes of them (`where` is `operator@case`)."""
    keys = tester.domain.case_keys(tester.world)
    good, bad, operators = [], [], {m.name: m for m in MUTATIONS}
    for record in records:
        entry = tester.entry_of(record)
        case = tester.domain.case_for_key(tester.world, entry.case)
        material = Material(entry, case, [t.output for t in record.tool_trace], tester.domain, tester.world, keys)
        good.append(Known(f"good@{case.key}", entry.model_copy(update={"name": f"good: {case.category}"}), "pass"))
        criteria = tester.rubric.criteria_for(case.category)
        for mutation in MUTATIONS:
            mutant = mutation.apply(material)
            if mutant is None:
                continue
            expected = mutation.expected(criteria, mutant.answer or "")
            if mutation.catches and not expected:
                continue  # no check of this rubric is meant for it here (a national id in a crypto answer)
            named = mutant.model_copy(update={"name": f"{mutation.name}: {case.category}", "fails": expected})
            bad.append(Known(f"{mutation.name}@{case.key}", named, "fail"))
    return good, bad, operators


def report(domain: str, good: list[Verdict], bad: list[Verdict], operators: dict[str, Mutation]) -> bool:
    """Print the kill-rate table; True when every visible operator was killed every time and every control passed."""
    by_operator: dict[str, list[Verdict]] = defaultdict(list)
    for verdict in bad:
        by_operator[verdict.known.where.split("@")[0]].append(verdict)
    control = sum(v.critique.passed for v in good)
    print(f"\n{domain}: {len(good)} accepted examples, {len(bad)} mutants")
    print(f"{'operator':<24} {'seen by':<48} {'mutants':>7} {'killed':>7} {'by its check':>12}")
    print(f"{'none (control)':<24} {'-':<48} {len(good):>7} {1 - control / max(len(good), 1):>7.0%} {'-':>12}")
    ok = control == len(good)
    for name, mutation in operators.items():
        verdicts = by_operator.get(name, [])
        if not verdicts:
            print(f"{name:<24} {'(does not apply)':<48}")
            continue
        killed = sum(not v.critique.passed for v in verdicts)
        by_check = sum(v.surprise is None and not v.critique.passed for v in verdicts)
        seen_by = ", ".join(mutation.catches) or "a judge only (offline: keyword reading)"
        check = f"{by_check / len(verdicts):>12.0%}" if mutation.catches else f"{'-':>12}"
        print(f"{name:<24} {seen_by:<48} {len(verdicts):>7} {killed / len(verdicts):>7.0%} {check}")
        if mutation.catches and by_check < len(verdicts):
            ok = False
            for v in verdicts:
                if v.surprise:
                    print(f"    {v.known.where}: {v.surprise} (failed: {', '.join(v.failed) or 'nothing'})")
    return ok


def write_suites(folder: Path, tester: RubricTester, good: list[Verdict], bad: list[Verdict]) -> None:
    """One good answer per category; up to PER_OPERATOR killed mutants per operator, from different categories
    (adversarial ones first)."""
    domain = tester.domain.name
    kinds = tester.domain.categories
    bad = sorted(bad, key=lambda v: kinds[v.known.where.split("@")[1].split(":")[0]] != "adversarial")
    folder.mkdir(parents=True, exist_ok=True)
    lines, categories = [], set()
    for verdict in good:
        category = verdict.known.entry.name
        if verdict.critique.passed and category not in categories:
            categories.add(category)
            lines.append(entry_line(verdict.known.entry))
    (folder / f"{domain}.good.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    lines, taken = [], defaultdict(set)
    for verdict in bad:
        operator = verdict.known.where.split("@")[0]
        category = verdict.known.entry.name
        if verdict.critique.passed or len(taken[operator]) >= PER_OPERATOR or category in taken[operator]:
            continue
        fails = verdict.known.entry.fails or [r.id for r in verdict.critique.criteria if not r.passed]
        taken[operator].add(category)
        lines.append(entry_line(verdict.known.entry.model_copy(update={"fails": fails})))
    (folder / f"{domain}.bad.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {folder / f'{domain}.good.jsonl'} and {domain}.bad.jsonl ({len(lines)} bad answers)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="accepted examples to mutate, per domain")
    parser.add_argument("--domain", action="append", choices=["kyc", "crypto"], help="[default: both]")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--write-suites", type=Path, help="write <domain>.good.jsonl and .bad.jsonl here")
    args = parser.parse_args()
    ok = True
    for domain in args.domain or ["kyc", "crypto"]:
        records, more = accepted(domain, args.count, args.seed, cover=args.write_suites is not None)
        tester = RubricTester(get_domain(domain).rubric_path, world_seed=1)
        good, bad, operators = mutants(tester, records)
        verdicts = tester.run(good + bad, concurrency=8)
        good_verdicts, bad_verdicts = verdicts[: len(good)], verdicts[len(good) :]
        ok &= report(domain, good_verdicts, bad_verdicts, operators)
        if args.write_suites:
            good, bad, _ = mutants(tester, more)  # the batches that cover the categories the first one missed
            extra = tester.run(good + bad, concurrency=8)
            good_verdicts += extra[: len(good)]
            bad_verdicts += extra[len(good) :]
            write_suites(args.write_suites, tester, good_verdicts, bad_verdicts)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
