"""A Strands Evals `Experiment` file: one case per example, and an `OutputEvaluator` built from the rubric."""

from __future__ import annotations

import json

from exports.base import Context, Files, criterion_text, flattened, judged, metadata, tool_names
from store.records import Example


def write_strands_evals(records: list[Example], ctx: Context) -> Files:
    """The JSON `Experiment.from_file` loads: `cases` and `evaluators`."""
    rubric = ctx.require_rubric("strands-evals")
    cases = [
        {
            "name": record.id,
            "session_id": record.id,
            "input": flattened(record),
            "expected_output": record.reference_answer,
            "expected_trajectory": tool_names(record),
            "metadata": {
                **metadata(record, ctx),
                "task_description": ctx.mission,
                "expected_tool_calls": [call.model_dump(mode="json") for call in record.expected_tool_calls],
            },
        }
        for record in records
    ]
    criteria = judged(rubric)
    evaluators = []
    if criteria:
        text = "\n\n".join(criterion_text(c) for c in criteria)
        evaluators.append(
            {
                "evaluator_type": "OutputEvaluator",
                "rubric": (
                    f"{rubric.title}. Pass only if the output meets every criterion below that applies to the "
                    f"request, and agrees with the expected output on the facts. Score 0-1 by the share of "
                    f"criteria met.\n\n{text}"
                ),
                "include_inputs": True,
            }
        )
    return {"": json.dumps({"cases": cases, "evaluators": evaluators}, indent=2, ensure_ascii=False).encode()}
