"""Candidates an evaluation replays the goldens against, from their `--agent` specs.

- `sim` (or `sim:defect=R`): the domain's simulated task model, a share R of its answers carrying one defect;
- `bedrock:<model-id>`, `openai:<model>`: a real model as the task agent (the same providers as `generate`);
- `package.module:factory`: your own strands or CrewAI agent, as `generate --task-agent` takes it;
- `mcp:<command line>` or `mcp:<http(s) URL>`: the task model (`--task-model`, default simulated) with the tools
  of an MCP server instead of the domain's own, as `generate --mcp-server` / `--mcp-url` take it;
- `baseline:no-tools`: no tool, no model: the verdict the request itself names, else the one that clears the
  subject (an optimist who reads only the question);
- `baseline:majority`: no tool, no model: the dataset's most common verdict for the golden's request type;
- `baseline:reference`: the golden's own reference answer, a check of the scoring itself (it must pass).

A model candidate answers each golden once, without the critic's revision rounds; a multi-turn golden is played
again with the user simulator, from the golden's opening, goal and private facts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from agents.metering import Spend
from config import InputError
from rubrics.methods import stated, vocabulary_of
from simulation.domains.base import Case
from store.records import Attempt, Example, Turn

BASELINES = ("no-tools", "majority", "reference")
FACTORY = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


@dataclass(frozen=True)
class CandidateSpec:
    """A parsed `--agent` spec."""

    spec: str
    kind: Literal["model", "agent", "mcp", "baseline"]
    model: str = "simulated"  # the task model: simulated, bedrock:..., openai:...
    defect_rate: float = 0.0
    factory: str | None = None
    baseline: str | None = None
    mcp_server: str | None = None  # a command line, over stdio
    mcp_url: str | None = None  # streamable HTTP


def parse_spec(spec: str) -> CandidateSpec:
    """A candidate from its spec; an InputError naming what is accepted for one that is none."""
    prefix, _, rest = spec.partition(":")
    if spec in ("sim", "simulated"):
        return CandidateSpec(spec, "model")
    if prefix == "sim":
        match = re.fullmatch(r"defect=([0-9.]+)", rest)
        rate = float(match.group(1)) if match and re.fullmatch(r"\d+(\.\d+)?", match.group(1)) else -1.0
        if not 0 <= rate <= 1:
            raise InputError(f"--agent {spec}: give sim:defect=R with R between 0 and 1, e.g. sim:defect=0.3")
        return CandidateSpec(spec, "model", defect_rate=rate)
    if prefix in ("bedrock", "openai") and rest:
        return CandidateSpec(spec, "model", model=spec)
    if prefix == "mcp":
        if not rest.strip():
            raise InputError(f"--agent {spec}: give mcp:<command line> or mcp:<http(s) URL> of an MCP server")
        if rest.startswith(("http://", "https://")):
            return CandidateSpec(spec, "mcp", mcp_url=rest)
        return CandidateSpec(spec, "mcp", mcp_server=rest)
    if prefix == "baseline":
        if rest not in BASELINES:
            known = ", ".join("baseline:" + b for b in BASELINES)
            raise InputError(f"--agent {spec}: unknown baseline; known: {known}")
        return CandidateSpec(spec, "baseline", baseline=rest)
    if FACTORY.fullmatch(spec):
        return CandidateSpec(spec, "agent", factory=spec)
    raise InputError(
        f"--agent {spec}: not a candidate; give sim, sim:defect=R, bedrock:<model-id>, openai:<model>, "
        "package.module:factory, mcp:<server> or baseline:no-tools|majority|reference"
    )


class Baseline:
    """A candidate that calls no model and no tool: it answers from the request (or the golden) alone."""

    def __init__(self, spec: CandidateSpec, finding_model: type, goldens: list[Example]):
        self.spec = spec
        self.vocabulary = vocabulary_of(finding_model)
        common: dict[str | None, Counter[str]] = {}
        for golden in goldens:
            common.setdefault(golden.request_type, Counter())[golden.reference_output.get("verdict", "")] += 1
        self.majority = {kind: counts.most_common(1)[0][0] for kind, counts in common.items()}

    def verdict(self, golden: Example) -> str:
        if self.spec.baseline == "majority":
            return self.majority[golden.request_type]
        named = [v for v in self.vocabulary.verdicts if stated(golden.prompt, v)]
        clearing = next((v for v in self.vocabulary.verdicts if v.startswith(("not_", "no_"))), None)
        return (named or [clearing or self.vocabulary.verdicts[0]])[0]

    def attempt(self, golden: Example, case: Case) -> Attempt:
        """The baseline's answer: the golden's own for `reference`, else a verdict with nothing behind it."""
        from simulation.truth import attempt_of

        if self.spec.baseline == "reference":
            return attempt_of(golden)
        verdict = self.verdict(golden)
        answer = f"**Verdict: {verdict.replace('_', ' ').capitalize()}.**\n\nI answered without looking at any record."
        conversation = None
        if case.scenario is not None:
            conversation = [Turn(role="user", content=golden.prompt), Turn(role="assistant", content=answer)]
        return Attempt(
            round=1,
            finding={"verdict": verdict, "typology": None, "evidence_ids": [], "answer": answer},
            answer=answer,
            tool_trace=[],
            conversation=conversation,
        )


async def model_attempt(roles: Any, golden: Example, case: Case) -> tuple[Attempt, Spend]:
    """A model candidate's one answer to a golden: one task-agent run, or one whole conversation with the user
    simulator from the golden's opening."""
    from simulation.conversation import converse

    if case.scenario is not None:
        return await converse(case, golden.prompt, roles, 1)
    return await roles.task.attempt(golden.prompt, 1)
