"""Domain packs: installed ones are found by name (entry point group `goldsmith.domains`), others loaded from
a directory (`--domain path/to/pack`). `get_domain` is the one way in."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
import tomllib
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType

from config import InputError
from simulation.domains.base import Case, Domain, DomainCard, Finding, World

GROUP = "goldsmith.domains"
# what pyproject.toml registers under GROUP; used as such only when Goldsmith runs from a checkout that was never
# installed (no distribution metadata, so no entry points at all)
FALLBACK = {"kyc": "simulation.domains.kyc:KycDomain", "crypto": "simulation.domains.crypto:CryptoDomain"}


@dataclass(frozen=True)
class PackSource:
    """Where a domain pack comes from: `module:Class`, and how it was found (for `domain list`)."""

    name: str
    target: str
    origin: str


_from_paths: dict[str, tuple[type[Domain], PackSource]] = {}  # packs loaded from a directory in this process


def installed() -> dict[str, PackSource]:
    """The installed packs by name: the `goldsmith.domains` entry points (the first of a name wins), or the
    bundled two when Goldsmith's own distribution metadata is absent."""
    packs: dict[str, PackSource] = {}
    for entry in metadata.entry_points(group=GROUP):
        where = f"entry point {entry.dist.name} {entry.dist.version}" if entry.dist else "entry point"
        packs.setdefault(entry.name, PackSource(entry.name, entry.value, where))
    try:
        metadata.distribution("goldsmith")
    except metadata.PackageNotFoundError:
        for name, target in FALLBACK.items():
            packs.setdefault(name, PackSource(name, target, "bundled (goldsmith is not installed)"))
    return packs


def known() -> dict[str, PackSource]:
    """Every pack findable by name in this process: the installed ones, and those loaded from a directory."""
    return {**installed(), **{name: source for name, (_, source) in _from_paths.items()}}


class _Names(Mapping[str, PackSource]):
    """A live view of `known()`: `name in DOMAINS`, `sorted(DOMAINS)`."""

    def __getitem__(self, name: str) -> PackSource:
        return known()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(known()))

    def __len__(self) -> int:
        return len(known())


DOMAINS: Mapping[str, PackSource] = _Names()


def get_domain(spec: str, *, paths: bool = False) -> Domain:
    """The domain pack `spec` names: an installed pack's name, or a pack this process loaded from a directory.
    With `paths` (a `--domain` typed on the command line, never a value read from a dataset, plan or rubric), also a
    pack directory: a path with a `/` or starting with `.`, or else an existing directory. A name stored in the
    output location can so never make Goldsmith import code from a path it names. InputError for an unknown name
    or a pack that does not load."""
    if "/" in spec or spec.startswith("."):
        if not paths:
            raise InputError(f"domain {spec!r}: a domain name, not a path (a pack directory is given as --domain PATH)")
        return load_path(Path(spec))[0]()
    if spec in _from_paths:
        return _from_paths[spec][0]()
    packs = installed()
    if spec in packs:
        return _domain_class(packs[spec].target, spec)()
    if paths and Path(spec).is_dir():
        return load_path(Path(spec))[0]()
    raise InputError(
        f"unknown domain {spec!r}; installed packs: {', '.join(sorted(packs)) or 'none'} (a pack given as "
        "--domain PATH must be installed, pip install -e PATH, to be found by name later)"
    )


def load_path(path: Path) -> tuple[type[Domain], PackSource]:
    """Import the pack in directory `path` without installing it, and make its name findable in this process."""
    path = path.resolve()
    if not path.is_dir():
        raise InputError(
            f"{path}: not a directory (a domain pack is a package directory or a project with pyproject.toml)"
        )
    pyproject = path / "pyproject.toml"
    if pyproject.is_file():
        target = _entry_point_of(pyproject)
        package = path / target.partition(":")[0].split(".")[0]
        if not (package / "__init__.py").is_file() and (path / "src" / package.name / "__init__.py").is_file():
            package = path / "src" / package.name
        _import_package(package)
        cls = _domain_class(target, str(pyproject))
    elif (path / "__init__.py").is_file():
        cls = _single_domain_class(_import_package(path), path / "__init__.py")
    else:
        raise InputError(f"{path}: not a domain pack: no __init__.py and no pyproject.toml")
    source = PackSource(cls.name, f"{cls.__module__}:{cls.__qualname__}", f"directory {path}")
    _from_paths[cls.name] = (cls, source)
    return cls, source


