"""Parse a YAML file into a pydantic model; every problem is reported as `file:line: field: message`.

Line numbers come from the YAML node tree, so an SME sees where in *their* file the problem is.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from config.errors import InputError

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
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise InputError(f"{source}:{line}: yaml: {exc.problem or exc.context}") from None
    if root is None:
        raise InputError(f"{source}:1: (file): is empty")
    duplicates = list(_duplicate_keys(root, ()))
    if duplicates:
        raise InputError([f"{source}:{line}: {dotted_path(loc)}: duplicate key" for loc, line in duplicates])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [_format_error(err, root, model, source) for err in exc.errors()]
        raise InputError(sorted(set(problems), key=_line_of)) from None


def _line_of(problem: str) -> tuple[int, str]:
    parts = problem.split(":", 2)
    return (int(parts[1]) if parts[1].isdigit() else 0, problem)


def _format_error(err: dict[str, Any], root: yaml.Node, model: type[BaseModel], source: str) -> str:
    loc = tuple(p for p in err["loc"] if not _is_union_tag(p))
    line = _line_for(root, loc)
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown key"
        hint = _did_you_mean(loc, model)
        if hint:
            message += f" (did you mean '{hint}'?)"
    elif err["type"] == "missing":
        message = "required key is missing"
    elif "input" in err and not isinstance(err["input"], dict | list):
        message += f", got {err['input']!r}"
    return f"{source}:{line}: {dotted_path(loc) or '(file)'}: {message}"


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
        field = getattr(owner, "model_fields", {}).get(part)
        if field is None:
            return None
        owner = _inner_model(field.annotation)
        if owner is None:
            return None
    fields = list(getattr(owner, "model_fields", {}))
    matches = difflib.get_close_matches(str(loc[-1]), fields, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None
