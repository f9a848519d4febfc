"""Every failure is one clear line: a full disk, a read-only output, a file that is not UTF-8, a YAML bomb,
an impossible --count. Each exits 2 with one line on stderr, no traceback, within seconds, no temp file left."""

import errno
import os
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from config import InputError
from main import cli
from store.files import TEMP_PREFIX, WriteFailed, atomic_write, create_exclusive
from store.storage import LocalStorage, S3Storage

ROOT = Path(__file__).resolve().parent.parent
RUBRIC = ROOT / "rubrics" / "kyc.yaml"
CORPUS = ROOT / "tests" / "fixtures" / "rubrics" / "malformed"
SECONDS = 5  # "must not hang": generous, the cases below take well under a second of their own


def invoke(*args: str) -> Result:
    started = time.monotonic()
    result = CliRunner().invoke(cli, list(args))
    result.elapsed = time.monotonic() - started  # type: ignore[attr-defined]
    return result


def one_line(result: Result, *expected: str) -> str:
    """The one line a failed command printed; it exited 2, without a traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def temp_files(root: Path) -> list[Path]:
    return list(root.rglob(f"{TEMP_PREFIX}*"))


def fail_os(code: int, filename: str | None = None) -> OSError:
    return OSError(code, os.strerror(code), filename)


@pytest.fixture
def disk_full(monkeypatch):
    """`disk_full("batches")`: syncing a new file in a folder of that name fails with ENOSPC, as on a full disk."""

    def arm(folder: str) -> None:
        real_mkstemp, real_fsync = tempfile.mkstemp, os.fsync
        folders: dict[int, str] = {}

        def mkstemp(*args, **kwargs):
            fd, name = real_mkstemp(*args, **kwargs)
            folders[fd] = Path(name).parent.name
            return fd, name

        def fsync(fd: int) -> None:
            if folders.pop(fd, None) == folder:
                raise fail_os(errno.ENOSPC)
            real_fsync(fd)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
        monkeypatch.setattr(os, "fsync", fsync)

    return arm


@pytest.fixture
def read_only(monkeypatch):
    """No file can be created anywhere (EROFS, or the errno given), as on a read-only file system."""

    def arm(code: int = errno.EROFS) -> None:
        def mkstemp(*args, dir=None, prefix="", **kwargs):
            raise fail_os(code, os.path.join(dir or ".", f"{prefix}abc123"))

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)

    return arm


@pytest.fixture
def dataset(tmp_path) -> Path:
    """An output dir holding a small kyc dataset."""
    output = tmp_path / "output"
    result = invoke("generate", "--count", "3", "--seed", "1", "--output-dir", str(output))
    assert result.exit_code == 0, result.output
    return output


# ---- the store: a failed write leaves no temp file and is one line ---------------------------------------


@pytest.mark.parametrize("write", [atomic_write, create_exclusive], ids=["atomic_write", "create_exclusive"])
def test_disk_full_write_is_one_line_and_leaves_no_temp_file(write, tmp_path, disk_full):
    disk_full("batches")
    with pytest.raises(WriteFailed) as info:
        write(tmp_path / "kyc" / "batches" / "b1.jsonl", b"{}\n")
    assert info.value.problems == [
        f"{tmp_path / 'kyc' / 'batches'}: no space left on device; free space and run the same command again"
    ]
    assert temp_files(tmp_path) == [] and not (tmp_path / "kyc" / "batches" / "b1.jsonl").exists()


def test_failed_rename_leaves_no_temp_file(tmp_path, monkeypatch):
    def refuse(*args):
        raise fail_os(errno.EACCES, str(args[0]))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(WriteFailed, match="permission denied; make it writable, or write to another location"):
        atomic_write(tmp_path / "x.json", b"{}")
    assert temp_files(tmp_path) == []


def test_read_only_write_names_the_folder_not_the_temp_file(tmp_path, read_only):
    read_only()
    with pytest.raises(WriteFailed) as info:
        atomic_write(tmp_path / "x.json", b"{}")
    assert info.value.problems == [
        f"{tmp_path}: read-only file system; write to another location and run the command again"
    ]


def test_check_writable_creates_no_folder_and_leaves_nothing(tmp_path, read_only):
    storage = LocalStorage(tmp_path / "output")
    storage.check_writable("kyc")
    assert list(tmp_path.iterdir()) == []  # checked in the nearest existing folder, nothing created
    read_only(errno.EACCES)
    with pytest.raises(WriteFailed, match=f"^{tmp_path}: permission denied;"):
        storage.check_writable("kyc")


def test_s3_check_writable_leaves_no_object_and_reports_a_missing_bucket(s3):
    S3Storage("goldens", "team").check_writable("kyc")
    assert s3.list_objects_v2(Bucket="goldens").get("KeyCount") == 0
    with pytest.raises(InputError, match="no such S3 bucket"):
        S3Storage("missing", "team").check_writable("kyc")


# ---- the commands ---------------------------------------------------------------------------------------


def test_disk_full_at_commit_is_one_line_and_the_run_resumes(tmp_path, disk_full, monkeypatch):
    output = tmp_path / "output"
    args = ("generate", "--count", "4", "--seed", "1", "--run-id", "r1", "--output-dir", str(output))
    disk_full("batches")
    line = one_line(invoke(*args))
    assert line == (
        f"{output / 'kyc' / 'batches'}: no space left on device; free space and run the same command again "
        "(add --run-id r1 to resume)"
    )
    assert temp_files(output) == [] and not (output / "kyc" / "versions").exists()
    monkeypatch.undo()  # space freed
    resumed = invoke(*args)
    assert "resuming run r1 (4 of 4 done)" in resumed.output
    assert (output / "kyc" / "versions" / "v0001.json").exists()


def test_disk_full_during_an_episode_is_one_line(tmp_path, disk_full):
    output = tmp_path / "output"
    disk_full("episodes")
    one_line(invoke("generate", "--count", "3", "--output-dir", str(output)), "no space left on device")
    assert temp_files(output) == []


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES, errno.EPERM])
def test_read_only_output_fails_generate_with_one_line(code, tmp_path, read_only):
    read_only(code)
    output = tmp_path / "output"
    # checked before any model call, on the nearest folder that exists (the check creates none)
    line = one_line(invoke("generate", "--count", "2", "--output-dir", str(output)), f"{tmp_path}: ")
    assert os.strerror(code).lower() in line
    assert [p for p in output.rglob("*") if p.is_file()] == []


def test_read_only_output_stops_revalidate_before_any_model_call(dataset, read_only, monkeypatch):
    def no_models(*args, **kwargs):
        raise AssertionError("a model was prepared before the output was found read-only")

    monkeypatch.setattr("simulation.revalidate.prepare_models", no_models)
    read_only()
    one_line(
        invoke("revalidate", "kyc", "--rubric", str(RUBRIC), "--output-dir", str(dataset)),
        f"{dataset / 'kyc'}: read-only file system",
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod 0o555; the injected cases cover it")
def test_chmod_read_only_output_stops_revalidate(dataset):
    folder = dataset / "kyc"
    folder.chmod(0o555)
    try:
        one_line(
            invoke("revalidate", "kyc", "--rubric", str(RUBRIC), "--output-dir", str(dataset)), "permission denied"
        )
    finally:
        folder.chmod(0o755)


def test_read_only_destination_fails_export_and_import_with_one_line(dataset, tmp_path, read_only):
    exported = tmp_path / "kyc.jsonl"
    assert invoke("dataset", "export", "kyc", "--out", str(exported), "--output-dir", str(dataset)).exit_code == 0
    read_only()
    out = tmp_path / "exports" / "kyc.jsonl"
    one_line(invoke("dataset", "export", "kyc", "--out", str(out), "--output-dir", str(dataset)), "read-only")
    one_line(invoke("dataset", "import", str(exported), "--into", "copy", "--output-dir", str(dataset)), "read-only")
    assert not out.exists() and temp_files(tmp_path) == []


# ---- input files that are not UTF-8, YAML that would hang or crash the parser ----------------------------


def encoded(tmp_path: Path, name: str, text: str, encoding: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("encoding", "edit", "expected"),
    [
        ("utf-16", None, ":1: not UTF-8 text (UTF-16); save it as UTF-8"),
        ("utf-16-le", None, ":1: yaml: unacceptable character #x0000; is the file UTF-16? save it as UTF-8"),
        ("latin-1", "title: Contrôle KYC", ":16: not UTF-8 text (byte 0xf4); save it as UTF-8"),
    ],
)
def test_rubric_that_is_not_utf8_is_one_line(encoding, edit, expected, tmp_path):
    text = RUBRIC.read_text(encoding="utf-8")
    if edit:
        text = text.replace("title: KYC investigation answers", edit)
    path = encoded(tmp_path, "kyc.yaml", text, encoding)
    for args in (("rubric", "check", str(path)), ("generate", "--rubric", str(path), "--output-dir", str(tmp_path))):
        result = invoke(*args)
        assert one_line(result) == f"{path}{expected}"
        assert result.elapsed < SECONDS


@pytest.mark.parametrize(
    ("encoding", "expected"), [("utf-16", ":1: not UTF-8 text (UTF-16)"), ("latin-1", ":2: not UTF-8")]
)
def test_config_that_is_not_utf8_is_one_line(encoding, expected, tmp_path):
    config = encoded(tmp_path, "goldsmith.yaml", "models:\n  task: simulated # modèle\n", encoding)
    result = invoke("generate", "--config", str(config), "--output-dir", str(tmp_path / "output"))
    assert one_line(result).startswith(f"{config}{expected}")
    assert not (tmp_path / "output").exists()


@pytest.mark.parametrize("name", ["71-yaml-deeply-nested", "72-yaml-alias-bomb", "78-yaml-alias-inside-itself"])
def test_hostile_yaml_fails_fast(name):
    path = CORPUS / f"{name}.yaml"
    expected = path.read_text(encoding="utf-8").splitlines()[0].removeprefix("# expect: ")
    result = invoke("rubric", "check", str(path))
    assert one_line(result) == f"{path}{expected}"
    assert result.elapsed < SECONDS


def test_yaml_file_too_large_is_one_line(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text(RUBRIC.read_text(encoding="utf-8") + "#" + "x" * 200_000 + "\n")
    assert one_line(invoke("rubric", "check", str(path))) == (
        f"{path}: too large (more than 128 KB); a YAML input file must be smaller"
    )


def test_deeply_nested_json_import_is_one_line(tmp_path):
    source = tmp_path / "deep.jsonl"
    source.write_text('{"id": ' + "[" * 5000 + "]" * 5000 + "}\n")
    result = invoke("dataset", "import", str(source), "--into", "kyc", "--output-dir", str(tmp_path / "output"))
    assert one_line(result, f"{source}:1: ", "recursion limit")
    assert result.elapsed < SECONDS


# ---- --count ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", ["1e20", "100000000000000000000", "1000001", "0"])
def test_impossible_count_is_refused_at_once(count, tmp_path):
    result = invoke("generate", "--count", count, "--output-dir", str(tmp_path / "output"))
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and result.elapsed < SECONDS
    assert result.stderr.count("\n") == 1 and "Invalid value for '--count'" in result.stderr
    assert not (tmp_path / "output").exists()


def test_a_file_where_the_output_folder_should_be_is_one_line(dataset, tmp_path):
    blocker = tmp_path / "exports"
    blocker.write_text("not a folder\n")
    result = invoke("dataset", "export", "kyc", "--out", str(blocker / "kyc.jsonl"), "--output-dir", str(dataset))
    assert one_line(result) == f"{blocker}: not a directory; part of this path is a file; write to another location"
