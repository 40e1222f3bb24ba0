"""Time and memory of `kharden scan --snapshot` (and `--cluster`) on the standard 50,000-pod cluster.

    .venv/bin/python bench/snapshot.py [--runs 3] [--kubectl-layout] [--cluster] [--large] [--json FILE]

The snapshot is `../shared/bench/gen_snapshot.py --pods 50000 --workloads 2000 --seed 1` (278 MB),
written to bench/data/ on first use (git-ignored); `--kubectl-layout` also times the same cluster
as `kubectl get -o json` lays it out (`--indent 4`, 723 MB). For comparison the script times
`json.load` of the same file, the figure quoted in ../shared/bench/README.md. `--large` also scans
four times the cluster: `gen_snapshot.py --pods 200000 --workloads 8000 --seed 1` (1.1 GB). `--cluster` serves
the snapshot's objects from the test API server (tests/cluster/fakeapi.py, HTTPS on 127.0.0.1,
pages of 500) and times `kharden scan --cluster` against it; the server shares the 2 cores.

Each command runs in a new subprocess under GNU time (`/usr/bin/time -f "%M %U %S"`): wall time
is the median, peak RSS the largest. A measurement, not a test: it never fails on the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT.parent / "shared" / "bench" / "gen_snapshot.py"
DATA = ROOT / "bench" / "data"
PYTHON = ROOT / ".venv" / "bin" / "python"
KHARDEN = ROOT / ".venv" / "bin" / "kharden"
GNU_TIME = "/usr/bin/time"


def _generate(path: Path, indent: int, pods: int = 50000, workloads: int = 2000) -> None:
    if path.exists():
        return
    DATA.mkdir(parents=True, exist_ok=True)
    print(f"writing {path.name} ...", file=sys.stderr)
    subprocess.run(
        [sys.executable, str(GENERATOR), "--pods", str(pods), "--workloads", str(workloads), "--seed", "1",
         "--indent", str(indent), "--out", str(path)],
        check=True,
    )  # fmt: skip


def _measure(command: list[str], runs: int) -> dict[str, Any]:
    walls, rss = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            [GNU_TIME, "-f", "%M %U %S", *command], capture_output=True, text=True, check=False
        )
        walls.append(time.perf_counter() - start)
        if done.returncode not in {0, 1}:
            raise SystemExit(f"{' '.join(command)}: exit {done.returncode}\n{done.stderr[-2000:]}")
        rss = max(rss, int(done.stderr.strip().splitlines()[-1].split()[0]))
    return {"wall_s": round(statistics.median(walls), 2), "peak_rss_mb": round(rss / 1024), "runs": runs}


def _scan(snapshot: Path, runs: int, out: Path) -> dict[str, Any]:
    figures = _measure(
        [str(KHARDEN), "scan", "--snapshot", str(snapshot), "-f", "json", "-o", str(out)], runs
    )
    summary = json.loads(out.read_text())["summary"]
    figures.update(objects=summary["objects"], findings=sum(summary["findings"].values()))
    return figures


def _cluster(snapshot: Path, runs: int, out: Path) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "tests" / "cluster"))
    from fakeapi import FakeApiServer, make_certs, write_kubeconfig  # noqa: PLC0415

    items = json.loads(snapshot.read_bytes())["items"]
    with tempfile.TemporaryDirectory() as tmp:
        certs = make_certs(Path(tmp))
        with FakeApiServer(items, certs) as server:
            kubeconfig = write_kubeconfig(Path(tmp) / "config", server.url, certs)
            del items
            command = [
                str(KHARDEN),
                "scan",
                "--cluster",
                "--kubeconfig",
                str(kubeconfig),
                "-f",
                "json",
                "-o",
                str(out),
            ]
            figures = _measure(command, runs)
    summary = json.loads(out.read_text())["summary"]
    figures.update(objects=summary["objects"], findings=sum(summary["findings"].values()))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--kubectl-layout", action="store_true", help="also time the --indent 4 (kubectl) layout"
    )
    parser.add_argument(
        "--cluster", action="store_true", help="also time --cluster against the test API server"
    )
    parser.add_argument("--large", action="store_true", help="also scan the 200,000-pod snapshot")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args()

    subprocess.run([str(PYTHON), "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    standard = DATA / "snapshot-50k.json"
    _generate(standard, 0)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        print("kharden scan --snapshot ...", file=sys.stderr)
        subprocess.run(
            [str(KHARDEN), "scan", "--snapshot", str(standard), "-o", "/dev/null"], check=False
        )  # warm-up
        results["scan --snapshot (one item per line, 278 MB)"] = _scan(standard, args.runs, out)
        print("json.load ...", file=sys.stderr)
        results["json.load of the same file"] = _measure(
            [str(PYTHON), "-c", f"import json; json.load(open({str(standard)!r}, 'rb'))"], 1
        )
        if args.kubectl_layout:
            pretty = DATA / "snapshot-50k-indent4.json"
            _generate(pretty, 4)
            results["scan --snapshot (kubectl layout, 723 MB)"] = _scan(pretty, args.runs, out)
        if args.large:
            large = DATA / "snapshot-200k.json"
            _generate(large, 0, 200000, 8000)
            results["scan --snapshot (200,000 pods, 1.1 GB)"] = _scan(large, args.runs, out)
        if args.cluster:
            print("kharden scan --cluster against the test API server ...", file=sys.stderr)
            results["scan --cluster (test API server on 127.0.0.1)"] = _cluster(standard, args.runs, out)

    width = max(len(k) for k in results)
    print(f"{'what':<{width}}  {'wall s':>7}  {'peak RSS MB':>11}  {'objects':>8}  {'findings':>8}")
    for name, r in results.items():
        counts = f"{r.get('objects', ''):>8}  {r.get('findings', ''):>8}"
        print(f"{name:<{width}}  {r['wall_s']:>7}  {r['peak_rss_mb']:>11}  {counts}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
