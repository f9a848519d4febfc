"""What throttling costs a Bedrock run, and whether every throttled call is retried and counted.

    python bench/throttling.py [--episodes 20] [--rates 0,0.1,0.3,0.5]

For each throttle rate it runs `generate` with `bedrock:` models against the simulated Converse server on
127.0.0.1 (real boto3, botocore adaptive retries, strands' retry strategy; see agents/simulated/servers.py)
and prints: episodes accounted for, throttled responses the server sent, retries the run counted (must be
equal), calls per episode, cache-read share of input tokens, cost per accepted example, and wall time
relative to the rate-0 run of the same invocation (these machines are noisy; ratios within one run only).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("AWS_ACCESS_KEY_ID", "dummy")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "dummy")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

from agents.settings import ModelSettings  # noqa: E402
from agents.simulated.model import SimSettings  # noqa: E402
from agents.simulated.servers import SimulatedProvider, start  # noqa: E402
from simulation.runner import Run, RunConfig  # noqa: E402

TASK = "bedrock:us.anthropic.claude-haiku-4-5-20251001-v1:0"
CRITIC = "bedrock:us.anthropic.claude-sonnet-4-5-20250929-v1:0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--rates", default="0,0.1,0.3,0.5")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    base = None
    print(
        f"{'throttle':>8} {'episodes':>8} {'throttled':>9} {'counted':>7} {'calls/ep':>8} "
        f"{'cache-read':>10} {'$/accepted':>10} {'time×':>6}"
    )
    for rate in (float(r) for r in args.rates.split(",")):
        provider = SimulatedProvider.for_domain("kyc", SimSettings(seed=args.seed), throttle_rate=rate, seed=rate)
        server = start("converse", provider)
        settings = ModelSettings.model_validate(
            {
                "models": {"user": TASK, "task": TASK, "critic": CRITIC},
                "bedrock": {"endpoint_url": f"http://127.0.0.1:{server.server_port}", "region": "us-east-1"},
                "retry": {"initial_delay_s": 0.05, "max_delay_s": 1},
            }
        )
        with tempfile.TemporaryDirectory() as out:
            run = Run(RunConfig(count=args.episodes, seed=args.seed, output_dir=Path(out), models=settings))
            summary = run.execute()
        server.shutdown()
        stats = summary.model_stats.values()
        counted = sum(s.client_retries + s.transient_errors for s in stats)
        calls = sum(s.calls for s in stats)
        tokens = summary.tokens
        base = base or summary.wall_time_s
        accounted = summary.accepted + summary.rejected + summary.failed
        print(
            f"{rate:>8.2f} {accounted:>4}/{summary.planned:<3} {provider.counts['throttled']:>9} {counted:>7} "
            f"{calls / summary.episodes:>8.1f} {tokens.cache_read / (tokens.input + tokens.cache_read):>10.2f} "
            f"{summary.cost_per_accepted_usd or 0:>10.4f} {summary.wall_time_s / base:>6.2f}"
        )


if __name__ == "__main__":
    main()
