"""`domain check`: a good pack passes and says what it checked; a pack with one defect exits 2 with one line
naming the pack's file (and its line), no traceback."""

import re
from collections.abc import Callable
from pathlib import Path

import pytest


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def drop_docstring(path: Path, function: str) -> None:
    text = path.read_text()
    path.write_text(re.sub(rf'(def {function}\(.*?:\n)\s*""".*?"""\n', r"\1", text, count=1, flags=re.S))


# defect -> (how to plant it in pack `p`, the file the line names (`:N`: and a line of it), what it says)
DEFECTS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "no_rubric_path": (
        lambda p: edit(p / "p" / "__init__.py", "    rubric_path: ClassVar[Path]", "    # rubric_path: ClassVar[Path]"),
        "p/__init__.py",
        "PDomain.rubric_path is not set",
    ),
    "finding_not_a_finding": (
        lambda p: edit(p / "p" / "__init__.py", "ClassVar[type[Finding]] = PFinding", "ClassVar[type[Finding]] = dict"),
        "p/__init__.py",
        "PDomain.finding_model must be a Finding subclass",
    ),
    "persona_yaml_broken": (
        lambda p: edit(p / "p" / "persona.yaml", "  late: 1", "  late: [1"),
        "p/persona.yaml",
        "",
    ),
    "mix_names_an_unknown_category": (
        lambda p: edit(p / "p" / "persona.yaml", "  late: 1", "  late: 1\n  lost: 1"),
        "p/persona.yaml:N",
        "category_mix: unknown category 'lost'",
    ),
    "labeller_never_on_time": (
        lambda p: edit(p / "p" / "rules.py", "return LATE if days > order", "return LATE if days > -1 or order"),
        "p/persona.yaml:N",
        "category on_time: the labeller produces no case",
    ),
    "case_for_key_does_not_rebuild": (
        lambda p: edit(
            p / "p" / "cases.py",
            "return _case(world, 0, category, label)",
            "return _case(world, 0, category, label).model_copy(update={'tags': ['x']})",
        ),
        "p/__init__.py",
        "case_for_key does not rebuild the drawn case (tags differ): ",
    ),
    "world_not_deterministic": (
        lambda p: edit(p / "p" / "world.py", 'random.Random(f"world:{world_seed}")', "random.Random()"),
        "p/__init__.py",
        "build_world(1) built two different worlds",
    ),
    "world_ignores_its_seed": (
        lambda p: edit(p / "p" / "world.py", 'random.Random(f"world:{world_seed}")', 'random.Random("world")'),
        "p/__init__.py",
        "build_world(2) built the same world as build_world(1)",
    ),
    "world_raises": (
        lambda p: edit(
            p / "p" / "world.py", "    orders, deliveries = [], []\n", "    orders, deliveries = [], []\n    1 / 0\n"
        ),
        "p/world.py:N",
        "build_world(1) raised ZeroDivisionError",
    ),
    "tool_without_docstring": (
        lambda p: drop_docstring(p / "p" / "tools.py", "get_order"),
        "p/tools.py:N",
        "tool get_order: no docstring",
    ),
    "two_tools_one_name": (
        lambda p: edit(
            p / "p" / "tools.py", "return [get_order, get_deliveries]", "return [get_order, get_deliveries, get_order]"
        ),
        "p/tools.py",
        "tool get_order: two tools have this name",
    ),
    "action_names_without_tools": (
        lambda p: edit(
            p / "p" / "__init__.py",
            "    card_path:",
            '    action_names: ClassVar[frozenset[str]] = frozenset({"refund"})\n    card_path:',
        ),
        "p/__init__.py",
        "PDomain.action_names ['refund'] are not the action tools' names []",
    ),
    "rubric_bad_check": (
        lambda p: edit(p / "p" / "rubric" / "p.yaml", "check: verdict", "check: verdicts"),
        "p/rubric/p.yaml:N",
        "check",
    ),
    "rubric_suite_surprise": (
        lambda p: edit(
            p / "p" / "rubric" / "tests" / "p.good.jsonl",
            '"finding": {"verdict": "late"',
            '"finding": {"verdict": "on_time"',
        ),
        "p/rubric/tests/p.good.jsonl:N",
        "failed verdict_correct",
    ),
    "does_not_import": (
        lambda p: edit(p / "p" / "cases.py", "from .rules import", "from .rulez import"),
        "p/cases.py:N",
        "cannot import the pack: ModuleNotFoundError",
    ),
    "abstract_method_left": (
        lambda p: edit(p / "p" / "__init__.py", "    def case_for_key(self", "    def case_for_key_(self"),
        "p/__init__.py:N",
        "PDomain does not implement case_for_key",
    ),
    "name_not_an_identifier": (
        lambda p: edit(p / "p" / "__init__.py", 'name: ClassVar[str] = "p"', 'name: ClassVar[str] = "P pack"'),
        "p/__init__.py",
        "PDomain.name must be a lowercase identifier",
    ),
}


def test_a_good_pack_passes_and_says_what_it_checked(pack, cli):
    root = pack("p")
    result = cli("domain", "check", str(root))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"p 1 (directory {root.resolve()}): keeps the contract"
    assert any("build_world(1) is the same twice" in line for line in lines)
    assert any("4 known answers judged as expected" in line for line in lines)


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_a_pack_with_one_defect_gets_one_line_naming_its_file(pack, cli, defect):
    plant, file, says = DEFECTS[defect]
    root = pack("p")
    plant(root)
    result = cli("domain", "check", str(root))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    path, _, line = file.partition(":")  # `:N`: the line names a line of the file too
    assert re.match(rf"{re.escape(str(root.resolve() / path))}{':[0-9]+' if line else '(:[0-9]+)?'}: ", lines[0])
    assert says in lines[0], lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["kyc", "crypto"])
def test_the_bundled_domains_keep_the_contract(cli, name):
    result = cli("domain", "check", name)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{name} ")
