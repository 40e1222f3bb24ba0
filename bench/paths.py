"""Time and memory of `kharden paths` on the standard 10,000-pod cluster snapshot, extended with RBAC.

    .venv/bin/python bench/paths.py [--data DIR] [--runs 3] [--json FILE]

Inputs, in DIR: by default $KHARDEN_BENCH_DATA (default /work/bench-data/, shared by the team) when
it is there, else bench/data/ (git-ignored); whatever is missing is written there on first use
(to a temporary name, then renamed):

- `snapshot-10k.json`: `../shared/bench/gen_snapshot.py --pods 10000 --workloads 400 --seed 1`
  (10,000 Pods of 400 workloads on 185 nodes, 55 MB), the 50,000-pod standard cut to 10,000
  pods at the same 25 pods per workload;
- `snapshot-10k-rbac.yaml`: the snapshot's own RBAC is a few application Roles; this adds the
  997 RBAC objects of `gen_manifests.py --docs 10000 --seed 1` (wildcards, secrets, pods/exec,
  escalate/bind, cluster-admin and system:authenticated bindings), their namespaces mapped onto
  the snapshot's application namespaces and their ServiceAccount subjects onto ServiceAccounts
  that the snapshot's workloads run as, so that the grants land on pods.

Each run is a new process under GNU time (peak RSS): it reads the inputs, then times the
engines the graph is built from (effective pods, RBAC, NetworkPolicies, placement), the graph,
the shortest paths from every entry point to every goal, and the choke points. Then the whole
command, `kharden paths --snapshot ... -f json`, is timed the same way. Medians of the runs; a
measurement, never a pass/fail test. The peer's figure (KubeHound: about 3 minutes for a
10,000-pod cluster, with a graph database behind it) is published, not measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "bench"
PYTHON = ROOT / ".venv" / "bin" / "python"
KHARDEN = ROOT / ".venv" / "bin" / "kharden"
GNU_TIME = "/usr/bin/time"
RBAC_KINDS = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}
SYSTEM_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}


def _generate(data: Path) -> tuple[Path, Path]:
    data.mkdir(parents=True, exist_ok=True)
    snapshot = data / "snapshot-10k.json"
    if not snapshot.exists():
        print(f"writing {snapshot} ...", file=sys.stderr)
        part = data / f".tmp-{os.getpid()}-snapshot-10k.json"
        subprocess.run(
            [sys.executable, str(SHARED / "gen_snapshot.py"), "--pods", "10000", "--workloads", "400",
             "--seed", "1", "--out", str(part)],
            check=True,
        )  # fmt: skip
        part.rename(snapshot)
    manifests = data / "manifests-10k"
    if not manifests.exists():
        print(f"writing {manifests} ...", file=sys.stderr)
        part = data / f".tmp-{os.getpid()}-manifests-10k"
        subprocess.run(
            [sys.executable, str(SHARED / "gen_manifests.py"), "--docs", "10000", "--seed", "1",
             "--out", str(part)],
            check=True,
        )  # fmt: skip
        part.rename(manifests)
    rbac = data / "snapshot-10k-rbac.yaml"
    if not rbac.exists():
        print(f"writing {rbac} ...", file=sys.stderr)
        part = data / f".tmp-{os.getpid()}-snapshot-10k-rbac.yaml"
        part.write_text(_rbac_for(snapshot, manifests), encoding="utf-8")
        part.rename(rbac)
    return snapshot, rbac


def _rbac_for(snapshot: Path, manifests: Path) -> str:
    """The RBAC objects of ``manifests``, moved to the snapshot's namespaces and onto its ServiceAccounts."""
    import yaml  # noqa: PLC0415 - only when the file is first written

    items = json.loads(snapshot.read_bytes())["items"]
    accounts: dict[str, list[str]] = {}
    for item in items:
        spec = item.get("spec", {}).get("template", {}).get("spec")
        if item["kind"] in {"Deployment", "StatefulSet", "DaemonSet"} and spec:
            namespace = item["metadata"]["namespace"]
            name = spec.get("serviceAccountName") or "default"
            accounts.setdefault(namespace, [])
            if name not in accounts[namespace]:
                accounts[namespace].append(name)
    targets = sorted(n for n in accounts if n not in SYSTEM_NAMESPACES)

    def place(namespace: str) -> str:
        return targets[zlib.crc32(namespace.encode()) % len(targets)]

    found = []
    for path in sorted(manifests.rglob("*")):
        if path.suffix not in {".yaml", ".yml"}:
            continue
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not isinstance(doc, dict) or doc.get("kind") not in RBAC_KINDS:
                continue
            metadata = doc.setdefault("metadata", {})
            if "namespace" in metadata or doc["kind"] in {"Role", "RoleBinding"}:
                metadata["namespace"] = place(metadata.get("namespace") or "default")
            for subject in doc.get("subjects") or []:
                if subject.get("kind") == "ServiceAccount":
                    namespace = place(subject.get("namespace") or metadata.get("namespace") or "default")
                    names = accounts[namespace]
                    subject["namespace"] = namespace
                    subject["name"] = names[zlib.crc32(subject["name"].encode()) % len(names)]
            found.append(doc)
    return yaml.safe_dump_all(found, sort_keys=False)


