"""The admission webhook under load, and one pod judged by the exported CEL.

    .venv/bin/python bench/admission.py [--rate 200] [--seconds 60] [--saturation-seconds 15]
                                        [--concurrency 16] [--corpus ../shared/corpus/real]

1. AdmissionReviews are built from every object with a pod spec in the corpus (read as ``kharden scan``
   reads it), cycled in order.
2. ``kharden admission webhook`` runs in its own process (deny mode, every rule, no cluster) with a
   certificate made for the run, on 127.0.0.1.
3. **Fixed rate**: reviews are sent at ``--rate`` per second for ``--seconds``, on a schedule that does
   not wait for answers (open loop: a slow answer does not slow the sender, so latency is not hidden),
   over 32 keep-alive connections, each with a 5 s timeout (the webhook configuration's). Prints
   sent, failed (an error, a timeout, a status other than 200, an answer without the request's uid),
   achieved rate, and latency percentiles.
4. **Saturation**: ``--concurrency`` clients send back to back for ``--saturation-seconds``; prints
   the throughput.
5. **CEL**: every exported ValidatingAdmissionPolicy compiled with cel-expr-python (as the tests do)
   and evaluated, variables then validations, on one typical corpus pod and on every corpus pod; and
   the webhook's Python judgement of one review, in process, for comparison.

The load generator shares the machine's 2 CPUs with the webhook: figures include its cost. They are
figures, never a pass/fail test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "enforce"))
sys.path.insert(0, str(ROOT / "tests" / "cluster"))

import httpx2 as httpx  # noqa: E402
from fakeapi import make_certs  # noqa: E402 - the tests' CA and 127.0.0.1 certificate
from vap import Policy  # noqa: E402 - the tests' ValidatingAdmissionPolicy evaluator

from kharden.analysis.podspec import pod_template_path  # noqa: E402
from kharden.enforce.policies import PolicyOptions, exportable, rule_policy  # noqa: E402
from kharden.enforce.review import Reviewer, Settings, read_review  # noqa: E402
from kharden.rules import REGISTRY  # noqa: E402
from kharden.scan import ScanOptions, collect  # noqa: E402

_RESOURCES = {
    "Pod": ("", "pods"),
    "ReplicationController": ("", "replicationcontrollers"),
    "Deployment": ("apps", "deployments"),
    "StatefulSet": ("apps", "statefulsets"),
    "DaemonSet": ("apps", "daemonsets"),
    "ReplicaSet": ("apps", "replicasets"),
    "Job": ("batch", "jobs"),
    "CronJob": ("batch", "cronjobs"),
}


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def corpus_objects(corpus: Path) -> list[dict[str, Any]]:
    found = []
    for obj in collect([str(corpus)], ScanOptions()).objects:
        if pod_template_path(obj) is not None and obj.ref.kind in _RESOURCES:
            found.append(_plain(json.loads(json.dumps(obj.raw, default=str))))
    return found


def review_body(obj: dict[str, Any]) -> bytes:
    group, resource = _RESOURCES[obj["kind"]]
    version = obj["apiVersion"].rpartition("/")[2]
    metadata = obj.get("metadata") or {}
    request = {
        "uid": str(uuid.uuid4()),
        "kind": {"group": group, "version": version, "kind": obj["kind"]},
        "resource": {"group": group, "version": version, "resource": resource},
        "name": metadata.get("name", ""),
        "namespace": metadata.get("namespace") or "default",
        "operation": "CREATE",
        "userInfo": {"username": "bench"},
        "object": obj,
        "oldObject": None,
        "dryRun": False,
    }
    return json.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    ).encode()


def start_webhook(directory: Path) -> tuple[subprocess.Popen[str], int, ssl.SSLContext]:
    certs = make_certs(directory)
    command = [
        str(ROOT / ".venv" / "bin" / "kharden"),
        "admission",
        "webhook",
        "--tls-cert",
        str(certs.server_cert),
    ]
    command += ["--tls-key", str(certs.server_key), "--host", "127.0.0.1", "--port", "0", "--no-cluster"]
    command += ["--log-level", "warning"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        if "listening on https://" in line:
            port = int(line.rsplit(":", 1)[1].split("/", 1)[0])
            break
    else:
        sys.exit("the webhook did not start")
    context = ssl.create_default_context(cafile=str(certs.ca_cert))
    return process, port, context


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def fixed_rate(
    url: str, context: ssl.SSLContext, bodies: list[bytes], rate: float, seconds: float
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    latencies: list[float] = []
    failures: list[str] = []
    async with httpx.AsyncClient(verify=context, limits=limits, timeout=5.0, trust_env=False) as client:

        async def one(body: bytes, uid: str) -> None:
            started = time.perf_counter()
            try:
                answer = await client.post(url, content=body, headers={"Content-Type": "application/json"})
                ok = answer.status_code == 200 and answer.json()["response"]["uid"] == uid
                if not ok:
                    failures.append(f"status {answer.status_code}")
            except httpx.HTTPError as e:
                failures.append(type(e).__name__)
                return
            latencies.append(time.perf_counter() - started)

        total = int(rate * seconds)
        start = time.perf_counter()
        tasks = []
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = bodies[i % len(bodies)]
            uid = json.loads(body)["request"]["uid"]
            tasks.append(asyncio.create_task(one(body, uid)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {
        "sent": total,
        "failed": len(failures),
        "failures": sorted(set(failures))[:5],
        "rate": total / elapsed,
        "p50_ms": 1000 * _percentile(latencies, 0.50),
        "p90_ms": 1000 * _percentile(latencies, 0.90),
        "p99_ms": 1000 * _percentile(latencies, 0.99),
        "max_ms": 1000 * max(latencies),
    }


async def saturation(
    url: str, context: ssl.SSLContext, bodies: list[bytes], concurrency: int, seconds: float
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    done = 0
    failed = 0
    async with httpx.AsyncClient(verify=context, limits=limits, timeout=5.0, trust_env=False) as client:
        deadline = time.perf_counter() + seconds

        async def worker(offset: int) -> None:
            nonlocal done, failed
            i = offset
            while time.perf_counter() < deadline:
                try:
                    answer = await client.post(url, content=bodies[i % len(bodies)])
                    done += answer.status_code == 200
                    failed += answer.status_code != 200
                except httpx.HTTPError:
                    failed += 1
                i += concurrency

        start = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        elapsed = time.perf_counter() - start
    return {"answered": done, "failed": failed, "throughput": done / elapsed}


def cel_timing(objects: list[dict[str, Any]]) -> dict[str, Any]:
    exported = [r for r in REGISTRY if exportable(r)]
    started = time.perf_counter()
    policies = [Policy(rule_policy(rule, PolicyOptions())[0]) for rule in exported]
    compile_s = time.perf_counter() - started
    params = {"data": {"images": ""}}
    sizes = sorted(objects, key=lambda o: len(json.dumps(o)))
    typical = sizes[len(sizes) // 2]
    runs = 200
    started = time.perf_counter()
    for _ in range(runs):
        for policy in policies:
            policy.evaluate(typical, params)
    one_pod = (time.perf_counter() - started) / runs
    started = time.perf_counter()
    for obj in objects:
        for policy in policies:
            policy.evaluate(obj, params)
    every = time.perf_counter() - started
    reviewer = Reviewer(Settings(rules=tuple(REGISTRY)))
    request = read_review(review_body(typical))
    started = time.perf_counter()
    for _ in range(runs):
        asyncio.run(reviewer.review(request))
    python = (time.perf_counter() - started) / runs
    return {
        "policies": len(policies),
        "compile_ms": 1000 * compile_s,
        "typical_pod": f"{typical['kind']} {typical['metadata'].get('name')}",
        "one_pod_all_policies_ms": 1000 * one_pod,
        "one_pod_per_policy_us": 1e6 * one_pod / len(policies),
        "corpus_pods": len(objects),
        "corpus_all_policies_s": every,
        "python_judge_one_review_ms": 1000 * python,
    }


def run(coroutine: Any) -> Any:
    """Run with uvloop when installed (the webhook's loop too): the sender costs less CPU."""
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--saturation-seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus" / "real"))
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    objects = corpus_objects(Path(args.corpus))
    bodies = [review_body(o) for o in objects]
    size = statistics.median(map(len, bodies))
    print(f"{len(bodies)} AdmissionReviews from {args.corpus} (median {size:.0f} bytes)")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    results: dict[str, Any] = {"reviews": len(bodies), "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as directory:
        process, port, context = start_webhook(Path(directory))
        url = f"https://127.0.0.1:{port}/validate"
        try:
            run(fixed_rate(url, context, bodies, 50, 2))  # warm up
            cpu_before = cpu_seconds(process.pid)
            fixed = run(fixed_rate(url, context, bodies, args.rate, args.seconds))
            used = cpu_seconds(process.pid) - cpu_before
            fixed["server_cpu_ms_per_review"] = 1000 * used / fixed["sent"]
            print(
                f"fixed rate {args.rate:g}/s for {args.seconds:g} s: {fixed['sent']} sent,"
                f" {fixed['failed']} failed {fixed['failures']}, achieved {fixed['rate']:.1f}/s;"
                f" latency p50 {fixed['p50_ms']:.1f} ms,"
                f" p90 {fixed['p90_ms']:.1f} ms, p99 {fixed['p99_ms']:.1f} ms, max {fixed['max_ms']:.1f} ms;"
                f" the webhook's CPU {fixed['server_cpu_ms_per_review']:.2f} ms per review"
            )
            sat = run(saturation(url, context, bodies, args.concurrency, args.saturation_seconds))
            print(
                f"saturation ({args.concurrency} clients back to back, {args.saturation_seconds:g} s):"
                f" {sat['throughput']:.0f} reviews/s, {sat['failed']} failed"
            )
            results.update(fixed=fixed, saturation=sat)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(15)
    cel = cel_timing(objects)
    print(
        f"CEL (cel-expr-python): {cel['policies']} policies compiled in {cel['compile_ms']:.0f} ms; one pod"
        f" ({cel['typical_pod']}) through all of them {cel['one_pod_all_policies_ms']:.2f} ms"
        f" ({cel['one_pod_per_policy_us']:.0f} us per policy); {cel['corpus_pods']} corpus pods"
        f" {cel['corpus_all_policies_s']:.2f} s; the webhook's Python judgement of one review"
        f" {cel['python_judge_one_review_ms']:.2f} ms"
    )
    results["cel"] = cel
    results["load_after"] = os.getloadavg()[0]
    print(f"load average after: {results['load_after']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
