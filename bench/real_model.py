"""Goldsmith on a real small model: Qwen2.5-Coder-1.5B-Instruct on llama.cpp (bench/llama.py), unmodified, with no
proxy in between, playing the user simulator, the task agent and the critic (each alone, then all together).

    python bench/real_model.py [--count 2] [--roles user,task,critic,all] [--domain kyc]

Per configuration it prints episodes, accepted, failures by reason, how structured output was obtained
(tool_call / response_format / text_parse), model calls, tokens as Goldsmith counted them against the server's
own counts, the revisions' own tool calls, and seconds per episode. What must hold for any model (the slow test
`tests/test_real_small_model.py` asserts it): no episode fails on output parsing; every accepted example agrees
with the world; every judged score agrees with its pass flag; the tokens counted equal the server's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.llama import serve, server_tokens  # noqa: E402

MODEL = "openai:qwen2.5-coder-1.5b"
PARSING = ("malformed_output", "error: StructuredOutputException")


@dataclass
class Outcome:
    roles: str
    episodes: int = 0
    accepted: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    mechanisms: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    counted: dict[str, int] = field(default_factory=dict)  # tokens as Goldsmith counted them
    server: dict[str, int] = field(default_factory=dict)  # the server's own counts over the same calls
    revision_tool_calls: int = 0
    revisions: int = 0
    seconds_per_episode: float = 0.0
    problems: list[str] = field(default_factory=list)  # what must hold for any model and did not

    @property
    def parse_failures(self) -> int:
        return sum(n for reason, n in self.reasons.items() if reason in PARSING)


def run(roles: str, base_url: str, count: int, domain: str, out: str) -> Outcome:
    """One configuration: `roles` (user, task, critic or all) on the real model, the others simulated."""
    from agents.settings import ModelSettings
    from simulation.episode import Episode
    from simulation.runner import Run, RunConfig
    from simulation.truth import WorldChecker

    models = {role: MODEL if roles in (role, "all") else "simulated" for role in ("user", "task", "critic")}
    settings = ModelSettings.model_validate(
        {
            "models": {"user": models["user"], "task": models["task"], "critic": [models["critic"]]},
            "openai": {"base_url": base_url, "timeout_s": 900},
            "retry": {"max_attempts": 2, "initial_delay_s": 1, "max_delay_s": 2},
            "tool_budget": 8,
        }
    )
    config = RunConfig(domain=domain, dataset=roles, output_dir=out, count=count, seed=7, concurrency=1,
                       models=settings, max_rounds=2)  # fmt: skip
    before = server_tokens(base_url)  # before the preflight's ping, which Goldsmith counts too
    run = Run(config)
    started = time.perf_counter()
    summary = run.execute()
    elapsed = time.perf_counter() - started
    after = server_tokens(base_url)
    stats = summary.model_stats.get(MODEL)
    result = Outcome(roles, summary.episodes, summary.accepted, dict(summary.top_reasons))
    result.seconds_per_episode = round(elapsed / max(summary.episodes, 1), 1)
    if stats:
        result.mechanisms = dict(stats.structured_output)
        result.calls = stats.calls
        result.counted = {"prompt": stats.tokens.input, "predicted": stats.tokens.output}
    result.server = {key: after[key] - before[key] for key in after}
    episodes = run.journal.load(Episode)
    for episode in episodes.values():
        for before_it, attempt in zip(episode.attempts, episode.attempts[1:], strict=False):
            seen = {(e.name, json.dumps(e.input, sort_keys=True)) for e in before_it.tool_trace}
            result.revisions += 1
            result.revision_tool_calls += sum(
                (e.name, json.dumps(e.input, sort_keys=True)) not in seen for e in attempt.tool_trace
            )
    checker = WorldChecker(run.domain, run.world, run.rubric)
    latest = run.dataset.latest()
    for record in run.dataset.records(latest) if latest else []:
        if claims := checker.claims(record).claims:
            result.problems.append(f"{record.id}: disagrees with the world: {claims[0]}")
        for c in record.critique.criteria:
            scored = c.method == "judge" and not c.details.get("unscored")
            if scored and c.passed != (c.score >= 0.5):
                result.problems.append(f"{record.id}: {c.id} score {c.score} but passed={c.passed}")
    if result.parse_failures:
        result.problems.append(f"{result.parse_failures} episodes failed on output parsing")
    if stats and result.counted != result.server:
        result.problems.append(f"tokens counted {result.counted} != the server's {result.server}")
    return result


def evaluate(base_url: str, goldens: int, domain: str, out: str) -> Outcome:
    """The real model as an `evaluate` candidate on `goldens` simulated goldens, judged by the simulated critic."""
    from pathlib import Path

    from agents.settings import ModelSettings
    from evaluation.run import EvaluateConfig, Evaluation
    from simulation.runner import Run, RunConfig

    made = Run(RunConfig(domain=domain, dataset="evaluate", output_dir=out, count=goldens, seed=7, concurrency=2))
    made.execute()
    settings = ModelSettings.model_validate(
        {
            "openai": {"base_url": base_url, "timeout_s": 900},
            "retry": {"max_attempts": 2, "initial_delay_s": 1, "max_delay_s": 2},
            "tool_budget": 8,
        }
    )
    config = EvaluateConfig(dataset="evaluate", agents=[MODEL], out=Path(out) / "evaluation", output_dir=out,
                            models=settings, concurrency=1)  # fmt: skip
    job = Evaluation(config)
    before = server_tokens(base_url)
    started = time.perf_counter()
    results = job.execute()
    elapsed = time.perf_counter() - started
    after = server_tokens(base_url)
    result = Outcome("evaluate", episodes=len(results), accepted=sum(r.passed for r in results))
    result.seconds_per_episode = round(elapsed / max(len(results), 1), 1)
    for r in results:
        if r.error:
            reason = "error: StructuredOutputException" if "StructuredOutput" in r.error else f"error: {r.error[:80]}"
            result.reasons[reason] = result.reasons.get(reason, 0) + 1
        for criterion in r.failed_criteria:
            result.reasons[criterion] = result.reasons.get(criterion, 0) + 1
    stats = job.model_stats().get(MODEL)
    if stats:
        result.mechanisms = dict(stats.structured_output)
        result.calls = stats.calls
        result.counted = {"prompt": stats.tokens.input, "predicted": stats.tokens.output}
    result.server = {key: after[key] - before[key] for key in after}
    if result.parse_failures:
        result.problems.append(f"{result.parse_failures} goldens failed on output parsing")
    if stats and result.counted != result.server:
        result.problems.append(f"tokens counted {result.counted} != the server's {result.server}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2)
    parser.add_argument("--roles", default="user,task,critic,all")
    parser.add_argument("--domain", default="kyc")
    parser.add_argument("--goldens", type=int, default=2, help="goldens for the evaluate configuration (0: none)")
    args = parser.parse_args()
    with serve() as base_url, tempfile.TemporaryDirectory() as out:
        print(f"{MODEL} on llama.cpp at {base_url}, {args.count} episodes of {args.domain} per configuration")
        print(
            "real roles  episodes accepted  parse-fail  structured output                calls  "
            "tokens (ours = server's)  revisions (own tool calls)  s/episode"
        )
        configurations = args.roles.split(",") + (["evaluate"] if args.goldens else [])
        for roles in configurations:
            if roles == "evaluate":
                r = evaluate(base_url, args.goldens, args.domain, out)
            else:
                r = run(roles, base_url, args.count, args.domain, out)
            mechanisms = ", ".join(f"{k} {v}" for k, v in sorted(r.mechanisms.items())) or "-"
            ours = f"{r.counted.get('prompt', 0)}+{r.counted.get('predicted', 0)}"
            tokens = f"{ours} = {r.server['prompt']}+{r.server['predicted']}"
            print(
                f"{roles:<11} {r.episodes:>8} {r.accepted:>8} {r.parse_failures:>11}  {mechanisms:<32} {r.calls:>5}  "
                f"{tokens:<25} {r.revisions:>4} ({r.revision_tool_calls}){'':>10} {r.seconds_per_episode:>9}"
            )
            for problem in r.problems:
                print(f"  problem: {problem}")
            if r.reasons:
                print(f"  reasons: {r.reasons}")


if __name__ == "__main__":
    main()
