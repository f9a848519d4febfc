"""What a domain pack provides: a seeded world, tools over it, cases with verified facts, and people."""

from __future__ import annotations

import itertools
import json
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar

from pydantic import Field, field_validator

from agents.outputs import ModelOutput
from config import InputError, load_yaml_model
from store.records import Example, Facts, Scenario, Strict, ToolCall, TruthSource, Turn


class World(Protocol):
    """A domain world: generated from a seed, serialisable, able to say whether an id exists."""

    world_seed: int

    def has_id(self, object_id: str) -> bool: ...

    def owner_of(self, object_id: str) -> str | None:
        """The subject (customer, asset) a record belongs to, or None when it belongs to none."""
        ...

    def model_dump(self, *, mode: str = "python") -> dict[str, Any]: ...


class Finding(ModelOutput):
    """The task agent's final answer: the text for the user plus the conclusions a checker can verify."""

    answer: str = Field(min_length=1, description="The complete answer to the user, in Markdown.")
    verdict: str = Field(description="The conclusion, one of the allowed values.")
    typology: str | None = Field(default=None, description="The pattern found, when the verdict names one.")
    evidence_ids: list[str] = Field(
        default_factory=list, description="Ids of the records (as returned by the tools) that support the verdict."
    )


class RoleCard(Strict):
    mission: str = Field(min_length=1)
    persona: str = Field(min_length=1)


class UserSimulatorCard(RoleCard):
    name: str = Field(min_length=1, description="Persona label stored on every example")
    example_questions: dict[str, list[str]]
    openers: list[str] = Field(default_factory=list, description="ways the persona opens a message")
    closers: list[str] = Field(default_factory=list, description="ways the persona closes a message")
    follow_ups: dict[str, list[str]] = Field(
        default_factory=dict,
        description="multi-turn cases: what the persona says after an answer, by kind (answering a question, "
        "asking to act, pushing back); placeholders in braces are filled from the brief and its private facts",
    )

    @field_validator("example_questions", "follow_ups")
    @classmethod
    def _non_empty(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        empty = [kind for kind, questions in value.items() if not questions]
        if empty:
            raise ValueError(f"needs at least one question for: {', '.join(empty)}")
        return value


class DomainCard(Strict):
    """The SME-editable people of a domain (persona.yaml): who asks, who answers, what mix of cases."""

    user_simulator: UserSimulatorCard
    task_agent: RoleCard
    category_mix: dict[str, float]

    @field_validator("category_mix")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k, w in value.items() if w <= 0]
        if bad:
            raise ValueError(f"weights must be > 0: {', '.join(bad)}")
        return value


class Case(Strict):
    """One drawn case: what the user simulator is briefed with, and the verified ground truth.

    `key` identifies the case in its world (`category:subject`): a dataset holds each case once.
    `expected_tool_calls` are the calls an expert needs *before* knowing the answer (the same tool names for
    every case of a request type); `allowed_tool_calls` may be made too (e.g. looking up a counterparty after
    a screening hit) and cost no precision. `tags` say what makes the case hard (`near_threshold`, `pep`, ...).
    `truth` says where the facts and expected tool calls come from: a domain's cases are the world's; a seed
    case (simulation/seeds.py) has an SME's, or none (`judged`: facts and expected tool calls None)."""

    index: int
    key: str
    category: str
    request_type: str
    difficulty: Literal["standard", "adversarial"]
    brief: dict[str, Any]
    expected_tool_calls: list[ToolCall] | None
    allowed_tool_calls: list[ToolCall] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    truth: TruthSource = "world"
    facts: Facts | None
    scenario: Scenario | None = None
    expected_actions: list[ToolCall] = Field(default_factory=list)
    expected_end_state: dict[str, Any] = Field(default_factory=dict)
    history: list[Turn] = Field(
        default_factory=list, description="a seed case's conversation before its request (user, assistant, ...)"
    )

    @property
    def reference(self) -> dict[str, Any]:
        """What an attempt at this case is judged against, as `Critic.review` and `Critic.subject` take it."""
        return {
            "truth": self.truth,
            "facts": self.facts,
            "expected_tool_calls": self.expected_tool_calls,
            "allowed_tool_calls": self.allowed_tool_calls,
            "expected_end_state": self.expected_end_state,
        }


Apply = Callable[[dict[str, Any], str, dict[str, Any]], None]


