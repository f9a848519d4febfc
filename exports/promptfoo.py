"""promptfoo test cases (a YAML list for `tests: file://...`), with assertions derived from the rubric.

Each judged criterion that applies to the example's category becomes an `llm-rubric`, and so does the verdict of
the verified facts, when a grader is given (`--grader`, a promptfoo provider id set on each of them); without one
they are left out and the file's header says so. The evidence ids become a `contains` each; a tool-call criterion
becomes `tool-call-f1` over the expected tools, or, when the case needs none, a `trajectory:step-count` of at most
0 tool calls; a regex criterion becomes `regex` / `not-regex` with the pattern translated to JavaScript (see
`js_regex`); an end-state criterion becomes a `trajectory:tool-args-match` per expected action the final answer
still has to take (a conversation is flattened into the prompt, and an action an earlier turn took is part of it;
`tool-call-f1` counts the actions due too). Each assertion's `metric` is the criterion id, so promptfoo reports per
criterion. `vars` carry the expected tools (with their inputs) and the verified facts for a grader prompt or a
custom assertion.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from re import _constants as sre
from re import _parser as sre_parse
from typing import Any

import yaml

from config import InputError, load_yaml_model
from config.yamlfile import line_for_path
from exports.base import (
    Context,
    Files,
    conversation_metadata,
    criterion_text,
    due_actions,
    flattened,
    metadata,
    stated_truth,
)
from rubrics.model import Criterion, Rubric
from simulation.domains import get_domain
from store.records import Example


def write_promptfoo(records: list[Example], ctx: Context) -> Files:
    rubric = ctx.require_rubric("promptfoo")
    grader = ctx.options.get("grader")
    patterns = {c.id: js_regex(c.pattern, c, rubric, ctx) for c in rubric.criteria if c.method == "regex"}
    tests, judged_out = [], {}
    for record in records:
        asserts: list[dict[str, Any]] = []
        expected = [*(record.expected_tool_calls or []), *due_actions(record)]
        for criterion in rubric.criteria_for(record.category):
            if not stated_truth(record, criterion):  # a seed example that does not state what it checks
                continue
            common = {"metric": criterion.id, "weight": criterion.weight}
            if criterion.method == "judge" or (criterion.method == "facts" and criterion.check == "verdict"):
                if grader:
                    text = criterion_text(criterion) if criterion.method == "judge" else verdict_text(record)
                    asserts.append({"type": "llm-rubric", "value": _untemplated(text), **common, "provider": grader})
                else:
                    judged_out[criterion.id] = judged_out.get(criterion.id, 0) + 1
            elif criterion.method == "facts" and criterion.check == "evidence":
                asserts += [{"type": "contains", "value": ref, **common} for ref in record.facts.evidence_ids]
            elif criterion.method == "tool_calls":
                tools = list(dict.fromkeys(call.name for call in expected))
                if tools:
                    asserts.append({"type": "tool-call-f1", "value": tools, "threshold": criterion.min_f1, **common})
                else:  # tool-call-f1 refuses an empty list; a case that needs no tool must call none (from a trace)
                    asserts.append({"type": "trajectory:step-count", "value": {"type": "tool", "max": 0}, **common})
            elif criterion.method == "regex":
                kind = "regex" if criterion.must_match else "not-regex"
                asserts.append({"type": kind, "value": patterns[criterion.id], **common})
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
                "vars": {
                    "prompt": flattened(record),
                    "reference_answer": record.reference_answer,
                    # a list of objects: promptfoo runs a test once per value of a var that is a list of strings
                    "expected_tools": [{"name": call.name, "input": call.input} for call in expected],
                    "facts": record.facts.model_dump(mode="json", include={"verdict", "typology", "evidence_ids"})
                    if record.facts
                    else None,
                },
                "assert": asserts,
                "metadata": {**metadata(record, ctx), **conversation_metadata(record)},
            }
        )
    notes = [
        f"promptfoo tests from Goldsmith golden dataset {ctx.ref}, rubric {rubric.id}@{rubric.version}.",
        "Regex checks are the rubric's Python patterns translated to JavaScript RegExp syntax.",
    ]
    if grader:
        notes.append(f"Judged criteria (llm-rubric) are graded by {grader}.")
    elif judged_out:
        counts = ", ".join(f"{name} ({n})" for name, n in judged_out.items())
        notes += [
            f"Left out: {sum(judged_out.values())} judged assertions (llm-rubric), which need a grader: {counts}.",
            "To include them, export again with --grader PROVIDER (a promptfoo provider id, e.g. openai:gpt-4.1-mini).",
        ]
    header = "".join(f"# {line}\n" for note in notes for line in textwrap.wrap(note, 116, subsequent_indent="  "))
    body = yaml.dump(tests, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    return {"": (header + body).encode()}


def verdict_text(record: Example) -> str:
    """The verified verdict as a rubric a grader reads."""
    typology = f" (typology: {record.facts.typology})" if record.facts.typology else ""
    return f"States the verdict '{record.facts.verdict}'{typology}."


class _Dumper(yaml.SafeDumper):
    """Writes a value that appears twice (the evidence ids in vars and metadata) twice, not as a YAML alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _untemplated(text: str) -> str:
    """`text` as promptfoo renders an assertion value (a Nunjucks template): unchanged unless it holds template
    syntax, which is then kept literal."""
    if not any(tag in text for tag in ("{{", "{%", "{#")) or "endraw" in text:
        return text
    return "{% raw %}" + text + "{% endraw %}"


