"""Time ``kharden probe``'s plan on the standard 10,000-pod cluster and report its size.

    .venv/bin/python bench/probe.py [--runs 5] [--input FILE] [--json FILE]

The input is ../shared/bench/gen_cluster.py --pods 10000 --namespaces 1000 --policies 3000 --seed 1
(the standard size of ../shared/bench/README.md): taken from $KHARDEN_BENCH_DATA (default
/work/bench-data/, shared by the team) when it is there, else generated into bench/data/ (git-ignored).

Each run is a fresh process: it reads the cluster file and builds the NetworkPolicy engine (``load``:
the same work as ``kharden probe --plan --snapshot``), then computes the plan (``plan``), the figure
the target of issue 16 is about (under 5 s, at most 2 probes per policy that denies something). It
sends nothing anywhere: a plan only names the connections to try.

A measurement, not a test: it prints a table and never fails on the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT.parent / "shared" / "bench" / "gen_cluster.py"
SHARED_DATA = Path(os.environ.get("KHARDEN_BENCH_DATA", "/work/bench-data"))
LOCAL_DATA = ROOT / "bench" / "data"
NAME = "cluster-10k.yaml"
ARGS = ["--pods", "10000", "--namespaces", "1000", "--policies", "3000", "--seed", "1"]

ONE_RUN = """
import json, sys, time
from collections import Counter
started = time.perf_counter()
from kharden.probe import load, make_plan
from kharden.scan import ScanOptions
loaded = load([sys.argv[1]], ScanOptions())
read = time.perf_counter()
plan = make_plan(loaded.network, loaded.plan_options())
done = time.perf_counter()
kinds = Counter(p.kind for p in plan.probes)
print(json.dumps({
    "load": read - started, "plan": done - read, "classes": len(loaded.network.classes) - 1,
    "policies": len(loaded.network.policies), "denying": len(plan.denying), "probes": len(plan.probes),
    "kinds": dict(kinds), "probe_pods": len(plan.sources), "listener_pods": len(plan.listeners),
    "untested": len(plan.untested), "limit": plan.limit,
}))
"""


def _input(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    for directory in (SHARED_DATA, LOCAL_DATA):
        if (directory / NAME).is_file():
            return directory / NAME
    LOCAL_DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=LOCAL_DATA, suffix=".tmp", delete=False) as tmp:
        partial = Path(tmp.name)
    subprocess.run([sys.executable, str(GENERATOR), *ARGS, "--out", str(partial)], check=True)
    partial.replace(LOCAL_DATA / NAME)  # never a half-written file under the final name
    return LOCAL_DATA / NAME


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--input", help="cluster file (default: the standard 10,000-pod cluster)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    source = _input(args.input)
    runs: list[dict[str, Any]] = []
    for _ in range(args.runs):
        done = subprocess.run(
            [sys.executable, "-c", ONE_RUN, str(source)], capture_output=True, text=True, check=True
        )
        runs.append(json.loads(done.stdout))
    first = runs[0]
    load = statistics.median(r["load"] for r in runs)
    plan = statistics.median(r["plan"] for r in runs)
    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"kharden probe --plan on {source.name} ({python},")
    print(f"  {os.cpu_count()} CPUs; median of {len(runs)} runs, each a fresh process)")
    print(f"  read + engine   {load:6.2f} s")
    print(f"  plan            {plan:6.2f} s   (target: under 5 s)")
    print(f"  pod classes     {first['classes']:>6,}   policies {first['policies']:,}")
    print(f"  denying         {first['denying']:>6,}   policies that deny something")
    per_policy = first["probes"] / max(first["denying"], 1)
    print(
        f"  probes          {first['probes']:>6,}   = {per_policy:.2f} per denying policy (target: at most 2)"
    )
    print(f"  by kind         {', '.join(f'{k} {v:,}' for k, v in sorted(first['kinds'].items()))}")
    print(f"  pods            {first['probe_pods']:,} probe pods, {first['listener_pods']:,} listeners")
    print(f"  not probed      {first['untested']:>6,}   denying policies no sure pair tests")
    if args.json:
        Path(args.json).write_text(json.dumps({"input": str(source), "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
