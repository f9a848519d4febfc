"""Finding domain packs: installed ones by name through the `goldsmith.domains` entry points, others from a
directory, and one clear line when a name is unknown or a pack does not load."""

from importlib import metadata
from pathlib import Path

import pytest

import simulation.domains as domains
from config import InputError
from rubrics.model import BUNDLED
from simulation.domains import get_domain, installed
from simulation.domains.crypto import CryptoDomain
from simulation.domains.kyc import KycDomain


def test_the_bundled_domains_are_installed_through_entry_points():
    found = installed()
    assert {"kyc", "crypto"} <= set(found)
    assert found["kyc"].target == "simulation.domains.kyc:KycDomain"
    assert found["kyc"].origin.startswith("entry point goldsmith ")
    assert isinstance(get_domain("kyc"), KycDomain) and isinstance(get_domain("crypto"), CryptoDomain)
    assert get_domain("kyc").rubric_path == BUNDLED / "kyc.yaml"
    assert get_domain("crypto").rubric_path == BUNDLED / "crypto.yaml"


def test_a_checkout_never_installed_falls_back_to_the_bundled_domains(monkeypatch):
    def absent(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "entry_points", lambda group: [])
    monkeypatch.setattr(metadata, "distribution", absent)
    found = installed()
    assert sorted(found) == ["crypto", "kyc"]
    assert found["kyc"].origin == "bundled (goldsmith is not installed)"
    assert isinstance(get_domain("kyc"), KycDomain)


def test_an_unknown_name_lists_the_installed_packs_and_says_how_to_install_one():
    with pytest.raises(InputError) as raised:
        get_domain("airlines")
    (line,) = raised.value.problems
    assert "unknown domain 'airlines'" in line and "crypto, kyc" in line and "pip install -e PATH" in line


def test_a_project_directory_loads_from_its_entry_point_and_its_name_is_known_after(pack):
    root = pack("shop")
    domain = get_domain(str(root), paths=True)
    assert type(domain).__name__ == "ShopDomain" and domain.name == "shop"
    assert domain.rubric_path == root / "shop" / "rubric" / "shop.yaml"
    assert type(get_domain("shop")) is type(domain)
    assert "shop" in domains.DOMAINS and domains.DOMAINS["shop"].origin == f"directory {root.resolve()}"


def test_a_package_directory_loads_as_it_is(pack):
    root = pack("parcels")
    domain = get_domain(str(root / "parcels"), paths=True)
    assert domain.name == "parcels"
    world = domain.build_world(1)  # its relative imports work
    assert domain.case_keys(world)


@pytest.mark.parametrize("spec", ["./depot", "depot"])
def test_a_relative_path_or_an_existing_directory_is_a_pack(pack, monkeypatch, spec):
    root = pack("depot")
    monkeypatch.chdir(root.parent)
    assert get_domain(spec, paths=True).name == "depot"


def test_an_installed_name_wins_over_a_directory_of_that_name(tmp_path, monkeypatch):
    (tmp_path / "kyc").mkdir()
    monkeypatch.chdir(tmp_path)
    assert isinstance(get_domain("kyc"), KycDomain)


def problem(spec: str) -> str:
    with pytest.raises(InputError) as raised:
        get_domain(spec, paths=True)
    (line,) = raised.value.problems
    return line


def test_a_directory_that_is_no_pack_is_one_line(tmp_path):
    assert problem(str(tmp_path)) == f"{tmp_path}: not a domain pack: no __init__.py and no pyproject.toml"
    assert "not a directory" in problem(str(tmp_path / "missing"))


def test_a_project_without_the_entry_point_is_one_line(pack):
    root = pack("kiosk")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('kiosk = "kiosk:KioskDomain"\n', ""))
    assert problem(str(root)).startswith(f"{pyproject.resolve()}: needs exactly one entry point")


def test_a_pack_that_does_not_import_names_the_file_and_line(pack):
    root = pack("stall")
    world = root / "stall" / "world.py"
    world.write_text(world.read_text().replace("ORDERS = 60", "ORDERS = 60 +"))
    line = problem(str(root))
    assert line.startswith(f"{world.resolve()}:") and "cannot import the pack" in line


def test_an_entry_point_to_no_domain_is_one_line(pack):
    root = pack("booth")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("booth:BoothDomain", "booth:BoothFinding"))
    assert problem(str(root)) == f"{pyproject.resolve()}: booth:BoothFinding is not a Domain subclass"


def test_domain_list_shows_each_pack(cli):
    result = cli("domain", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    kyc = next(line for line in lines if line.startswith("kyc "))
    assert "categories, entry point goldsmith" in kyc and kyc.endswith(str(Path(BUNDLED / "kyc.yaml")))
    assert any(line.startswith("crypto ") for line in lines)


def test_a_broken_pyproject_names_its_line(pack):
    root = pack("cart")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0.1.0"', 'version = "0.1.0'))
    line = problem(str(root))
    assert line.startswith(f"{pyproject.resolve()}:7: not valid TOML: ")


def test_a_path_from_stored_data_is_never_imported(pack, tmp_path, monkeypatch):
    """Only a --domain typed on the command line may name a directory: a name read from a dataset, a plan or a
    rubric (`paths` off, the default) that is a path, or a bare name that happens to be a directory, is refused
    before anything is imported."""
    root = pack("trap")
    marker = tmp_path / "imported"
    init = root / "trap" / "__init__.py"
    init.write_text(f"open({str(marker)!r}, 'w').close()\n" + init.read_text())
    monkeypatch.chdir(root.parent)
    for spec in (str(root), "./trap", "trap"):
        with pytest.raises(InputError) as raised:
            get_domain(spec)
        assert "a domain name, not a path" in raised.value.problems[0] or "unknown domain" in raised.value.problems[0]
    assert not marker.exists()


def test_a_resumed_run_never_loads_a_pack_its_plan_names(cli, pack, tmp_path):
    """A plan is data in the output location: one rewritten to name a pack directory is refused, nothing imported."""
    import json

    root = pack("snare")
    marker = tmp_path / "imported"
    init = root / "snare" / "__init__.py"
    init.write_text(f"open({str(marker)!r}, 'w').close()\n" + init.read_text())
    assert cli("generate", "--count", "1", "--seed", "1", "--run-id", "r1").exit_code == 0
    plan_file = tmp_path / "output" / "kyc" / "runs" / "r1" / "plan.json"
    plan = json.loads(plan_file.read_text())
    plan["data"]["domain"] = str(root)
    plan_file.write_text(json.dumps(plan))
    result = cli("generate", "--count", "1", "--seed", "1", "--run-id", "r1")
    assert result.exit_code == 2 and "a domain name, not a path" in result.output
    assert not marker.exists()


def test_a_run_from_a_pack_directory_records_the_pack_by_name_and_resumes(cli, pack, tmp_path):
    import json

    root = pack("stand")
    assert cli("generate", "--domain", str(root), "--count", "2", "--seed", "1", "--run-id", "s1").exit_code == 0
    plan = json.loads((tmp_path / "output" / "stand" / "runs" / "s1" / "plan.json").read_text())
    assert plan["data"]["domain"] == "stand"
    again = cli("generate", "--domain", str(root), "--count", "2", "--seed", "1", "--run-id", "s1")
    assert again.exit_code == 0, again.output
