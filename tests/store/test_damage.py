"""Open = check: a damaged dataset is never built upon or exported, `verify` names the damage, and `repair`
brings the dataset back to its last good version without deleting anything."""

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from config import InputError
from main import cli as app
from store.dataset import Dataset
from store.history import plan_repair, repair, verify
from tests.conftest import ROOT
from tests.factories import make_example


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory) -> Path:
    """An output dir holding dataset kyc with two good generated versions (made once, copied per test)."""
    out = tmp_path_factory.mktemp("good") / "output"
    for seed in ("1", "2"):
        assert invoke("generate", "--count", "3", "--seed", seed, "--output-dir", str(out)).exit_code == 0
    return out


@pytest.fixture
def out(two_versions, tmp_path) -> Path:
    copy = tmp_path / "output"
    shutil.copytree(two_versions, copy)
    return copy


def batch_of(out: Path, version: int) -> Path:
    """The batch file version `version` added (its last)."""
    manifest = json.loads((out / "kyc" / "versions" / f"v{version:04d}.json").read_text())
    own = manifest["batch"] if "batch" in manifest else manifest["batches"][-1]  # schema 2, else schema 1
    return out / "kyc" / "batches" / own["file"]


def tear(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-40])  # a write cut short in the last line


def append_garbage(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"\x00\x00garbage\n")


def edit_verdict(path: Path) -> None:
    """Change the first record's verdict: still valid JSON and a valid record."""
    first = path.read_bytes().splitlines()[0]
    verdict = json.loads(first)["facts"]["verdict"]
    other = "suspicious" if verdict != "suspicious" else "not_suspicious"
    edited = first.replace(f'"verdict":"{verdict}"'.encode(), f'"verdict":"{other}"'.encode(), 1)
    assert edited != first
    path.write_bytes(path.read_bytes().replace(first, edited, 1))


def delete(path: Path) -> None:
    path.unlink()  # its .index file stays: dedup alone would not notice


def truncate_manifest(out: Path) -> None:
    path = out / "kyc" / "versions" / "v0002.json"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def empty_manifest(out: Path) -> None:
    (out / "kyc" / "versions" / "v0002.json").write_bytes(b"")


def tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


BATCH_DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "torn last line": (tear, "does not match its sha256"),
    "appended garbage": (append_garbage, "does not match its sha256"),
    "edited record": (edit_verdict, "does not match its sha256"),
    "deleted batch file": (delete, "is missing"),
}
MANIFEST_DAMAGE = {"truncated manifest": truncate_manifest, "empty manifest": empty_manifest}


def damage(out: Path, kind: str) -> tuple[str, str]:
    """Damage kyc@v2 in the way `kind` names; returns (the damaged file, what verify says about it)."""
    if kind in BATCH_DAMAGE:
        act, said = BATCH_DAMAGE[kind]
        batch = batch_of(out, 2)
        act(batch)
        return str(batch), f"kyc@v2: batch {batch.name} {said}"
    MANIFEST_DAMAGE[kind](out)
    manifest = out / "kyc" / "versions" / "v0002.json"
    return str(manifest), f"kyc@v2: the manifest {manifest} is not a valid manifest"