# --- Python regex → JavaScript RegExp ------------------------------------------------------------------------------
#
# promptfoo builds `new RegExp(value)` for `regex` / `not-regex`: no flags, so `(?i)` cannot pass as the `i` flag.
# The pattern is parsed by Python's own parser (re._parser, what re.compile uses) and written again from its parse
# tree with only syntax both engines read the same way: a case-insensitive letter becomes a class of its cases
# ([eE]), Python's `.` (any character but \n) `[^\n]`, `^` and `$` their Python meaning with and without (?m), `\Z`
# `$`. Comments, verbose whitespace, named and scoped-flag groups are gone from the tree. What JavaScript has no
# equivalent for (backreferences, conditionals, atomic groups, possessive quantifiers) is an InputError. Braces are
# written as \x7b / \x7d, so the value never holds Nunjucks syntax (promptfoo renders assertion values as templates).

_CATEGORIES = {
    sre.CATEGORY_DIGIT: r"\d",
    sre.CATEGORY_NOT_DIGIT: r"\D",
    sre.CATEGORY_SPACE: r"\s",
    sre.CATEGORY_NOT_SPACE: r"\S",
    sre.CATEGORY_WORD: r"\w",
    sre.CATEGORY_NOT_WORD: r"\W",
}
_ESCAPES = {"\n": r"\n", "\r": r"\r", "\t": r"\t", "\f": r"\f", "\v": r"\v"}
_UNTRANSLATABLE = {
    sre.GROUPREF: "a backreference (\\1 or (?P=name)): JavaScript matches one to a group that took no part as empty "
    "text, where Python fails",
    sre.GROUPREF_EXISTS: "a conditional group (?(1)...|...), which JavaScript has not",
    sre.ATOMIC_GROUP: "an atomic group (?>...), which JavaScript has not",
    sre.POSSESSIVE_REPEAT: "a possessive quantifier (*+, ++, ?+, {m,n}+), which JavaScript has not",
}


class _Untranslatable(Exception):
    pass


