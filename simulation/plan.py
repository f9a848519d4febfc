"""What a resumed run may take from its plan file, and what it never does.

A run's folder (`<dataset>/runs/<run>/plan.json`) lives in the output location, which may be shared (an S3
prefix, a team directory): it is **data**. Whoever can write there must not be able to make the next person who
resumes the run start a program, import a module, or send a credential somewhere. So the plan keeps:

- what the run *is*: its case draw and counts (domain, count, seeds, rounds, defect rate, judge mode,
  runtime), all plain values validated on load;
- a sha256 digest of each setting that *executes or sends* something (model specs, endpoints and the name of
  the API key variable, the MCP server command or URL, the task-agent factory, the rubric file's content).

Those settings always come from the command line and config of the invocation that resumes; a resume whose
settings differ from the digests is refused, naming what differs. The config is code; the output location
is data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from config import InputError

if TYPE_CHECKING:
    from simulation.runner import RunConfig

PLAN_SCHEMA_VERSION = 2
MAX_COUNT = 1_000_000  # episodes per generate run; larger batches: run generate again (each appends a version)
# the data of a run: safe to read back from its plan
PLAN_FIELDS = (
    "domain",
    "count",
    "seed",
    "world_seed",
    "max_rounds",
    "sim_defect_rate",
    "judge_mode",
    "runtime",
    "base_version",
    "paraphrase",
)
# settings that run code or send requests: always from the invocation, only their digests in the plan
EXECUTED: dict[str, tuple[str, Callable[[RunConfig], Any]]] = {
    "models": ("--model / --user-model / --task-model / --critic-model", lambda c: c.models.models.as_record()),
    "endpoints": (
        "--region / --profile / --endpoint-url / --base-url (or the bedrock / openai settings of goldsmith.yaml)",
        lambda c: {
            "bedrock": c.models.bedrock.model_dump(include={"region", "profile", "endpoint_url"}),
            "openai": c.models.openai.model_dump(include={"base_url", "api_key_env"}),
        },
    ),
    "mcp": ("--mcp-server / --mcp-url", lambda c: {"server": c.mcp_server, "url": c.mcp_url}),
    "task_agent": ("--task-agent", lambda c: c.task_agent),
    # the requests a seeded run sends: the cases file always comes from the command line, its content digested
    "cases": ("--cases", lambda c: hashlib.sha256(Path(c.cases).read_bytes()).hexdigest() if c.cases else None),
}


def digest(value: Any) -> str:
    """sha256 of the canonical JSON of `value`."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


NONE = digest(None)  # the digest of a setting that is not given


def new_plan(run_id: str, config: RunConfig, rubric_sha256: str) -> dict[str, Any]:
    """The plan file of a new run: its data, and digests of what it executes."""
    return {
        "schema_version": PLAN_SCHEMA_VERSION,
        "run_id": run_id,
        "data": config.model_dump(mode="json", include=set(PLAN_FIELDS)),
        "rubric_sha256": rubric_sha256,
        "executed": {name: digest(read(config)) for name, (_, read) in EXECUTED.items()},
    }


def resume(where: str, run_id: str, plan: dict[str, Any], requested: RunConfig, explicit: set[str]) -> RunConfig:
    """The config of a resumed run: the plan's data, the invocation's everything else.

    An option given again with a value that differs from the plan's data is an InputError, and so is any
    executed setting whose digest differs from the one the run started with. Nothing from the plan beyond
    plain, validated data values is used."""
    stored = _stored_data(where, plan, type(requested))
    for name in sorted(explicit & set(PLAN_FIELDS)):
        if getattr(requested, name) != stored[name]:
            raise InputError(
                f"--{name.replace('_', '-')}: run {run_id} was started with {stored[name]}; "
                "a resumed run keeps its plan (leave the option out, or start a new run)"
            )
    config = requested.model_copy(update=stored)
    expected = _executed_digests(where, plan, type(requested))
    # a setting a plan does not digest was not there when the run started (e.g. --cases, newer than the plan)
    differ = [name for name, (_, read) in EXECUTED.items() if expected.get(name, NONE) != digest(read(config))]
    if differ:
        options = "; ".join(EXECUTED[name][0] for name in differ)
        raise InputError(
            f"run {run_id}: resumed with other settings than it started with ({options}); give the same options "
            "and goldsmith.yaml again, or start a new run. Nothing was run: a resumed run never takes what to run "
            f"or where to send from {where}"
        )
    return config


def _stored_data(where: str, plan: dict[str, Any], model: type[RunConfig]) -> dict[str, Any]:
    """The plan's data fields, validated as a RunConfig would validate them."""
    data = plan.get("data") if plan.get("schema_version") == PLAN_SCHEMA_VERSION else plan.get("config")
    if not isinstance(data, dict):
        raise InputError(f"{where}: not a plan this Goldsmith can resume (no run data)")
    try:
        checked = model.model_validate({name: data[name] for name in PLAN_FIELDS if name in data})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"])
        raise InputError(f"{where}: {field}: {error['msg']}") from None
    return {name: getattr(checked, name) for name in PLAN_FIELDS}


def _executed_digests(where: str, plan: dict[str, Any], model: type[RunConfig]) -> dict[str, str]:
    """The digests of the executed settings; a plan written before digests existed gives the digests of the
    values it stored (compared, never used)."""
    if plan.get("schema_version") == PLAN_SCHEMA_VERSION:
        executed = plan.get("executed")
        if not isinstance(executed, dict):
            raise InputError(f"{where}: not a plan this Goldsmith can resume (no settings digests)")
        return executed
    try:
        old = model.model_validate(plan["config"])
    except (ValidationError, InputError, KeyError, TypeError):
        raise InputError(f"{where}: not a plan this Goldsmith can resume") from None
    return {name: digest(read(old)) for name, (_, read) in EXECUTED.items()}
