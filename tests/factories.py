"""Minimal valid records for store tests and benchmarks (generation itself is tested end to end)."""

from store.records import Critique, Example, Facts, Provenance, TokenUsage, Turn


def make_example(id: str, category: str = "structuring", filler: int = 0) -> Example:
    """A valid Example with id `id`; `filler` pads prompt and answer to a realistic size."""
    prompt = f"q {id} " + "x" * filler
    return Example(
        id=id,
        dataset="d",
        domain="kyc",
        category=category,
        difficulty="standard",
        persona="p",
        conversation=[Turn(role="user", content=prompt)],
        prompt=prompt,
        reference_answer=f"a {id} " + "y" * 2 * filler,
        reference_output={},
        expected_tool_calls=[],
        tool_trace=[],
        facts=Facts(verdict="x"),
        critique=Critique(rubric_id="r", rubric_version="v", rounds=1, passed=True, score=1, criteria=[]),
        provenance=Provenance(
            models={},
            runtime="strands",
            seed=0,
            world_seed=1,
            domain_version="1",
            run_id="r",
            episode=0,
            created_at="t",
            tokens=TokenUsage(),
        ),
    )