class ActionDesk:
    """The part of the world a conversation's actions change, and the action tools that change it. Each attempt
    gets a fresh desk, so episodes (and revisions) never see each other's actions. `state` starts empty; every
    action the tools take goes through the domain's `apply`, the same function that turns a case's expected
    actions into its expected end state."""

    def __init__(self, apply: Apply, make_tools: Callable[[ActionDesk], list[Any]] | None = None):
        self.apply = apply
        self.state: dict[str, Any] = {}
        self.tools: list[Any] = make_tools(self) if make_tools else []

    @property
    def names(self) -> set[str]:
        """The names of the action tools."""
        return {t.tool_name for t in self.tools}

    def act(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Take one action (ValueError for arguments the domain refuses); what the tool returns: the state after."""
        self.apply(self.state, name, arguments)
        return {"done": name, "state": json.loads(json.dumps(self.state))}


def end_state(apply: Apply, actions: list[ToolCall]) -> dict[str, Any]:
    """The state `actions` leave, taken in order on an empty desk."""
    desk = ActionDesk(apply)
    for action in actions:
        desk.apply(desk.state, action.name, action.input)
    return desk.state


@dataclass(frozen=True)
class CategorySpec:
    """A kind of case: the world profile its subject is drawn from (None: an off-topic request), the request
    type the user simulator is briefed with (keys `example_questions`), the tools an expert answer needs."""

    profile: str | None
    request_type: str
    tools: tuple[str, ...]
    difficulty: Literal["standard", "adversarial"] = "standard"


L = TypeVar("L")
CaseMaker = Callable[[int, str, random.Random, set[str]], "Case | None"]


def draw_by_mix(
    domain: str, seed: int, mix: dict[str, float], make_case: CaseMaker, exclude: frozenset[str] = frozenset()
) -> Iterator[Case]:
    """Distinct cases by category weight, one at a time, deterministic in the seed (and `exclude`);
    `make_case(index, category, rng, used)` builds each, or returns None when the category has no case left
    whose key is not in `used` (the keys drawn so far, and `exclude`: the cases a dataset already holds). An
    exhausted category leaves the mix; the draw ends when every category is exhausted."""
    rng = random.Random(f"{domain}-cases:{seed}")
    weights = dict(sorted(mix.items()))
    used: set[str] = set(exclude)
    index = 0
    while weights:
        category = rng.choices(list(weights), list(weights.values()))[0]
        case = make_case(index, category, rng, used)
        if case is None:
            del weights[category]
            continue
        used.add(case.key)
        yield case
        index += 1


def pick_subject(
    labels: list[L], key: Callable[[L], str], rng: random.Random, used: set[str], *evenly: Callable[[L], str]
) -> L | None:
    """A label whose case key (`key`) was not drawn before, or None when none is left. With `evenly` (e.g. the
    request type, then the verdict), each value of the first is as likely, then each of the next among those, so
    what a case is drawn for says nothing of its answer."""
    return Subjects(labels, key, *evenly).pick(rng, used)


class Subjects(Generic[L]):
    """`pick_subject`'s pool with each label's case key and the values drawn evenly over worked out once: a domain
    that draws from one large pool again and again keeps it (the same draws, without a pass of `key` per draw)."""

    def __init__(self, labels: list[L], key: Callable[[L], str], *evenly: Callable[[L], str]):
        self.labels = labels
        self.keys = [key(label) for label in labels]
        self.values = [tuple(attribute(label) for attribute in evenly) for label in labels]
        self.levels = len(evenly)

    def pick(self, rng: random.Random, used: set[str]) -> L | None:
        """See `pick_subject`."""
        fresh = [i for i, key in enumerate(self.keys) if key not in used]
        for level in range(self.levels):
            if not fresh:
                break
            value = rng.choice(sorted({self.values[i][level] for i in fresh}))
            fresh = [i for i in fresh if self.values[i][level] == value]
        return self.labels[rng.choice(fresh)] if fresh else None


S = TypeVar("S")


def split_case_key(key: str, categories: dict[str, S], domain: str) -> tuple[str, S, str]:
    """(category, its spec, subject) of a case key `category:subject`; LookupError for an unknown category."""
    category, _, subject = key.partition(":")
    spec = categories.get(category)
    if spec is None:
        raise LookupError(f"no category {category!r} in the {domain} domain")
    return category, spec, subject


def off_topic_for_key(key: str, category: str, spec: CategorySpec, subject: str) -> Case:
    """The off-topic case a key `category:n` names; LookupError when `n` is not a number."""
    if not subject.isdigit():
        raise LookupError(f"{key!r} is not an off-topic case key")
    case = off_topic_case(0, category, spec, int(subject))
    assert case is not None  # a given number is never refused
    return case


OFF_TOPIC_VARIANTS = 100  # off-topic requests a dataset may hold, per category


def off_topic_case(
    index: int, category: str, spec: CategorySpec, rng: random.Random | int, used: set[str] = frozenset()
) -> Case | None:
    """A request outside the domain: no tool to call, the verdict is out_of_scope. `rng` draws which off-topic
    question (the user simulator picks one by this number) among those whose key is not `used`, or is that
    number; None when none is left."""
    if isinstance(rng, int):
        question = rng
    else:
        question = rng.randrange(OFF_TOPIC_VARIANTS)
        if f"{category}:{question}" in used:
            fresh = [n for n in range(OFF_TOPIC_VARIANTS) if f"{category}:{n}" not in used]
            if not fresh:
                return None
            question = rng.choice(fresh)
    return Case(
        index=index,
        category=category,
        request_type=spec.request_type,
        difficulty=spec.difficulty,
        key=f"{category}:{question}",
        brief={"request_type": spec.request_type, "variant": question},
        expected_tool_calls=[],
        facts=Facts(verdict="out_of_scope"),
    )


class Domain(ABC):
    """A domain pack. Subclasses set the class attributes and implement the abstract methods."""

    name: ClassVar[str]
    version: ClassVar[str]
    finding_model: ClassVar[type[Finding]]
    categories: ClassVar[dict[str, Literal["standard", "adversarial"]]]
    card_path: ClassVar[Path]
    rubric_path: ClassVar[Path]  # the rubric its examples are judged by unless a run names another

    @cached_property
    def card(self) -> DomainCard:
        card = load_yaml_model(self.card_path, DomainCard)
        unknown = sorted(set(card.category_mix) - set(self.categories))
        if unknown:
            raise InputError(
                f"{self.card_path}: category_mix: unknown categories {unknown}; known: {sorted(self.categories)}"
            )
        return card

    @abstractmethod
    def build_world(self, world_seed: int) -> World: ...

    @abstractmethod
    def tools(self, world: World) -> list[Any]:
        """The task agent's tools, bound to `world`."""

    @abstractmethod
    def iter_cases(self, world: World, seed: int, exclude: frozenset[str] = frozenset()) -> Iterator[Case]:
        """The cases of a run, one at a time and each once, deterministic in (world, seed, exclude), leaving out
        the case keys in `exclude` (those the dataset holds); a run takes as many as it needs, and the draw ends
        when the world has no case left."""

    def case_keys(self, world: World) -> dict[str, set[str]]:
        """Every case key the world offers, per category of the mix: by drawing them all, unless a domain knows
        a faster way."""
        keys: dict[str, set[str]] = {}
        for case in self.iter_cases(world, 0):
            keys.setdefault(case.category, set()).add(case.key)
        return keys

    def draw_cases(self, world: World, seed: int, count: int, exclude: frozenset[str] = frozenset()) -> list[Case]:
        """The first `count` cases of `iter_cases`."""
        return list(itertools.islice(self.iter_cases(world, seed, exclude), count))

    @abstractmethod
    def case_for_key(self, world: World, key: str) -> Case:
        """The case with this key, rebuilt from the world alone (brief, expected tool calls, facts from the
        world's labels); LookupError when the world has no such case. How imports and re-validation re-earn a
        record's truth instead of trusting it."""

    def case_key_of(self, record: Example) -> str:
        """The case key of a stored record: its own, or for records written before they carried one, derived
        from its category and subject."""
        if record.case_key:
            return record.case_key
        facts = record.facts
        subject = facts.subject_id or ",".join(sorted(facts.evidence_ids))
        return f"{record.category}:{subject}"

    action_names: ClassVar[frozenset[str]] = frozenset()
    # True when the tools only read the in-memory world (no I/O, nothing that blocks): the strands runtime then runs
    # them on its event loop instead of a worker thread per call, which is cheaper under many concurrent episodes
    inline_tools: ClassVar[bool] = False

    def action_desk(self, world: World) -> ActionDesk:
        """A fresh desk with this domain's action tools (none by default) bound to `world`."""
        return ActionDesk(self.apply_action)

    def apply_action(self, state: dict[str, Any], name: str, arguments: dict[str, Any]) -> None:
        """How one action changes the state (a domain with actions overrides this)."""
        raise ValueError(f"the {self.name} domain has no action {name!r}")

    @abstractmethod
    def simulated_task_policy(self, defect_rate: float) -> Any:
        """The offline task model's behaviour (an `agents.simulated.Policy`)."""

    def dump_world(self, world: World) -> str:
        return json.dumps(world.model_dump(mode="json"), indent=1, sort_keys=True)