def js_regex(pattern: str | None, criterion: Criterion, rubric: Rubric, ctx: Context) -> str:
    """`criterion`'s Python pattern as a JavaScript RegExp source that matches the same text (ASCII text exactly; see
    docs/exports.md for the rest), or an InputError naming the criterion and where it is written."""
    try:
        return translate_regex(pattern or "")
    except _Untranslatable as exc:
        index = next(i for i, c in enumerate(rubric.criteria) if c.id == criterion.id)
        raise InputError(
            f"{_where(rubric, index, ctx)}: criteria[{index}].pattern: criterion '{criterion.id}' uses {exc}; "
            "promptfoo's regex assertions are JavaScript RegExps: rewrite the pattern without it"
        ) from None


def translate_regex(pattern: str) -> str:
    """A Python regular expression (one re.compile accepts) as JavaScript RegExp source with no flags; raises
    _Untranslatable for Python-only syntax."""
    parsed = sre_parse.parse(pattern)
    source = _sequence(list(parsed), parsed.state.flags, whole=True)
    re.compile(source)  # what was written is plain syntax both engines share; Python must read it too
    return source


def _where(rubric: Rubric, index: int, ctx: Context) -> str:
    """The rubric file the criterion is written in, with its line, when a file at hand has this rubric's version."""
    given = ctx.options.get("rubric")
    for path in [*([Path(given)] if given else []), get_domain(rubric.applies_to.domain).rubric_path]:
        try:
            if path.is_file() and load_yaml_model(path, Rubric).version == rubric.version:
                return f"{path}:{line_for_path(path, ('criteria', index, 'pattern'))}"
        except InputError:
            pass
    return f"rubric {rubric.id}@{rubric.version} (the copy the dataset keeps; --rubric FILE gives the line)"


def _sequence(items: list[tuple[Any, Any]], flags: int, whole: bool = False) -> str:
    if whole and len(items) == 1 and items[0][0] is sre.BRANCH:
        return "|".join(_sequence(list(alt), flags) for alt in items[0][1][1])
    return "".join(_item(op, av, flags) for op, av in items)


def _item(op: Any, av: Any, flags: int) -> str:
    nocase = bool(flags & sre.SRE_FLAG_IGNORECASE)
    if op is sre.LITERAL:
        cases = _cases(av) if nocase else [av]
        return _char(av, in_class=False) if len(cases) == 1 else _class(cases, [], negate=False)
    if op is sre.NOT_LITERAL:
        return _class(_cases(av) if nocase else [av], [], negate=True)
    if op is sre.ANY:
        return r"[\s\S]" if flags & sre.SRE_FLAG_DOTALL else r"[^\n]"
    if op is sre.IN:
        return _in(av, nocase)
    if op is sre.BRANCH:
        return "(?:" + "|".join(_sequence(list(alt), flags) for alt in av[1]) + ")"
    if op is sre.SUBPATTERN:
        group, add, remove, body = av
        inner = _sequence(list(body), (flags | add) & ~remove, whole=True)
        return f"({inner})" if group is not None else f"(?:{inner})"
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
        low, high, body = av
        body = list(body)
        atom = _sequence(body, flags)  # one character (a class, a surrogate pair's group) or a group is one atom
        if not (len(body) == 1 and body[0][0] in (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN, sre.SUBPATTERN)):
            atom = f"(?:{atom})"
        return atom + _quantifier(low, high) + ("?" if op is sre.MIN_REPEAT else "")
    if op is sre.AT:
        return _at(av, bool(flags & sre.SRE_FLAG_MULTILINE))
    if op in (sre.ASSERT, sre.ASSERT_NOT):
        direction, body = av
        kind = ("=" if op is sre.ASSERT else "!") if direction == 1 else ("<=" if op is sre.ASSERT else "<!")
        return f"(?{kind}{_sequence(list(body), flags, whole=True)})"
    raise _Untranslatable(_UNTRANSLATABLE.get(op, f"{str(op).lower()}, which has no JavaScript equivalent"))


def _quantifier(low: int, high: int) -> str:
    unbounded = high == sre.MAXREPEAT
    if (low, unbounded) == (0, True):
        return "*"
    if (low, unbounded) == (1, True):
        return "+"
    if (low, high) == (0, 1):
        return "?"
    if unbounded:
        return f"{{{low},}}"
    return f"{{{low}}}" if low == high else f"{{{low},{high}}}"


