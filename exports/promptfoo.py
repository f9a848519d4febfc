"""promptfoo test cases (a YAML list for `tests: file://...`), with assertions derived from the rubric.

Each judged criterion that applies to the example's category becomes an `llm-rubric`; the verified facts
become a verdict rubric and a `contains` per required evidence id; a tool-call criterion becomes `tool-call-f1`
over the expected tools; a regex criterion becomes `regex` / `not-regex`; an end-state criterion becomes a
`trajectory:tool-args-match` per expected action the final answer still has to take (a conversation is flattened
into the prompt, and an action an earlier turn took is part of it; `tool-call-f1` counts the actions due too).
Each assertion's `metric` is the criterion id, so promptfoo reports per criterion.
"""

from __future__ import annotations

from typing import Any

import yaml

from exports.base import (
    Context,
    Files,
    conversation_metadata,
    criterion_text,
    due_actions,
    flattened,
    metadata,
    tool_names,
)
from store.records import Example


def write_promptfoo(records: list[Example], ctx: Context) -> Files:
    rubric = ctx.require_rubric("promptfoo")
    tests = []
    for record in records:
        asserts: list[dict[str, Any]] = []
        for criterion in rubric.criteria_for(record.category):
            common = {"metric": criterion.id, "weight": criterion.weight}
            if criterion.method == "judge":
                asserts.append({"type": "llm-rubric", "value": criterion_text(criterion), **common})
            elif criterion.method == "facts" and criterion.check == "verdict":
                typology = f" (typology: {record.facts.typology})" if record.facts.typology else ""
                asserts.append(
                    {"type": "llm-rubric", "value": f"States the verdict '{record.facts.verdict}'{typology}.", **common}
                )
            elif criterion.method == "facts" and criterion.check == "evidence":
                asserts += [{"type": "contains", "value": ref, **common} for ref in record.facts.evidence_ids]
            elif criterion.method == "tool_calls":
                tools = list(dict.fromkeys([*tool_names(record), *(a.name for a in due_actions(record))]))
                asserts.append({"type": "tool-call-f1", "value": tools, "threshold": criterion.min_f1, **common})
            elif criterion.method == "regex":
                asserts.append(
                    {"type": "regex" if criterion.must_match else "not-regex", "value": criterion.pattern, **common}
                )
            elif criterion.method == "end_state":
                asserts += [
                    {
                        "type": "trajectory:tool-args-match",
                        "value": {"name": action.name, "args": action.input, "mode": "partial"},
                        **common,
                    }
                    for action in due_actions(record)
                ]
        tests.append(
            {
                "description": f"{record.id} · {record.category}",
                "vars": {"prompt": flattened(record), "reference_answer": record.reference_answer},
                "assert": asserts,
                "metadata": {**metadata(record, ctx), **conversation_metadata(record)},
            }
        )
    header = f"# promptfoo tests from Goldsmith golden dataset {ctx.ref}, rubric {rubric.id}@{rubric.version}.\n"
    body = yaml.safe_dump(tests, sort_keys=False, allow_unicode=True, width=120)
    return {"": (header + body).encode()}
