"""A revision continues the investigation: it is given the tool results so far (less the calls the reviewer
found unnecessary), and its trace is the whole investigation its answer rests on."""

import asyncio

from pydantic import BaseModel

from agents.metering import ModelMeter
from agents.providers import RoleModel
from agents.ratelimit import RateLimiter
from agents.runtime import Instructions
from agents.settings import Retry
from agents.simulated.model import ModelCall, Reply, SimulatedModel
from agents.task_agent import TaskAgent, split_revision
from store.records import Attempt, ToolTraceEntry


class Finding(BaseModel):
    """The finding."""

    answer: str


class AnswersFromWhatItWasGiven:
    """Calls no tool: answers from the results in its prompt, and remembers the prompt."""

    def __init__(self):
        self.prompts: list[str] = []

    def reply(self, call: ModelCall) -> Reply:
        self.prompts.append(call.prompt)
        return Reply(tool_calls=[(call.structured_output_tool, {"answer": "corrected"})])


def entry(name: str, output: str, **args) -> ToolTraceEntry:
    return ToolTraceEntry(name=name, input=args, output=output, status="success")


def test_a_revision_is_given_the_results_so_far_and_keeps_them_in_its_trace():
    policy = AnswersFromWhatItWasGiven()
    model = RoleModel("m", "task", lambda: SimulatedModel(policy), ModelMeter("m", None, RateLimiter(), Retry()))
    agent = TaskAgent(model, Instructions("r", "g", "b"), tools=[], finding_model=Finding)
    previous = Attempt(
        round=1,
        finding={"answer": "first"},
        answer="first",
        tool_trace=[entry("get_profile", "profile of C-1", id="C-1"), entry("get_news", "a headline", q="x")],
    )
    revised, _ = asyncio.run(
        agent.attempt("Check C-1", 2, previous=previous, feedback="- [evidence] cite T-1", unnecessary={"get_news"})
    )
    prompt = policy.prompts[0]
    assert 'get_profile({"id": "C-1"}) -> success: profile of C-1' in prompt and "get_news" not in prompt
    assert split_revision(prompt) == ("Check C-1", "- [evidence] cite T-1")
    assert [e.name for e in revised.tool_trace] == ["get_profile"] and revised.answer == "corrected"


def test_a_call_repeated_with_the_same_input_counts_once():
    from agents.task_agent import continued_trace

    given = [entry("a", "old", x=1), entry("b", "b", x=1)]
    own = [entry("a", "new", x=1), entry("a", "other", x=2)]
    assert [(e.name, e.output) for e in continued_trace(given, own)] == [("b", "b"), ("a", "new"), ("a", "other")]
