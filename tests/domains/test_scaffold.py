"""`domain new`: the pack it writes works with no edits (generate, domain check, rubric check, its own tests and
lint), and a bad name or an existing target is one line, exit 2."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # pip installs and a pytest run inside the new pack

ROOT = Path(__file__).resolve().parents[2]


def test_a_new_pack_generates_and_passes_its_checks_with_no_edits(cli, tmp_path):
    result = cli("domain", "new", "demo", "--dir", str(tmp_path / "packs"))
    assert result.exit_code == 0, result.output
    root = tmp_path / "packs" / "demo"
    assert result.output.startswith(f"wrote 13 files to {root} ")
    for name in ("pyproject.toml", "README.md", "demo/persona.yaml", "demo/rubric/demo.yaml", "tests/test_demo.py"):
        assert (root / name).is_file(), name

    generated = cli("generate", "--domain", str(root), "--count", "20", "--seed", "1")
    assert generated.exit_code == 0, generated.output
    assert "20 episodes of demo into" in generated.output and "accepted 20" in generated.output

    checked = cli("domain", "check", str(root))
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith(f"demo 1 (directory {root.resolve()}): keeps the contract")

    rubric = cli("rubric", "check", str(root / "demo" / "rubric" / "demo.yaml"))
    assert rubric.exit_code == 0, rubric.output
    assert "4 known answers, 4 as expected, 0 surprise(s)" in rubric.output


def test_a_new_pack_passes_its_own_tests_and_lint(tmp_path):
    from simulation.domains.scaffold import new_pack

    new_pack("kiosk", tmp_path)
    root = tmp_path / "kiosk"
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=root,
                           capture_output=True, text=True)  # fmt: skip
    assert tests.returncode == 0, tests.stdout + tests.stderr
    ruff = shutil.which("ruff")
    assert ruff is not None
    for args in (["check", "."], ["format", "--check", "."]):
        linted = subprocess.run([ruff, *args], cwd=root, capture_output=True, text=True)
        assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_default_dir_is_the_current_one(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("domain", "new", "shop").exit_code == 0
    assert (tmp_path / "shop" / "shop" / "__init__.py").is_file()


@pytest.mark.parametrize("name", ["1shop", "my-shop", "Shop", "class", "shop pack"])
def test_a_name_that_is_no_lowercase_identifier_is_refused(cli, tmp_path, name):
    result = cli("domain", "new", name, "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert (
        result.stderr.strip() == f"{name!r}: a pack name must be a lowercase Python identifier (letters, digits, '_')"
    )
    assert list(tmp_path.iterdir()) == []


def test_an_existing_target_is_refused(cli, tmp_path):
    (tmp_path / "shop").mkdir()
    result = cli("domain", "new", "shop", "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"{tmp_path / 'shop'}: already exists; choose another name or --dir"


def test_an_installed_pack_is_found_by_name(tmp_path):
    """Installed (here into a --target folder on the path, not to touch the shared environment), the pack is found
    through its entry point: `domain list` names it and `generate --domain NAME` runs it."""
    from simulation.domains.scaffold import new_pack

    new_pack("kiosk", tmp_path / "packs")
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(site),
           str(tmp_path / "packs" / "kiosk")]  # fmt: skip
    installed = subprocess.run(pip, capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    env = {**os.environ, "PYTHONPATH": str(site)}
    main = [sys.executable, str(ROOT / "main.py")]
    listed = subprocess.run([*main, "domain", "list"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0 and "kiosk 1:" in listed.stdout and "entry point" in listed.stdout, listed.stdout
    out = tmp_path / "out"
    run = [*main, "generate", "--domain", "kiosk", "--count", "5", "--seed", "2", "--output-dir", str(out)]
    generated = subprocess.run(run, env=env, capture_output=True, text=True)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "accepted 5" in generated.stdout
