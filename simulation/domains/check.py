"""`domain check`: load a domain pack and check that it keeps the contract of `base.Domain`. Every problem is one
line naming the pack's file (`path:line: what is wrong`, or `path: what is wrong` when no line applies)."""

from __future__ import annotations

import inspect
import itertools
import json
import re
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from config import InputError, load_yaml_model
from config.yamlfile import line_for_path
from simulation.domains import get_domain, known
from simulation.domains.base import Case, Domain, DomainCard, Finding

ATTRIBUTES = ("name", "version", "finding_model", "categories", "card_path", "rubric_path")
NAME = re.compile(r"[a-z][a-z0-9_]*")
MAX_DRAWN = 2000  # cases drawn on world seed 1 to see every category of the mix come out
T = TypeVar("T")


class _Problems(Exception):
    """Problems that stop the checks that depend on what failed."""


def where(obj: Any) -> str:
    """`file:line` of a class, function or method's definition (its file alone when its line is unknown)."""
    target = inspect.unwrap(getattr(obj, "_tool_func", obj))
    try:
        _, line = inspect.getsourcelines(target)
        return f"{inspect.getsourcefile(target)}:{line}"
    except (OSError, TypeError):
        return str(inspect.getsourcefile(target) or obj)


def _raised(exc: BaseException, root: Path, fallback: str) -> str:
    """`file:line` of the deepest frame in the pack's directory `root` on the way to `exc` (`fallback` if none)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve().is_relative_to(root)]
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else fallback


class PackCheck:
    """The checks of one loaded pack: `problems` found, `checked` lines saying what passed."""

    def __init__(self, domain: Domain):
        self.domain = domain
        self.cls = type(domain)
        self.root = Path(inspect.getsourcefile(self.cls) or ".").resolve().parent
        self.problems: list[str] = []
        self.checked: list[str] = []
        self.world_one: Any = None  # world seed 1, built by the world check
        self.tool_names: set[str] = set()

    def call(self, what: str, at: Any, fn: Callable[[], T]) -> T:
        """`fn()`, or a problem (at the frame that raised) that stops the checks needing its result."""
        try:
            return fn()
        except InputError as exc:
            self.problems += exc.problems
        except Exception as exc:
            self.problems.append(f"{_raised(exc, self.root, where(at))}: {what} raised {type(exc).__name__}: {exc}")
        raise _Problems

    def run(self) -> None:
        for step in (self.attributes, self.card, self.world, self.tools, self.cases, self.rubric):
            try:
                step()
            except _Problems:
                return

    def attributes(self) -> None:
        cls, at = self.cls, where(self.cls)
        missing = [a for a in ATTRIBUTES if not hasattr(cls, a)]
        for attribute in missing:
            self.problems.append(f"{at}: {cls.__name__}.{attribute} is not set")
        if missing:
            raise _Problems
        before = len(self.problems)
        if not isinstance(cls.name, str) or not NAME.fullmatch(cls.name):
            self.problems.append(f"{at}: {cls.__name__}.name must be a lowercase identifier, not {cls.name!r}")
        if not isinstance(cls.version, str) or not cls.version:
            self.problems.append(f"{at}: {cls.__name__}.version must be a non-empty string")
        if not (inspect.isclass(cls.finding_model) and issubclass(cls.finding_model, Finding)):
            self.problems.append(f"{at}: {cls.__name__}.finding_model must be a Finding subclass")
        categories = cls.categories
        if not isinstance(categories, dict) or not categories:
            self.problems.append(f"{at}: {cls.__name__}.categories must be a non-empty dict")
        else:
            odd = sorted(str(c) for c, kind in categories.items() if kind not in ("standard", "adversarial"))
            if odd:
                self.problems.append(f"{at}: {cls.__name__}.categories: not standard or adversarial: {', '.join(odd)}")
        for attribute in ("card_path", "rubric_path"):
            path = getattr(cls, attribute)
            if not isinstance(path, Path) or not path.is_file():
                self.problems.append(f"{at}: {cls.__name__}.{attribute}: no file {path}")
        if len(self.problems) > before:
            raise _Problems
        self.checked.append(
            f"attributes: name {cls.name}, version {cls.version}, finding_model {cls.finding_model.__name__}, "
            f"{len(categories)} categories, card_path, rubric_path"
        )

    def card(self) -> None:
        path = self.cls.card_path
        card = self.call("loading the persona card", self.cls, lambda: load_yaml_model(path, DomainCard))
        unknown = [c for c in card.category_mix if c not in self.cls.categories]
        for category in unknown:
            line = line_for_path(path, ("category_mix", category))
            self.problems.append(f"{path}:{line}: category_mix: unknown category {category!r}")
        if unknown:
            raise _Problems
        self.checked.append(f"persona card {path}: a mix of {len(card.category_mix)} categories")

    def world(self) -> None:
        build = self.cls.build_world
        self.world_one = world = self.call("build_world(1)", build, lambda: self.domain.build_world(1))
        lacking = [m for m in ("has_id", "owner_of", "model_dump") if not callable(getattr(world, m, None))]
        if lacking or not isinstance(getattr(world, "world_seed", None), int):
            self.problems.append(
                f"{where(build)}: build_world(1) returned no World (world_seed, has_id, owner_of, model_dump)"
            )
            raise _Problems
        first = self.call("dump_world", build, lambda: self.records(world))
        again = self.call("build_world(1)", build, lambda: self.records(self.domain.build_world(1)))
        other = self.call("build_world(2)", build, lambda: self.records(self.domain.build_world(2)))
        if first != again:
            self.problems.append(f"{where(build)}: build_world(1) built two different worlds: not deterministic")
        if first == other:
            self.problems.append(f"{where(build)}: build_world(2) built the same world as build_world(1)")
        if first != again or first == other:
            raise _Problems
        self.checked.append("world: build_world(1) is the same twice, build_world(2) differs")

    def records(self, world: Any) -> str:
        """The world as `dump_world` writes it, without its seed."""
        dumped = json.loads(self.domain.dump_world(world))
        dumped.pop("world_seed", None)
        return json.dumps(dumped, sort_keys=True)

    def tools(self) -> None:
        world = self.world_one
        tools = self.call("tools(world)", self.cls.tools, lambda: self.domain.tools(world))
        desk = self.call("action_desk(world)", self.cls.action_desk, lambda: self.domain.action_desk(world))
        names: list[str] = []
        for tool in [*tools, *desk.tools]:
            name = getattr(tool, "tool_name", None)
            spec = getattr(tool, "tool_spec", None) or {}
            if not name:
                self.problems.append(f"{where(tool)}: a tool without a name (make it a strands @tool)")
                continue
            if not spec.get("description") or spec.get("description") == name:
                self.problems.append(f"{where(tool)}: tool {name}: no docstring (the model reads it to use the tool)")
            if name in names:
                self.problems.append(f"{where(tool)}: tool {name}: two tools have this name")
            names.append(name)
        actions = {t.tool_name for t in desk.tools if getattr(t, "tool_name", None)}
        if actions != set(self.cls.action_names):
            self.problems.append(
                f"{where(self.cls)}: {self.cls.__name__}.action_names {sorted(self.cls.action_names)} are not the "
                f"action tools' names {sorted(actions)}"
            )
        if self.problems:
            raise _Problems
        self.tool_names = set(names)
        self.checked.append(f"tools: {len(tools)} ({', '.join(names[: len(tools)])}), {len(desk.tools)} action tools")

    def cases(self) -> None:
        domain, cls, before = self.domain, self.cls, len(self.problems)
        world = self.world_one
        mix = domain.card.category_mix
        keys = self.call("case_keys(world)", cls.case_keys, lambda: domain.case_keys(world))
        drawn: list[Case] = self.call(
            "iter_cases(world, 1)", cls.iter_cases, lambda: self._draw(domain.iter_cases(world, 1), set(mix))
        )
        mix_line = {c: line_for_path(cls.card_path, ("category_mix", c)) for c in mix}
        for category in mix:
            if not keys.get(category) or not any(c.category == category for c in drawn):
                self.problems.append(
                    f"{cls.card_path}:{mix_line[category]}: category {category}: the labeller produces no case"
                )
        vocabulary = _verdicts(cls.finding_model)
        found: dict[str, list[str]] = {}  # problem -> the keys of the drawn cases that have it
        for case in drawn:
            for problem in self.case(world, case, keys, vocabulary):
                found.setdefault(problem, []).append(case.key)
        for problem, bad in found.items():
            self.problems.append(f"{problem}: {len(bad)} of {len(drawn)} drawn cases, e.g. {bad[0]}")
        if len(self.problems) > before:
            raise _Problems
        counts = ", ".join(f"{c} {len(keys.get(c, ()))}" for c in sorted(mix))
        self.checked.append(
            f"cases: {sum(len(v) for v in keys.values())} keys on world seed 1 ({counts}); {len(drawn)} drawn, "
            "each rebuilt identically from its key"
        )

    def case(self, world: Any, case: Case, keys: dict[str, set[str]], verdicts: set[str]) -> list[str]:
        """What is wrong with one drawn case (`file:line: problem`): its key is not offered, its truth does not
        rebuild from the key, it expects calls of no tool or a verdict the finding model does not allow."""
        cls, problems = self.cls, []
        if case.key not in keys.get(case.category, set()):
            problems.append(f"{where(cls.case_keys)}: a drawn key is not among case_keys' keys of its category")
        try:
            rebuilt = self.domain.case_for_key(world, case.key)
        except Exception as exc:
            at = _raised(exc, self.root, where(cls.case_for_key))
            return [*problems, f"{at}: case_for_key raised {type(exc).__name__}"]
        differ = [f for f in Case.model_fields if f != "index" and getattr(rebuilt, f) != getattr(case, f)]
        if differ:
            problems.append(
                f"{where(cls.case_for_key)}: case_for_key does not rebuild the drawn case ({', '.join(differ)} differ)"
            )
        unknown = {c.name for c in case.expected_tool_calls} - self.tool_names
        if unknown:
            problems.append(f"{where(cls.iter_cases)}: expected calls of no tool: {', '.join(sorted(unknown))}")
        if verdicts and case.facts.verdict not in verdicts:
            problems.append(
                f"{where(cls.finding_model)}: a verdict the finding model does not allow ({case.facts.verdict})"
            )
        return problems

    @staticmethod
    def _draw(cases: Any, categories: set[str]) -> list[Case]:
        """Cases until every category came out (or MAX_DRAWN)."""
        drawn, seen = [], set()
        for case in itertools.islice(cases, MAX_DRAWN):
            drawn.append(case)
            seen.add(case.category)
            if seen >= categories:
                break
        return drawn

    def rubric(self) -> None:
        from rubrics.check import load_checked
        from rubrics.suite import RubricTester, read_suite, suites_beside

        path = self.cls.rubric_path
        rubric = self.call("loading the rubric", self.cls, lambda: load_checked(path))
        if rubric.applies_to.domain != self.cls.name:
            line = line_for_path(path, ("applies_to", "domain"))
            self.problems.append(f"{path}:{line}: applies_to.domain: {rubric.applies_to.domain}, not {self.cls.name}")
            raise _Problems
        line = f"rubric {path}: {rubric.id} version {rubric.version}"
        suites = suites_beside(path)
        if suites:
            known_answers = self.call(
                "reading the suites", self.cls, lambda: [k for s in suites for k in read_suite(s)]
            )
            verdicts = self.call("rubric test", self.cls, lambda: RubricTester(path, 1).run(known_answers))
            for verdict in verdicts:
                if verdict.surprise:
                    self.problems.append(f"{verdict.known.where}: {verdict.known.entry.label}: {verdict.surprise}")
            line += f"; {len(verdicts)} known answers judged as expected"
        self.checked.append(line)


def _verdicts(finding_model: type[Finding]) -> set[str]:
    from rubrics.methods import vocabulary_of

    return set(vocabulary_of(finding_model).verdicts)


def check_pack(spec: str) -> list[str]:
    """Load pack `spec` (a name or a directory) and check it: what was checked, one line each; InputError with
    every problem."""
    domain = get_domain(spec, paths=True)
    check = PackCheck(domain)
    check.run()
    if check.problems:
        raise InputError(check.problems)
    source = known()[domain.name]
    return [f"{domain.name} {domain.version} ({source.origin}): keeps the contract", *(f"  {c}" for c in check.checked)]
