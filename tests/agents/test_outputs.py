"""Every field the schema sent to a model marks nullable takes `null` (as its empty value): a real model that
sends `null` for an optional field is not refused for following the schema."""

import pytest
from strands.tools.structured_output.structured_output_utils import convert_pydantic_to_tool_spec

from agents.user_simulator import SimulatedRequest
from rubrics.judge import JudgedCriterion, JudgeVerdict
from simulation.domains import DOMAINS, get_domain


def nullable(schema: dict) -> list[str]:
    """The properties of a JSON schema that allow null."""
    props = schema["json"]["properties"] if "json" in schema else schema["properties"]
    out = []
    for name, prop in props.items():
        types = prop.get("type")
        if (isinstance(types, list) and "null" in types) or any(a.get("type") == "null" for a in prop.get("anyOf", [])):
            out.append(name)
    return out


SAMPLES = {
    SimulatedRequest: {"message": "hello"},
    JudgeVerdict: {"criteria": [], "preference": "tie", "comparison_rationale": "why"},
    JudgedCriterion: {"id": "c", "evidence": "quote", "score": 1, "passed": True, "rationale": "r", "unscored": ""},
}
SAMPLES |= {
    get_domain(name).finding_model: {"answer": "a", "verdict": "out_of_scope", "evidence_ids": ["X-1"]}
    for name in DOMAINS
}


@pytest.mark.parametrize("model", list(SAMPLES), ids=lambda m: m.__name__)
def test_null_is_accepted_wherever_the_schema_says_nullable(model):
    schema = convert_pydantic_to_tool_spec(model)["inputSchema"]
    fields = nullable(schema)
    if model is not SimulatedRequest:
        assert fields, f"{model.__name__}: has optional fields, so the schema has nullable ones"
    parsed = model.model_validate({**SAMPLES[model], **dict.fromkeys(fields)})
    for name in fields:
        default = model.model_fields[name].get_default(call_default_factory=True)
        assert getattr(parsed, name) == default
