"""Parse a YAML file into a pydantic model; every problem is reported as `file:line: field: message`.

Line numbers come from the YAML node tree, so an SME sees where in *their* file the problem is.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from config.errors import FieldError, InputError

M = TypeVar("M", bound=BaseModel)


def load_yaml_model(path: str | Path, model: type[M]) -> M:
    """Read `path` and validate it as `model`; raise InputError listing every problem with its line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_yaml_model(text, model, source=str(path))


def parse_yaml_model(text: str, model: type[M], *, source: str) -> M:
    """Validate YAML `text` as `model`; `source` names the file in error lines."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line, message = _explain_syntax_error(exc, text)
        raise InputError(f"{source}:{line}: yaml: {message}") from None
    if root is None:
        raise InputError(f"{source}:1: (file): is empty")
    duplicates = list(_duplicate_keys(root, ()))
    if duplicates:
        raise InputError([f"{source}:{line}: {dotted_path(loc)}: duplicate key" for loc, line in duplicates])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [_explain(err, model) for err in exc.errors()]
        # a misspelt required key is one problem, not "missing" plus "unknown": keep the helpful line
        suggested = {loc[:-1] + (hint,) for loc, _, hint in problems if hint}
        lines = {
            (_line_for(root, loc), f"{dotted_path(loc) or '(file)'}: {message}")
            for loc, message, _ in problems
            if not (message == MISSING and loc in suggested)
        }
        raise InputError([f"{source}:{line}: {text}" for line, text in sorted(lines)]) from None


MISSING = "required key is missing"


def _explain(err: dict[str, Any], model: type[BaseModel]) -> tuple[tuple[Any, ...], str, str | None]:
    """(location, message, suggested key) for one pydantic error, in words an SME can act on."""
    loc = tuple(p for p in err["loc"] if not _is_union_tag(p))
    cause = err.get("ctx", {}).get("error")
    if isinstance(cause, FieldError):
        return loc + cause.sub, str(cause), None
    if err["type"] == "extra_forbidden":
        hint = _did_you_mean(loc, model)
        return loc, "unknown key" + (f" (did you mean '{hint}'?)" if hint else ""), hint
    if err["type"] == "missing":
        return loc, MISSING, None
    message = err["msg"].removeprefix("Value error, ")
    if "input" in err and not isinstance(err["input"], dict | list):
        message += f", got {_as_yaml(err['input'])}"
    return loc, message, None


def _as_yaml(value: Any) -> str:
    """A value as the user wrote it in YAML, not as Python prints it."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _odd_double_quotes(line: str) -> bool:
    """Whether a line (outside its comment) opens a double-quoted string it does not close."""
    content = line.replace('\\"', "")
    if content.lstrip().startswith("#"):
        return False
    return content.split(" #")[0].count('"') % 2 == 1


def _explain_syntax_error(exc: yaml.MarkedYAMLError, text: str) -> tuple[int, str]:
    """Where a YAML syntax error really is, and what it means, for the common mistakes."""
    context = exc.context or ""
    problem_line = exc.problem_mark.line + 1 if exc.problem_mark else 1
    context_line = exc.context_mark.line + 1 if exc.context_mark else problem_line
    last_line = max(1, len(text.splitlines()))
    unbalanced = next((n for n, line in enumerate(text.splitlines(), 1) if _odd_double_quotes(line)), None)
    if "flow sequence" in context or "flow mapping" in context:
        bracket = "[" if "sequence" in context else "{"
        return context_line, f"a '{bracket}' opened on this line is never closed"
    if "quoted scalar" in context:
        return context_line, "a quote opened on this line is never closed"
    if unbalanced is not None and unbalanced <= problem_line:
        return unbalanced, 'a double quote (") opened on this line is never closed'
    if (exc.problem or "").startswith("expected <block end>"):
        return min(problem_line, last_line), "bad indentation: this line does not line up with the keys around it"
    if (exc.problem or "").startswith("mapping values are not allowed"):
        return min(problem_line, last_line), _explain_mapping_value(text.splitlines(), problem_line)
    return min(problem_line, last_line), exc.problem or context


def _explain_mapping_value(lines: list[str], number: int) -> str:
    """'mapping values are not allowed': a line indented under a finished `key: value`, or a value with ': '."""

    def indent(line: str) -> int:
        return len(line) - len(line.lstrip())

    line = lines[number - 1] if number <= len(lines) else ""
    value = line.split(" #")[0].partition(": ")[2].rstrip()
    if ": " in value or value.endswith(":"):
        return "a value on this line contains ': ' or ends in ':'; put the value in quotes"
    previous = next((p for p in reversed(lines[: number - 1]) if p.strip() and not p.strip().startswith("#")), "")
    if indent(line) > indent(previous) and not previous.rstrip().endswith(":"):
        return "bad indentation: this line is indented further than the key above it"
    return "mapping values are not allowed here (is a value missing its quotes?)"


def _is_union_tag(part: Any) -> bool:
    # pydantic adds the type name of union members / function validators to the location
    return isinstance(part, str) and (part.startswith("function-") or part in {"str", "int", "float"})


def dotted_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def line_for_path(path: str | Path, loc: tuple[Any, ...]) -> int:
    """The line of `loc` in the YAML file at `path` (1 when it cannot be found)."""
    try:
        root = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return 1
    return _line_for(root, loc) if root is not None else 1


def _line_for(node: yaml.Node, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the deepest node along `loc` (a missing key points at its parent)."""
    line = node.start_mark.line + 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    line = key.start_mark.line + 1
                    child = value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def _duplicate_keys(node: yaml.Node, loc: tuple[Any, ...]):
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                yield loc + (key.value,), key.start_mark.line + 1
            seen.add(key.value)
            yield from _duplicate_keys(value, loc + (key.value,))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, loc + (i,))


def _did_you_mean(loc: tuple[Any, ...], model: type[BaseModel]) -> str | None:
    """Suggest a field name close to the unknown key, looking up the model that owns it."""
    owner: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = _keys(owner).get(part)
        if field is None:
            return None
        owner = _inner_model(field.annotation)
        if owner is None:
            return None
    keys = [key for key in _keys(owner) if key != loc[-1]]
    matches = difflib.get_close_matches(str(loc[-1]), keys, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _keys(model: Any) -> dict[str, Any]:
    """The keys a model accepts in YAML (aliases where set) and their fields."""
    return {field.alias or name: field for name, field in getattr(model, "model_fields", {}).items()}


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None