def _child(snapshot: str, rbac: str) -> None:
    """One measured run: prints the phases' times and the graph's size as JSON."""
    from kharden.analysis.context import ScanContext  # noqa: PLC0415
    from kharden.inventory import Inventory  # noqa: PLC0415
    from kharden.paths import GOALS  # noqa: PLC0415
    from kharden.paths.build import build_graph  # noqa: PLC0415
    from kharden.paths.entries import exposed  # noqa: PLC0415
    from kharden.paths.search import choke_points, shortest_paths  # noqa: PLC0415
    from kharden.scan import ScanOptions, acyclic_work, collect  # noqa: PLC0415

    times: dict[str, float] = {}
    with acyclic_work():
        start = time.perf_counter()
        collected = collect([rbac], ScanOptions(snapshot=snapshot))
        context = ScanContext(
            Inventory(collected.objects), frozenset(collected.evidence), cluster=collected.cluster
        )
        times["read_s"] = time.perf_counter() - start
        start = time.perf_counter()
        for engine in ("pods", "rbac", "network", "runtime", "services", "service_accounts"):
            getattr(context, engine)
        times["engines_s"] = time.perf_counter() - start
        start = time.perf_counter()
        graph = build_graph(context)
        for vertex, reasons in exposed(context, graph).items():
            graph.add_entry(vertex, reasons)
        times["graph_s"] = time.perf_counter() - start
        start = time.perf_counter()
        paths = shortest_paths(graph, graph.entries, GOALS)
        times["paths_s"] = time.perf_counter() - start
        start = time.perf_counter()
        choke = choke_points(graph, paths, graph.entries, GOALS)
        times["choke_s"] = time.perf_counter() - start
    times["analysis_s"] = times["engines_s"] + times["graph_s"] + times["paths_s"] + times["choke_s"]
    print(
        json.dumps(
            {
                **{k: round(v, 3) for k, v in times.items()},
                "objects": len(context.inventory),
                "workloads": sum(1 for v in graph.vertices.values() if v.kind == "workload"),
                "vertices": len(graph.vertices),
                "edges": len(graph),
                "entries": len(graph.entries),
                "paths": len(paths),
                "choke_points": len(choke.points),
                "cut": choke.cut,
                "method": choke.method,
            }
        )
    )


def _timed(command: list[str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run([GNU_TIME, "-f", "%M", *command], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode not in {0, 1}:
        raise SystemExit(f"{' '.join(command)}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return wall, int(done.stderr.strip().splitlines()[-1]), done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    shared = Path(os.environ.get("KHARDEN_BENCH_DATA", "/work/bench-data"))
    parser.add_argument("--data", type=Path, default=shared if shared.is_dir() else ROOT / "bench" / "data")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures to FILE")
    parser.add_argument("--child", nargs=2, metavar=("SNAPSHOT", "RBAC"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return 0
    snapshot, rbac = _generate(args.data)
    runs: list[dict[str, Any]] = []
    for _ in range(args.runs):
        _, rss, out = _timed([str(PYTHON), __file__, "--child", str(snapshot), str(rbac)])
        runs.append({**json.loads(out), "peak_rss_mb": round(rss / 1024)})
    figures: dict[str, Any] = {k: v for k, v in runs[0].items() if not k.endswith("_s")}
    for key in [k for k in runs[0] if k.endswith("_s")]:
        figures[key] = round(statistics.median(r[key] for r in runs), 2)
    figures["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    walls, peak = [], 0
    for _ in range(args.runs):
        wall, rss, _ = _timed(
            [str(KHARDEN), "paths", "--snapshot", str(snapshot), str(rbac), "-f", "json", "-o", os.devnull]
        )
        walls.append(wall)
        peak = max(peak, rss)
    figures["command_s"] = round(statistics.median(walls), 2)
    figures["command_peak_rss_mb"] = round(peak / 1024)
    print(f"kharden paths on {snapshot.name} + {rbac.name}: median of {args.runs} runs")
    print(
        f"  {figures['objects']:,} objects, {figures['workloads']} workloads;"
        f" graph of {figures['vertices']:,} vertices and {figures['edges']:,} steps;"
        f" {figures['entries']} entry points,"
        f" {figures['paths']} shortest paths, {figures['choke_points']} choke points ({figures['method']})"
    )
    for key, label in (
        ("read_s", "read the snapshot and the RBAC file"),
        ("engines_s", "engines (pods, RBAC, NetworkPolicies, placement)"),
        ("graph_s", "attack graph and entry points"),
        ("paths_s", "shortest paths, every entry point to every goal"),
        ("choke_s", "choke points"),
        ("analysis_s", "engines + graph + paths + choke points"),
        ("command_s", "kharden paths --snapshot ... -f json (whole command)"),
    ):
        print(f"  {label:<56} {figures[key]:>7.2f} s")
    rss = f"{figures['peak_rss_mb']} / {figures['command_peak_rss_mb']} MB"
    print(f"  {'peak RSS (measured runs / whole command)':<56} {rss}")
    print("  peer: KubeHound publishes about 3 minutes for a 10,000-pod cluster (with a graph database)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
