"""Parse a YAML file into a pydantic model; every problem is reported as `file:line: field: message`.

Line numbers come from the YAML node tree, so an SME sees where in *their* file the problem is.
Input is bounded so that no file can hang or crash the loader: at most MAX_BYTES of UTF-8 text, nested
at most MAX_DEPTH levels, at most MAX_VALUES values once every alias is expanded (an "alias bomb").
"""

from __future__ import annotations

import codecs
import difflib
import math
import sys
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from config.errors import FieldError, InputError

M = TypeVar("M", bound=BaseModel)

MAX_BYTES = 128 * 1024  # the bundled files are under 7 KB; PyYAML reads 50-200 KB/s
MAX_DEPTH = 50
MAX_VALUES = 100_000
# PyYAML would read these; refused so that every input file is UTF-8 (UTF-32 first: its LE mark starts like UTF-16's)
_OTHER_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def load_yaml_model(path: str | Path, model: type[M]) -> M:
    """Read `path` and validate it as `model`; raise InputError listing every problem with its line."""
    path = Path(path)
    return parse_yaml_model(read_yaml_text(path), model, source=str(path))


def read_yaml_text(path: Path) -> str:
    """The text of a YAML file: at most MAX_BYTES, UTF-8 (a UTF-8 byte order mark is fine)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise InputError(f"{path}: too large (more than {MAX_BYTES // 1024} KB); a YAML input file must be smaller")
    encoding = next((name for bom, name in _OTHER_BOMS if data.startswith(bom)), None)
    if encoding:
        raise InputError(f"{path}:1: not UTF-8 text ({encoding}); save it as UTF-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8") from None


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing (as it composes, before anything is expanded) nesting deeper than
    MAX_DEPTH, a document of more than MAX_VALUES values once its aliases are expanded, and an alias
    to the collection it is inside."""

    def __init__(self, text: str, source: str):
        super().__init__(text)
        self.source = source
        self.depth = 0
        self.values = 0  # values in the document so far, every alias expanded
        self.sizes: dict[int, int] = {}  # id(anchored node) → its values, expanded

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            if id(node) not in self.sizes:
                raise InputError(f"{self.source}:{line}: yaml: alias *{event.anchor} is inside the value it names")
            self.values += self.sizes[id(node)]
            if self.values > MAX_VALUES:
                raise InputError(
                    f"{self.source}:{line}: too many YAML aliases (they expand to more than {MAX_VALUES:,} values)"
                )
            return node
        nested = isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent)
        self.depth += nested
        if self.depth > MAX_DEPTH:
            raise InputError(f"{self.source}:{line}: too deeply nested (more than {MAX_DEPTH} levels)")
        before = self.values
        self.values += 1
        if self.values > MAX_VALUES:
            raise InputError(f"{self.source}:{line}: too many values (more than {MAX_VALUES:,})")
        node = super().compose_node(parent, index)
        self.depth -= nested
        self.sizes[id(node)] = self.values - before
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except ValueError as exc:  # a 5,000-digit integer, a date like 2024-13-45
            kind = node.tag.rpartition(":")[2]
            problem = f"not a valid {kind}: {exc}"
            if kind == "int":
                problem = f"a number with more than {sys.get_int_max_str_digits():,} digits"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None


def _load(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line numbers) and the data of one YAML document."""
    loader = None
    try:
        loader = _BoundedLoader(text, source)
        root = loader.get_single_node()
        return root, None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        line, message = _explain_syntax_error(exc, text)
        raise InputError(f"{source}:{line}: yaml: {message}") from None
    except yaml.reader.ReaderError as exc:  # a control character, e.g. NUL in UTF-16 text without a byte order mark
        line = text[: exc.position].count("\n") + 1
        hint = "; is the file UTF-16? save it as UTF-8" if exc.character == 0 else ""
        raise InputError(f"{source}:{line}: yaml: unacceptable character #x{exc.character:04x}{hint}") from None
    finally:
        if loader is not None:
            loader.dispose()


def parse_yaml_model(text: str, model: type[M], *, source: str) -> M:
    """Validate YAML `text` as `model`; `source` names the file in error lines."""
    root, data = _load(text, source)
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
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
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
        root, _ = _load(read_yaml_text(Path(path)), str(path))
    except InputError:
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
        repeated: set[str] = set()  # each repeated key reported once, at its first repeat
        for key, value in node.value:
            if key.value in seen and key.value not in repeated:
                repeated.add(key.value)
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
