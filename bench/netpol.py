"""Time kharden's NetworkPolicy engine against network-config-analyzer (NCA) on the standard clusters.

    .venv/bin/python bench/netpol.py [--runs 3] [--nca-runs 1] [--skip-nca] [--skip-nca-connectivity]
                                     [--nca PATH] [--json FILE]

Inputs are generated on first use into bench/data/ (git-ignored) with ../shared/bench/gen_cluster.py at
the standard sizes of ../shared/bench/README.md: 3,000 pods / 300 namespaces / 900 policies and
10,000 pods / 1,000 namespaces / 3,000 policies, as Deployments and as running Pods.

What runs (each a subprocess under GNU time, which gives max RSS and CPU):

- `scan`: `kharden scan FILE` with the six network rules of the engine (netpol.ingress-open,
  netpol.egress-open, netpol.internet-egress, netpol.selects-nothing, exposure.metadata-api,
  exposure.nodeport), JSON report;
- `matrix`: `kharden reach FILE --matrix -f json`;
- `rules+matrix`: one process that reads FILE once, runs the network rules and the matrix
  (this script's `one` mode): the figure the issue's 3 s / 500 MB target is about;
- `metadata`: `kharden reach FILE --from '*/*' --to 169.254.169.254:80/TCP --expect denied`, the
  question NCA's --forbids answers;
- NCA, on the 3,000-pod cluster of Pods: `nca --forbids forbid-metadata-3k.yaml -r cluster-3k-pods.yaml
  --base_resource_list cluster-3k-pods.yaml` (every run) and `nca --connectivity -r cluster-3k-pods.yaml`
  (once; it took 461 s on the reference VM).

A measurement, not a test: it prints a table and never fails on the figures.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
GENERATOR = ROOT.parent / "shared" / "bench" / "gen_cluster.py"
KHARDEN = ROOT / ".venv" / "bin" / "kharden"
PYTHON = ROOT / ".venv" / "bin" / "python"
NCA_VENV = ROOT / "bench" / ".venv-nca"
GNU_TIME = Path("/usr/bin/time")
NETWORK_RULES = [
    "netpol.ingress-open",
    "netpol.egress-open",
    "netpol.internet-egress",
    "netpol.selects-nothing",
    "exposure.metadata-api",
    "exposure.nodeport",
]
RULES = [arg for rule in NETWORK_RULES for arg in ("--rule", rule)]

SIZES = {  # name: (pods, namespaces, policies, extra generator arguments)
    "cluster-3k-pods": (
        3000,
        300,
        900,
        ["--pods-as-pods", "--forbids-out", str(DATA / "forbid-metadata-3k.yaml")],
    ),
    "cluster-10k": (10000, 1000, 3000, []),
    "cluster-10k-pods": (
        10000,
        1000,
        3000,
        ["--pods-as-pods", "--forbids-out", str(DATA / "forbid-metadata-10k.yaml")],
    ),
}
LARGE = {  # --large: ten times the standard 10,000-pod cluster, and the same with fewer namespaces
    "cluster-100k": (100000, 10000, 30000, []),
    "cluster-100k-1k-ns": (100000, 1000, 30000, []),
}


@dataclass
class Row:
    input: str
    what: str
    command: list[str]
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    exits: list[int] = field(default_factory=list)

    @property
    def wall(self) -> float | None:
        return statistics.median(self.walls) if self.walls else None

    @property
    def cpu(self) -> float | None:
        return statistics.median(self.cpus) if self.cpus else None

    @property
    def rss_mib(self) -> float | None:
        return max(self.rss_kib) / 1024 if self.rss_kib else None


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_inputs() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    for name, (pods, namespaces, policies, extra) in SIZES.items():
        out = DATA / f"{name}.yaml"
        if out.exists():
            continue
        log(f"generating {out.relative_to(ROOT)}")
        cmd = [sys.executable, str(GENERATOR), "--pods", str(pods), "--namespaces", str(namespaces),
               "--policies", str(policies), "--seed", "1", "--out", str(out), *extra]  # fmt: skip
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def measure(row: Row, runs: int, timeout: float, cwd: Path = ROOT) -> None:
    for _ in range(runs):
        with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
            wrapped = [str(GNU_TIME), "-f", "%M %U %S", "-o", tf.name, *row.command]
            start = time.perf_counter()
            try:
                done = subprocess.run(
                    wrapped,
                    cwd=cwd,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    timeout=timeout,
                    check=False,
                )
                code = done.returncode
            except subprocess.TimeoutExpired:
                code = -1
            wall = time.perf_counter() - start
            lines = Path(tf.name).read_text().strip().splitlines()
        row.walls.append(wall)
        row.exits.append(code)
        try:
            rss, user, system = lines[-1].split()
            row.rss_kib.append(int(rss))
            row.cpus.append(float(user) + float(system))
        except (IndexError, ValueError):
            pass
        log(f"  {row.input:18s} {row.what:14s} {wall:8.2f} s  exit {code}")


def one(path: str) -> int:
    """Read once, run the network rules and the namespace matrix in this process (for `rules+matrix`)."""
    sys.path.insert(0, str(ROOT / "src"))
    scan_module = importlib.import_module("kharden.scan")  # the package's `scan` is the function
    from kharden.analysis.context import ScanContext  # noqa: PLC0415
    from kharden.reach import namespace_matrix  # noqa: PLC0415
    from kharden.report import json as json_report  # noqa: PLC0415
    from kharden.report import reach as reach_report  # noqa: PLC0415
    from kharden.rules import select  # noqa: PLC0415

    contexts: list[ScanContext] = []

    class Kept(ScanContext):
        """evaluate() keeps its ScanContext to itself: keep it, so the matrix shares its network."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            contexts.append(self)

    scan_module.ScanContext = Kept
    gc.disable()
    started = time.perf_counter()
    collected = scan_module.collect([path], scan_module.ScanOptions())
    report = scan_module.evaluate(collected, select(NETWORK_RULES))
    json_report.render(report)
    matrix = namespace_matrix(contexts[0].network)
    reach_report.matrix_json(matrix, [])
    elapsed = time.perf_counter() - started
    log(f"{len(report.findings)} findings, {len(matrix.namespaces)} namespaces in {elapsed:.2f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] == ["one"]:
        return one(args_list[1])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--nca-runs", type=int, default=1, help="runs of nca --forbids")
    parser.add_argument("--skip-nca", action="store_true")
    parser.add_argument(
        "--skip-nca-connectivity", action="store_true", help="skip the long nca --connectivity run"
    )
    parser.add_argument("--nca", help="the nca executable (default: bench/.venv-nca/bin/nca)")
    parser.add_argument(
        "--large",
        action="store_true",
        help="also 100,000 pods and 30,000 policies in 10,000 namespaces, then in 1,000 (made on first use)",
    )
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(args_list)
    if args.large:
        SIZES.update(LARGE)
    ensure_inputs()
    subprocess.run([str(PYTHON), "-m", "compileall", "-q", "src"], cwd=ROOT, check=True)
    rows: list[Row] = []
    metadata = ["--from", "*/*", "--to", "169.254.169.254:80/TCP", "--expect", "denied", "-o", "/dev/null"]
    for name in SIZES:
        path = str(DATA / f"{name}.yaml")
        rows += [
            Row(name, "scan", [str(KHARDEN), "scan", path, *RULES, "-f", "json", "-o", "/dev/null"]),
            Row(name, "matrix", [str(KHARDEN), "reach", path, "--matrix", "-f", "json", "-o", "/dev/null"]),
            Row(name, "rules+matrix", [str(PYTHON), str(Path(__file__).resolve()), "one", path]),
            Row(name, "metadata", [str(KHARDEN), "reach", path, *metadata]),
        ]
    for row in rows:
        measure(row, args.runs, timeout=600)
    if not args.skip_nca:
        nca = Path(args.nca) if args.nca else NCA_VENV / "bin" / "nca"
        if not nca.exists():
            log(f"installing network-config-analyzer into {NCA_VENV.relative_to(ROOT)}")
            subprocess.run([sys.executable, "-m", "venv", str(NCA_VENV)], check=True)
            subprocess.run(
                [str(NCA_VENV / "bin" / "pip"), "install", "-q", "network-config-analyzer"], check=True
            )
        pods = "cluster-3k-pods.yaml"
        forbids = Row(
            "cluster-3k-pods",
            "nca --forbids",
            [str(nca), "--forbids", "forbid-metadata-3k.yaml", "-r", pods, "--base_resource_list", pods],
        )
        measure(forbids, args.nca_runs, timeout=3600, cwd=DATA)
        rows.append(forbids)
        if not args.skip_nca_connectivity:
            connectivity = Row(
                "cluster-3k-pods",
                "nca --connect.",
                [str(nca), "--connectivity", "-r", "cluster-3k-pods.yaml"],
            )
            measure(connectivity, 1, timeout=3600, cwd=DATA)
            rows.append(connectivity)
    print(
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, runs: {args.runs}"
    )
    print(f"{'input':18s} {'what':14s} {'median s':>9s} {'cpu s':>7s} {'max RSS MiB':>12s}  exit")
    for row in rows:
        wall = f"{row.wall:9.2f}" if row.wall is not None else f"{'-':>9s}"
        cpu = f"{row.cpu:7.2f}" if row.cpu is not None else f"{'-':>7s}"
        rss = f"{row.rss_mib:12.0f}" if row.rss_mib is not None else f"{'-':>12s}"
        print(f"{row.input:18s} {row.what:14s} {wall} {cpu} {rss}  {sorted(set(row.exits))}")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
