"""`domain new`: write a working domain pack from the templates in `template/` (`{{name}}` and `{{Name}}` in file
paths and contents become the pack's name and its CamelCase form; `.tmpl` is dropped)."""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from config import InputError

TEMPLATE = Path(__file__).with_name("template")
PACK_NAME = re.compile(r"[a-z][a-z0-9_]*")


def camel(name: str) -> str:
    """`my_pack` -> `MyPack`."""
    return "".join(part.capitalize() for part in name.split("_"))


def new_pack(name: str, parent: Path) -> list[Path]:
    """Write the pack `name` into `parent / name`; the files written. InputError for a name that is not a
    lowercase Python identifier, or a target that exists."""
    if not PACK_NAME.fullmatch(name) or keyword.iskeyword(name):
        raise InputError(f"{name!r}: a pack name must be a lowercase Python identifier (letters, digits, '_')")
    target = parent / name
    if target.exists():
        raise InputError(f"{target}: already exists; choose another name or --dir")
    fill = {"{{name}}": name, "{{Name}}": camel(name)}
    written = []
    for source in sorted(TEMPLATE.rglob("*.tmpl")):
        relative = str(source.relative_to(TEMPLATE)).removesuffix(".tmpl")
        text = source.read_text(encoding="utf-8")
        for placeholder, value in fill.items():
            relative, text = relative.replace(placeholder, value), text.replace(placeholder, value)
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