def assert_refused(result, file: str) -> None:
    """Exit 2 with one line on stderr that names the damaged file and the way out."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith(f"{file}: ") and "`python main.py dataset repair kyc --output-dir" in lines[0]


@pytest.mark.parametrize("kind", [*BATCH_DAMAGE, *MANIFEST_DAMAGE])
def test_damage_is_refused_named_and_repaired(out, tmp_path, kind):
    file, said = damage(out, kind)
    before = tree(out)

    generated = invoke("generate", "--count", "3", "--seed", "3", "--output-dir", str(out))
    assert_refused(generated, file)
    exported = invoke(
        "dataset", "export", "kyc", "--format", "jsonl", "--out", str(tmp_path / "kyc.jsonl"), "--output-dir", str(out)
    )
    assert_refused(exported, file)
    assert tree(out) == before and not (tmp_path / "kyc.jsonl").exists()  # nothing written
    if kind in MANIFEST_DAMAGE:  # one damaged dataset does not hide the others
        listed = invoke("dataset", "list", "--output-dir", str(out))
        assert listed.exit_code == 0 and listed.stdout.startswith(f"kyc: damaged: {file}: not a valid manifest")

    verified = invoke("dataset", "verify", "kyc", "--output-dir", str(out))
    assert verified.exit_code == 1 and said in verified.stderr, verified.output

    plan = invoke("dataset", "repair", "kyc", "--output-dir", str(out))
    assert plan.exit_code == 1, plan.output
    assert f"set aside kyc@v2 into {out}/kyc/damaged/" in plan.stdout
    assert "kyc@v1 (3 records) becomes the latest version" in plan.stdout
    assert plan.stderr.startswith("nothing changed; to do it: python main.py dataset repair kyc --output-dir")
    assert tree(out) == before

    repaired = invoke("dataset", "repair", "kyc", "--yes", "--output-dir", str(out))
    assert repaired.exit_code == 0 and "repaired: kyc now has 1 versions, all verified" in repaired.stdout
    (aside,) = (out / "kyc" / "damaged").iterdir()
    assert (aside / "v0002.json").read_bytes() == before["kyc/versions/v0002.json"]  # kept, not deleted
    assert said in (aside / "problems.txt").read_text()
    assert invoke("dataset", "verify", "kyc", "--output-dir", str(out)).exit_code == 0

    assert invoke("generate", "--count", "3", "--seed", "3", "--output-dir", str(out)).exit_code == 0
    again = invoke("dataset", "verify", "kyc", "--output-dir", str(out))
    assert again.exit_code == 0 and again.stdout.startswith("kyc: 2 versions verified")


def test_damage_in_v1_leaves_no_good_version(out):
    edit_verdict(batch_of(out, 1))  # every version includes v1's batch
    plan = invoke("dataset", "repair", "kyc", "--output-dir", str(out))
    assert plan.exit_code == 1
    assert f"set aside kyc@v1, kyc@v2 into {out}/kyc/damaged/" in plan.stdout
    assert "kyc has no good version (v1 is damaged): the next generate starts it again at v1" in plan.stdout
    assert invoke("dataset", "repair", "kyc", "--yes", "--output-dir", str(out)).exit_code == 0
    assert not list((out / "kyc" / "versions").iterdir())
    assert sorted(p.name for p in next((out / "kyc" / "damaged").iterdir()).iterdir()) == [
        "problems.txt",
        "v0001.json",
        "v0002.json",
    ]
    assert invoke("generate", "--count", "3", "--seed", "3", "--output-dir", str(out)).exit_code == 0
    verified = invoke("dataset", "verify", "kyc", "--output-dir", str(out))
    assert verified.exit_code == 0 and verified.stdout.startswith("kyc: 1 versions verified")


def test_repair_of_a_sound_dataset_changes_nothing(out):
    before = tree(out)
    result = invoke("dataset", "repair", "kyc", "--output-dir", str(out))
    assert result.exit_code == 0 and result.stdout == "kyc: 2 versions verified, nothing to repair\n"
    assert tree(out) == before


def test_a_damaged_binding_is_one_line(out):
    (out / "kyc" / "dataset.json").write_text("{")
    result = invoke("generate", "--count", "3", "--seed", "3", "--output-dir", str(out))
    assert result.exit_code == 2 and result.stderr.startswith(f"{out}/kyc/dataset.json: not a valid dataset binding")


def test_a_truncated_manifest_is_one_line_from_the_real_command(out, tmp_path):
    truncate_manifest(out)
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "dataset", "export", "kyc", "--out", str(tmp_path / "x.jsonl")]
        + ["--output-dir", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"{out}/kyc/versions/v0002.json: not a valid manifest (empty, truncated or")


def lineage() -> dict:
    return {"run_id": "r", "rubric": {}, "models": {}, "generation": {}}


def test_append_refuses_a_damaged_parent_even_with_its_index_intact(tmp_path):
    ds = Dataset(tmp_path, "d")
    ds.bind(domain="kyc", domain_version="1", world_seed=None, default_world_seed=1)
    ds.append([make_example("a")], **lineage())
    ds.append([make_example("b")], **lineage())
    tear(tmp_path / "d" / "batches" / ds.manifest(2).own_batch.file)
    fresh = Dataset(tmp_path, "d")  # what a new command sees
    with pytest.raises(InputError, match=r"does not match its sha256 in d@v2 \(changed or torn\)"):
        fresh.append([make_example("c")], **lineage())
    assert fresh.versions() == [1, 2]


def test_a_batch_written_again_replaces_its_damaged_copy(tmp_path):
    """Content-addressed: the same records make the same batch file, so a damaged copy left behind by a
    repair is rewritten, not trusted."""
    ds = Dataset(tmp_path, "d")
    ds.bind(domain="kyc", domain_version="1", world_seed=None, default_world_seed=1)
    ds.append([make_example("a")], **lineage())
    manifest = ds.append([make_example("b")], **lineage())[0]
    tear(tmp_path / "d" / "batches" / manifest.own_batch.file)
    again = Dataset(tmp_path, "d")
    repair(again, plan_repair(again))
    again = Dataset(tmp_path, "d")
    assert again.append([make_example("b")], **lineage())[0].own_batch == manifest.own_batch
    assert verify(Dataset(tmp_path, "d")) == (2, [])


def test_repair_on_s3_copies_then_deletes(s3):
    ds = Dataset("s3://goldens/team", "d")
    ds.bind(domain="kyc", domain_version="1", world_seed=None, default_world_seed=1)
    ds.append([make_example("a")], **lineage())
    ds.append([make_example("b")], **lineage())
    s3.put_object(Bucket="goldens", Key="team/d/versions/v0002.json", Body=b"{")
    with pytest.raises(InputError, match="v0002.json: not a valid manifest"):
        Dataset("s3://goldens/team", "d").latest()
    plan = plan_repair(ds)
    assert plan.set_aside == [2] and plan.keep.version == 1
    repair(ds, plan)
    assert Dataset("s3://goldens/team", "d").versions() == [1]
    kept = s3.get_object(Bucket="goldens", Key=f"team/{plan.folder}/v0002.json")["Body"].read()
    assert kept == b"{"
    assert verify(Dataset("s3://goldens/team", "d")) == (1, [])


def test_repair_rebuilds_an_index_that_disagrees_with_its_sound_batch(out):
    index = batch_of(out, 1).with_suffix(".index")
    good = index.read_bytes()
    index.write_bytes(good.replace(b'"', b"'", 2))
    plan = invoke("dataset", "repair", "kyc", "--output-dir", str(out))
    assert plan.exit_code == 1 and f"rebuild the index of batch {batch_of(out, 1).name} from the batch" in plan.stdout
    assert "set aside" not in plan.stdout  # derived data: no version is lost for it
    assert invoke("dataset", "repair", "kyc", "--yes", "--output-dir", str(out)).exit_code == 0
    assert index.read_bytes() == good and not (out / "kyc" / "damaged").exists()


def stale_index(out: Path) -> None:
    index = batch_of(out, 1).with_suffix(".index")
    index.write_bytes(index.read_bytes().replace(b'"', b"'", 2))


@pytest.fixture
def submitted(monkeypatch) -> list:
    """The batches handed to worker processes, with the pool used from the first record on."""
    from concurrent.futures import ProcessPoolExecutor

    from store import history

    handed: list = []
    submit = ProcessPoolExecutor.submit
    monkeypatch.setattr(history, "PARALLEL_FROM", 0)
    monkeypatch.setattr(ProcessPoolExecutor, "submit", lambda pool, *a: handed.append(a[1]) or submit(pool, *a))
    return handed


@pytest.mark.parametrize("kind", ["sound", "stale index", *BATCH_DAMAGE, *MANIFEST_DAMAGE])
def test_batches_checked_in_worker_processes_find_what_one_process_finds(out, kind, submitted):
    """`verify --workers N` hashes and validates the batches in N processes (from PARALLEL_FROM records on; here
    from none): the same problems, in the same order, the same damaged versions and stale indexes."""
    from store import history

    if kind == "stale index":
        stale_index(out)
    elif kind != "sound":
        damage(out, kind)
    alone = history.check(Dataset(out, "kyc"))
    assert submitted == []  # one process
    pooled = history.check(Dataset(out, "kyc"), workers=2)
    assert (pooled.problems, pooled.damaged, pooled.stale_indexes) == (alone.problems, alone.damaged,
                                                                       alone.stale_indexes)  # fmt: skip
    assert bool(alone.problems) == (kind != "sound")
    assert submitted  # the batches were checked in the worker processes


def test_a_batch_too_big_to_copy_is_checked_in_the_command_itself(out, submitted, monkeypatch):
    """A batch of `HERE_FROM` records or more (one large import) is not copied to a worker process."""
    from store import history

    tear(batch_of(out, 2))
    alone = history.check(Dataset(out, "kyc"))
    monkeypatch.setattr(history, "HERE_FROM", 3)  # each version's batch holds 3 records
    pooled = history.check(Dataset(out, "kyc"), workers=2)
    assert submitted == [] and pooled.problems == alone.problems and alone.problems