def _at(code: Any, multiline: bool) -> str:
    if code is sre.AT_BEGINNING:
        return r"(?<![^\n])" if multiline else "^"  # Python's (?m)^ follows \n only, JavaScript's \r too
    if code is sre.AT_END:
        return r"(?![^\n])" if multiline else r"(?=\n?$)"  # Python's $ also matches before a final \n
    if code is sre.AT_BEGINNING_STRING:
        return "^"
    if code is sre.AT_END_STRING:
        return "$"
    if code is sre.AT_BOUNDARY:
        return r"\b"
    if code is sre.AT_NON_BOUNDARY:
        return r"\B"
    raise _Untranslatable(f"the anchor {code}, which has no JavaScript equivalent")


def _cases(code: int) -> list[int]:
    """The characters a case-insensitive `code` stands for: itself and its one-character lower and upper cases."""
    char = chr(code)
    return sorted({code, *(ord(c) for c in (char.lower(), char.upper()) if len(c) == 1)})


def _in(items: list[tuple[Any, Any]], nocase: bool) -> str:
    negate = bool(items) and items[0][0] is sre.NEGATE
    items = items[1:] if negate else items
    if not negate and len(items) == 1 and items[0][0] is sre.CATEGORY:
        return _CATEGORIES[items[0][1]]
    chars: list[int] = []
    ranges: list[tuple[int, int]] = []
    categories: list[str] = []
    for op, av in items:
        if op is sre.LITERAL:
            chars += _cases(av) if nocase else [av]
        elif op is sre.RANGE:
            low, high = av
            ranges.append((low, high))
            if nocase:
                if high > 0xFFFF:
                    raise _Untranslatable("a case-insensitive range beyond U+FFFF, which a RegExp without flags lacks")
                chars += [c for code in range(low, high + 1) for c in _cases(code) if not low <= c <= high]
        elif op is sre.CATEGORY:
            categories.append(_CATEGORIES[av])
        else:
            raise _Untranslatable(f"{str(op).lower()} in a character class, which has no JavaScript equivalent")
    return _class(chars, ranges, negate=negate, categories=tuple(categories))


def _class(chars: list[int], ranges: list[tuple[int, int]], negate: bool, categories: tuple[str, ...] = ()) -> str:
    """A character class of `chars` (runs of three or more written as ranges), `ranges` and category escapes."""
    spans = sorted(set(ranges) | set(_runs(sorted(set(chars)))))
    body = "".join(
        _char(low, in_class=True)
        if low == high
        else _char(low, in_class=True) + ("" if high == low + 1 else "-") + _char(high, in_class=True)
        for low, high in spans
    )
    return "[" + ("^" if negate else "") + body + "".join(categories) + "]"


def _runs(codes: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for code in codes:
        if runs and code == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], code)
        else:
            runs.append((code, code))
    return [span for low, high in runs for span in ([(low, high)] if high - low >= 2 else [(low, low), (high, high)])]


def _char(code: int, in_class: bool) -> str:
    """One character as RegExp source: escaped where it is syntax, \\xHH / \\uHHHH where it is not printable."""
    char = chr(code)
    if code > 0xFFFF:  # without the u flag a RegExp sees UTF-16 code units: the surrogate pair, as a group
        if in_class:
            raise _Untranslatable(
                f"the character U+{code:X} in a character class, which a RegExp without flags cannot hold"
            )
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        return f"(?:\\u{high:04x}\\u{low:04x})"
    if char in "{}":
        return f"\\x{code:02x}"
    if char in _ESCAPES:
        return _ESCAPES[char]
    if not char.isprintable() or char in "\u2028\u2029":
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    special = "\\]^-[" if in_class else "\\^$.|?*+()[]/"
    return "\\" + char if char in special else char
