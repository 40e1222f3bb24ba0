"""Time ``kharden generate networkpolicies`` (with its reachability proof) on the standard 10,000-pod cluster.

    .venv/bin/python bench/generate.py [--runs 5] [--input FILE] [--json FILE]

The input is ../shared/bench/gen_cluster.py --pods 10000 --namespaces 1000 --policies 3000 --seed 1
(the standard size of ../shared/bench/README.md): taken from $KHARDEN_BENCH_DATA (default
/work/bench-data/, shared by the team) when it is there, else generated into bench/data/ (git-ignored).

Each run is a fresh process doing what ``kharden generate networkpolicies FILE -o DIR`` does: read the
file and build the NetworkPolicy engine (``load``), plan the policies (``plan``: needs, selectors,
drafts), prove them (``proof``: every need checked pod class by pod class, the metadata API from every
class, the selection of every generated rule, the namespace matrix before and after) and write one file
per namespace (``write``). Issue 14's target: the whole under 10 s. The wall time of the whole command
(``total``, from the process start) is the figure; the parts say where it goes.

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
import json, resource, sys, tempfile, time
started = time.perf_counter()
from kharden.generate import load
from kharden.generate.networkpolicies import Options, plan_networkpolicies
from kharden.generate.output import files_by_namespace
from kharden.generate.proof import prove
from kharden.scan import acyclic_work
with acyclic_work():
    context, errors = load([sys.argv[1]])
    context.pods, context.network
    loaded = time.perf_counter()
    plan = plan_networkpolicies(context, Options())
    planned = time.perf_counter()
    proof = prove(plan)
    proven = time.perf_counter()
    files = files_by_namespace(plan.generated, [sys.argv[1]])
    with tempfile.TemporaryDirectory() as out:
        for name, text in files.items():
            with open(f"{out}/{name}", "w", encoding="utf-8") as f:
                f.write(text)
    written = time.perf_counter()
print(json.dumps({
    "load": loaded - started, "plan": planned - loaded, "proof": proven - planned, "write": written - proven,
    "total": written - started, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "policies": len(plan.generated.items), "files": len(files), "needs": len(plan.needs),
    "checked": proof.checked, "allowed": proof.allowed, "denied_in_force": len(proof.existing_blocks),
    "metadata_left": len(proof.metadata), "crossings": proof.crossings, "failures": len(proof.failures),
    "classes": len(plan.before.classes) - 1, "errors": len(errors),
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

    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"kharden generate networkpolicies on {source.name} ({python},")
    print(f"  {os.cpu_count()} CPUs; median of {len(runs)} runs, each a fresh process)")
    print(f"  read + engine   {median('load'):6.2f} s")
    print(f"  plan            {median('plan'):6.2f} s")
    print(f"  proof           {median('proof'):6.2f} s")
    written = f"{first['files']:,} files, {first['policies']:,} policies"
    print(f"  write           {median('write'):6.2f} s   ({written})")
    rss = f"max RSS {median('rss_mib'):.0f} MiB"
    print(f"  total           {median('total'):6.2f} s   (target: under 10 s); {rss}")
    print(f"  pod classes     {first['classes']:>6,}   needs {first['needs']:,}")
    print(
        f"  proof           {first['allowed']:,} of {first['checked']:,} needed connections allowed,"
        f" {first['denied_in_force']:,} needs denied by policies in force,"
        f" {first['metadata_left']:,} metadata paths through policies in force or kube-system,"
        f" {first['crossings']:,} namespace pairs opened,"
        f" {first['failures']} failures"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"input": str(source), "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
