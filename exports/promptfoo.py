"""promptfoo test cases (a YAML list for `tests: file://...`), with assertions derived from the rubric.

Each judged criterion that applies to the example's category becomes an `llm-rubric`; the verified facts
become a verdict rubric and a `contains` per required evidence id; a tool-call criterion becomes
`tool-call-f1` over the expected tools; a regex criterion becomes `regex` / `not-regex`. Each assertion's
`metric` is the criterion id, so promptfoo reports per criterion.
"""

from __future__ import annotations

from typing import Any

import yaml

from exports.base import Context, Files, criterion_text, flattened, metadata, tool_names
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
                asserts.append(
                    {"type": "tool-call-f1", "value": tool_names(record), "threshold": criterion.min_f1, **common}
                )
            elif criterion.method == "regex":
                asserts.append(
                    {"type": "regex" if criterion.must_match else "not-regex", "value": criterion.pattern, **common}
                )
        tests.append(
            {
                "description": f"{record.id} · {record.category}",
                "vars": {"prompt": flattened(record), "reference_answer": record.reference_answer},
                "assert": asserts,
                "metadata": metadata(record, ctx),
            }
        )
    header = f"# promptfoo tests from Goldsmith golden dataset {ctx.ref}, rubric {rubric.id}@{rubric.version}.\n"
    body = yaml.safe_dump(tests, sort_keys=False, allow_unicode=True, width=120)
    return {"": (header + body).encode()}