def load_pack_of(file: Path) -> None:
    """Load the pack `file` sits in, so its name is known (how a pack's own rubric finds its domain before the
    pack is installed): the nearest project above it whose pyproject.toml declares one `goldsmith.domains` entry
    point, else the top package directory holding it. Nothing when it sits in neither."""
    folder = file.resolve().parent
    for above in [folder, *folder.parents]:
        pyproject = above / "pyproject.toml"
        if pyproject.is_file():
            try:
                entries = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["entry-points"][GROUP]
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError):
                return
            if len(entries) == 1:
                load_path(above)
            return
    holder = next((above for above in [folder, *folder.parents] if (above / "__init__.py").is_file()), None)
    if holder is not None:
        while (holder.parent / "__init__.py").is_file():
            holder = holder.parent
        load_path(holder)


def _entry_point_of(pyproject: Path) -> str:
    """The `module:Class` of the one `goldsmith.domains` entry point a project declares."""
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{pyproject}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"at line (\d+)", str(exc))
        raise InputError(f"{pyproject}:{line.group(1) if line else 1}: not valid TOML: {exc}") from None
    entries = data.get("project", {}).get("entry-points", {}).get(GROUP, {})
    if len(entries) != 1 or not all(isinstance(v, str) and ":" in v for v in entries.values()):
        raise InputError(
            f'{pyproject}: needs exactly one entry point under [project.entry-points."{GROUP}"], '
            'name = "package.module:DomainClass"'
        )
    return next(iter(entries.values()))


def _import_package(directory: Path) -> ModuleType:
    """Import the package in `directory` under its directory name (its relative and absolute imports work)."""
    name = directory.name
    init = directory / "__init__.py"
    if not name.isidentifier() or not init.is_file():
        raise InputError(f"{directory}: not a Python package (needs an identifier name and an __init__.py)")
    loaded = sys.modules.get(name)
    if loaded is not None:
        if Path(getattr(loaded, "__file__", "") or "").resolve() == init:
            return loaded
        raise InputError(f"{directory}: a different module named {name!r} is already imported ({loaded.__file__})")
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(directory)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        for loaded_name in [n for n in sys.modules if n == name or n.startswith(name + ".")]:
            del sys.modules[loaded_name]
        raise InputError(_import_problem(exc, str(init), directory)) from None
    return module


def _import_problem(exc: Exception, where: str, root: Path | None = None) -> str:
    """`file:line: cannot import the pack: error`, at the syntax error or the deepest frame of the code that
    raised it (in the pack's directory `root` when one is), or `where` when no frame is the pack's."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}: cannot import the pack: {exc.msg}"
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<") and f.filename != __file__
    ]
    inside = [f for f in frames if root is not None and Path(f.filename).resolve().is_relative_to(root)]
    if inside or frames:
        last = (inside or frames)[-1]
        where = f"{last.filename}:{last.lineno}"
    return f"{where}: cannot import the pack: {type(exc).__name__}: {exc}"


def _domain_class(target: str, where: str) -> type[Domain]:
    """The Domain subclass `module:Class` names."""
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise InputError(_import_problem(exc, where)) from None
    cls = getattr(module, attribute, None)
    if not (inspect.isclass(cls) and issubclass(cls, Domain)):
        raise InputError(f"{where}: {target} is not a Domain subclass")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(cls.__abstractmethods__))
        at = f"{inspect.getsourcefile(cls)}:{inspect.getsourcelines(cls)[1]}"
        raise InputError(f"{at}: {cls.__name__} does not implement {missing}")
    return cls


def _single_domain_class(module: ModuleType, init: Path) -> type[Domain]:
    """The one Domain subclass the package's top module defines (or imports from its own modules)."""
    found = {
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, Domain)
        and (value.__module__ == module.__name__ or value.__module__.startswith(module.__name__ + "."))
    }
    if len(found) != 1:
        what = (
            "no Domain subclass" if not found else f"several Domain subclasses ({', '.join(c.__name__ for c in found)})"
        )
        raise InputError(f"{init}: {what}; a pack's __init__.py defines exactly one")
    return _domain_class(f"{module.__name__}:{found.pop().__name__}", str(init))


__all__ = ["Case", "Domain", "DomainCard", "Finding", "World", "get_domain", "DOMAINS", "installed", "load_pack_of"]
