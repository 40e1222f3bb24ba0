"""Differential test of kharden's NetworkPolicy engine against network-config-analyzer (NCA).

    .venv/bin/python bench/difftest.py [--clusters 200] [--seed 1] [--nca PATH] [--jobs 2]
                                       [--keep DIR] [--json FILE]

Generates small random clusters (namespaces with labels, Deployments with labels and named
ports, NetworkPolicies with every shape of selector, ipBlocks with excepts in IPv4 and IPv6,
ports, named ports, endPort ranges, policyTypes absent or explicit, empty rule lists and `{}`
rules), asks NCA for the connectivity of each (`nca --connectivity -o txt_no_fw_rules
--print_ipv6`), and compares it with kharden's answer for:

- every ordered pair of distinct Deployments: the set of allowed (protocol, port);
- every Deployment to and from addresses outside the cluster, at every address where some
  ipBlock of the cluster starts or ends (both tools' answers are constant between those).

NCA comes from --nca, else bench/.venv-nca/bin/nca (installed on first use with
`python -m venv` and `pip install network-config-analyzer`). Exit status 1 when a
disagreement is not one of the documented ones (KNOWN below), 0 otherwise.
"""

from __future__ import annotations

import argparse
import copy
import ipaddress
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from kharden.analysis._netsets import MAX_PORT, PROTOCOLS, AddressSet, PortSet  # noqa: E402
from kharden.analysis.context import ScanContext  # noqa: E402
from kharden.analysis.netpol import External, Network, PodClass  # noqa: E402
from kharden.inventory import Inventory  # noqa: E402
from kharden.sources.documents import Collected  # noqa: E402

NCA_VENV = ROOT / "bench" / ".venv-nca"

# ---------------------------------------------------------------------------------------------
# random clusters

NAMESPACES = ["ns-a", "ns-b", "ns-c", "ns-d"]
POD_LABELS = {"app": ["web", "api", "db"], "tier": ["front", "back"], "ver": ["v1", "v2"]}
NS_LABELS = {"team": ["red", "blue"], "env": ["prod", "dev"]}
NAMED_PORTS = [("http", 8080, "TCP"), ("grpc", 9090, "TCP"), ("dns", 53, "UDP"), ("metrics", 9100, "TCP"),
               ("stream", 7777, "SCTP"), ("alt", 8081, "TCP")]  # fmt: skip
CIDRS = {
    "0.0.0.0/0": ["10.0.0.0/8", "169.254.169.254/32", "192.168.0.0/16", "100.64.0.0/10"],
    "10.0.0.0/8": ["10.1.0.0/16", "10.2.3.0/24", "10.255.255.255/32"],
    "10.1.0.0/16": ["10.1.1.0/24", "10.1.0.0/17"],
    "169.254.0.0/16": ["169.254.169.254/32"],
    "192.168.0.0/16": ["192.168.1.0/24"],
    "203.0.113.7/32": [],
    "::/0": ["fd00::/8", "fd00:ec2::254/128", "2001:db8::/32"],
    "2001:db8::/32": ["2001:db8:1::/48"],
    "fd00:ec2::254/128": [],
}


def _labels(rng: random.Random, vocab: dict[str, list[str]], p: float) -> dict[str, str]:
    return {k: rng.choice(v) for k, v in vocab.items() if rng.random() < p}


def _selector(rng: random.Random, vocab: dict[str, list[str]]) -> dict[str, Any]:
    r = rng.random()
    if r < 0.25:
        return {}
    if r < 0.6:
        key = rng.choice(list(vocab))
        return {"matchLabels": {key: rng.choice(vocab[key])}}
    expressions = []
    for key in rng.sample(list(vocab), rng.randint(1, 2)):
        op = rng.choice(["In", "NotIn", "Exists", "DoesNotExist"])
        e: dict[str, Any] = {"key": key, "operator": op}
        if op in ("In", "NotIn"):
            e["values"] = rng.sample(vocab[key], rng.randint(1, len(vocab[key])))
        expressions.append(e)
    selector: dict[str, Any] = {"matchExpressions": expressions}
    if rng.random() < 0.2:
        key = rng.choice(list(vocab))
        selector["matchLabels"] = {key: rng.choice(vocab[key])}
    return selector


def _peer(rng: random.Random) -> dict[str, Any]:
    r = rng.random()
    ns_vocab = {**NS_LABELS, "kubernetes.io/metadata.name": NAMESPACES}
    if r < 0.3:
        return {"podSelector": _selector(rng, POD_LABELS)}
    if r < 0.55:
        return {"namespaceSelector": _selector(rng, ns_vocab)}
    if r < 0.75:
        return {"namespaceSelector": _selector(rng, ns_vocab), "podSelector": _selector(rng, POD_LABELS)}
    cidr = rng.choice(list(CIDRS))
    block: dict[str, Any] = {"cidr": cidr}
    candidates = CIDRS[cidr]
    if candidates and rng.random() < 0.6:
        block["except"] = rng.sample(candidates, rng.randint(1, len(candidates)))
    return {"ipBlock": block}


def _ports(rng: random.Random) -> list[dict[str, Any]] | None:
    if rng.random() < 0.35:
        return None
    ports = []
    for _ in range(rng.randint(1, 3)):
        r = rng.random()
        entry: dict[str, Any] = {}
        if rng.random() < 0.5:
            entry["protocol"] = rng.choice(PROTOCOLS)
        protocol = entry.get("protocol", "TCP")
        if r < 0.15:
            pass  # every port of the protocol
        elif r < 0.45:
            name, _, named_protocol = rng.choice(NAMED_PORTS)
            entry["port"] = name
            if rng.random() < 0.7:
                entry["protocol"] = named_protocol
        elif r < 0.7:
            entry["port"] = rng.choice([53, 80, 443, 8080, 9090, 9100, 7777, 8081])
        else:
            start = rng.choice([1, 53, 1000, 8000, 9000])
            entry["port"] = start
            entry["endPort"] = start + rng.choice([0, 1, 100, 2000])
        del protocol
        ports.append(entry)
    return ports


def _rules(rng: random.Random, key: str) -> list[dict[str, Any]] | None:
    r = rng.random()
    if r < 0.25:
        return None
    if r < 0.33:
        return []
    rules = []
    for _ in range(rng.randint(1, 2)):
        if rng.random() < 0.1:
            rules.append({})
            continue
        rule: dict[str, Any] = {}
        if rng.random() < 0.85:
            rule[key] = [_peer(rng) for _ in range(rng.randint(1, 3))]
        ports = _ports(rng)
        if ports is not None:
            rule["ports"] = ports
        rules.append(rule)
    return rules


def generate(rng: random.Random) -> list[dict[str, Any]]:
    namespaces = NAMESPACES[: rng.randint(2, 4)]
    docs: list[dict[str, Any]] = []
    for name in namespaces:
        labels = {**_labels(rng, NS_LABELS, 0.7), "kubernetes.io/metadata.name": name}
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
    for i in range(rng.randint(2, 6)):
        labels = _labels(rng, POD_LABELS, 0.7) or {"app": "web"}
        ports = [
            {"name": n, "containerPort": p, "protocol": proto}
            for n, p, proto in rng.sample(NAMED_PORTS, rng.randint(0, 3))
        ]
        containers: list[dict[str, Any]] = [{"name": "c", "image": "registry.example.com/app:1"}]
        if len(ports) > 1 and rng.random() < 0.3:  # a sidecar holds some of the named ports
            containers.append(
                {"name": "sidecar", "image": "registry.example.com/proxy:1", "ports": ports[1:]}
            )
            ports = ports[:1]
        if ports:
            containers[0]["ports"] = ports
        pod_spec: dict[str, Any] = {"containers": containers}
        if rng.random() < 0.05:
            pod_spec["hostNetwork"] = True
        docs.append({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": f"d{i}", "namespace": rng.choice(namespaces)},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": pod_spec}},
        })  # fmt: skip
    for i in range(rng.randint(1, 5)):
        spec: dict[str, Any] = {"podSelector": _selector(rng, POD_LABELS)}
        types = rng.choice([None, None, ["Ingress"], ["Egress"], ["Ingress", "Egress"]])
        if types is not None:
            spec["policyTypes"] = types
        for direction, key in (("ingress", "from"), ("egress", "to")):
            if types is not None and direction.capitalize() not in types:
                # The API server accepts rules of a direction policyTypes leaves out (they have no
                # effect); NCA refuses the whole cluster, so the random clusters do not write them.
                continue
            rules = _rules(rng, key)
            if rules is not None:
                spec[direction] = rules
        docs.append({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": f"p{i}", "namespace": rng.choice(namespaces)}, "spec": spec,
        })  # fmt: skip
    return docs


# ---------------------------------------------------------------------------------------------
# NCA's answer

_LINE = re.compile(r"^(?P<src>\S+) => (?P<dst>\S+) : (?P<conn>.+)$")
_CONN = re.compile(r"\{protocols:(?P<protocols>[A-Z, ]+)(?:,dst_ports:(?P<ports>[0-9,\-]+))?\}")
_DEPLOYMENT = re.compile(r"^(?P<ns>[^/]+)/(?P<name>[^\[]+)\[Deployment\]$")


def _conn(text: str) -> PortSet:
    if text.strip() == "All connections":
        return PortSet.of("TCP") | PortSet.of("UDP") | PortSet.of("SCTP")
    ports = PortSet()
    for match in _CONN.finditer(text):
        protocols = [p.strip() for p in match["protocols"].split(",") if p.strip()]
        for protocol in protocols:
            if protocol not in PROTOCOLS:
                continue  # ICMP and the like: not NetworkPolicy protocols
            if match["ports"] is None:
                ports |= PortSet.of(protocol)
                continue
            for part in match["ports"].split(","):
                lo, _, hi = part.partition("-")
                ports |= PortSet.of(protocol, int(lo), int(hi or lo))
    return ports


Endpoint = tuple[str, str] | tuple[int, int, int]  # a Deployment (ns, name), or (version, first, last)


def _endpoint(text: str) -> Endpoint:
    match = _DEPLOYMENT.match(text)
    if match:
        return (match["ns"], match["name"])
    first, _, last = text.partition("-") if ":" not in text else _split_v6(text)
    a, b = ipaddress.ip_address(first), ipaddress.ip_address(last or first)
    return (a.version, int(a), int(b))


def _split_v6(text: str) -> tuple[str, str, str]:
    first, sep, last = text.partition("-")
    return first, sep, last


@dataclass
class NcaAnswer:
    pairs: dict[tuple[Endpoint, Endpoint], PortSet] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    failed: bool = False


def run_nca(nca: Path, path: Path) -> NcaAnswer:
    done = subprocess.run(
        [str(nca), "--connectivity", "-r", str(path), "-o", "txt_no_fw_rules", "--print_ipv6"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    answer = NcaAnswer(failed=done.returncode != 0 and "Error" in done.stdout + done.stderr)
    for line in done.stdout.splitlines():
        match = _LINE.match(line)
        if match is None:
            if "Warning" in line or "Error" in line:
                answer.warnings.append(line)
            continue
        key = (_endpoint(match["src"]), _endpoint(match["dst"]))
        answer.pairs[key] = answer.pairs.get(key, PortSet()) | _conn(match["conn"])
    answer.warnings += [line for line in done.stderr.splitlines() if line.strip()]
    return answer


# ---------------------------------------------------------------------------------------------
# kharden's answer and the comparison


def kharden_network(path: Path) -> tuple[Network, dict[tuple[str, str], PodClass], list[str]]:
    collected = Collected()
    collected.add_stream(path.read_bytes(), str(path))
    context = ScanContext(Inventory(collected.objects), frozenset("MG"))
    network = context.network
    by_deployment = {}
    for cls in network.classes:
        for pod in cls.pods:
            by_deployment[(pod.obj.ref.namespace or "default", pod.obj.ref.name)] = cls
    return network, by_deployment, [str(e) for e in context.errors]


def _boundaries(docs: list[dict[str, Any]]) -> dict[int, set[int]]:
    points: dict[int, set[int]] = {4: {0, (1 << 32) - 1}, 6: {0, (1 << 128) - 1}}
    for doc in docs:
        text = json.dumps(doc)
        for cidr in re.findall(r'"cidr": "([^"]+)"', text) + re.findall(r'"([0-9a-f:.]+/\d+)"', text):
            net = ipaddress.ip_network(cidr, strict=False)
            lo, hi = int(net.network_address), int(net.broadcast_address)
            top = (1 << net.max_prefixlen) - 1
            points[net.version] |= {p for p in (lo - 1, lo, hi, hi + 1) if 0 <= p <= top}
    return points


def _address(version: int, value: int) -> External:
    text = str(ipaddress.ip_address(value) if version == 4 else ipaddress.IPv6Address(value))
    return External(text, AddressSet.parse(text))


def _nca_external(
    answer: NcaAnswer, deployment: tuple[str, str], version: int, value: int, egress: bool
) -> PortSet:
    for (src, dst), ports in answer.pairs.items():
        ext, pod = (dst, src) if egress else (src, dst)
        if pod == deployment and len(ext) == 3 and ext[0] == version and ext[1] <= value <= ext[2]:  # type: ignore[misc]
            return ports
    return PortSet()


@dataclass
class Disagreement:
    cluster: int
    what: str
    nca: str
    kharden: str


CHECKS = {"pairs": 0, "addresses": 0}
"""How many answers were compared: pairs of Deployments, Deployments with an address each way."""


def compare(index: int, docs: list[dict[str, Any]], path: Path, answer: NcaAnswer) -> list[Disagreement]:
    if answer.failed:
        return [Disagreement(index, "nca refused the cluster", "; ".join(answer.warnings), "")]
    network, by_deployment, errors = kharden_network(path)
    out = []
    if errors:
        out.append(Disagreement(index, "kharden input errors", "", "; ".join(errors)))
    deployments = sorted(by_deployment)
    for src in deployments:
        for dst in deployments:
            if src == dst:
                continue
            CHECKS["pairs"] += 1
            ours = network.connection(by_deployment[src], by_deployment[dst]).ports
            theirs = answer.pairs.get((src, dst), PortSet())
            if ours != theirs:
                out.append(
                    Disagreement(index, f"{src[0]}/{src[1]} -> {dst[0]}/{dst[1]}", str(theirs), str(ours))
                )
    points = _boundaries(docs)
    for deployment in deployments:
        cls = by_deployment[deployment]
        for version, values in points.items():
            for value in sorted(values):
                external = _address(version, value)
                for egress in (True, False):
                    CHECKS["addresses"] += 1
                    if egress:
                        ours = network.connection(cls, external).ports
                    else:
                        ours = network.connection(external, cls).ports
                    theirs = _nca_external(answer, deployment, version, value, egress)
                    if ours != theirs:
                        arrow = f"-> {external}" if egress else f"<- {external}"
                        out.append(
                            Disagreement(
                                index, f"{deployment[0]}/{deployment[1]} {arrow}", str(theirs), str(ours)
                            )
                        )
    return out


# ---------------------------------------------------------------------------------------------

# Disagreements that are settled: where NCA reads a cluster differently from Kubernetes. Each one
# rewrites a cluster into what NCA understands it to be; when kharden's answer on the rewritten
# cluster equals NCA's, every disagreement of that cluster is explained by the rewrites it needed.


@dataclass(frozen=True)
class Known:
    name: str
    decides: str
    """The Kubernetes text that decides, and where it is."""
    rewrite: Callable[[list[dict[str, Any]]], bool]
    """Rewrite the cluster in place as NCA reads it; True when something changed."""


def _empty_egress_isolates(docs: list[dict[str, Any]]) -> bool:
    changed = False
    for doc in docs:
        spec = doc.get("spec", {})
        if doc["kind"] == "NetworkPolicy" and not spec.get("policyTypes") and spec.get("egress") == []:
            spec["policyTypes"] = ["Ingress", "Egress"]
            changed = True
    return changed


def _key_requirements_stay_home(docs: list[dict[str, Any]]) -> bool:
    changed = False
    for doc in docs:
        if doc["kind"] != "NetworkPolicy":
            continue
        spec = doc["spec"]
        for direction, key in (("ingress", "from"), ("egress", "to")):
            for rule in spec.get(direction) or []:
                for peer in rule.get(key) or []:
                    pods, namespaces = peer.get("podSelector"), peer.get("namespaceSelector")
                    if namespaces is None or not pods:
                        continue
                    if any(
                        e["operator"] in ("Exists", "DoesNotExist") for e in pods.get("matchExpressions", [])
                    ):
                        home = {"key": "kubernetes.io/metadata.name", "operator": "In",
                                "values": [doc["metadata"]["namespace"]]}  # fmt: skip
                        namespaces.setdefault("matchExpressions", []).append(home)
                        changed = True
    return changed


def _host_network_is_pod_network(docs: list[dict[str, Any]]) -> bool:
    changed = False
    for doc in docs:
        if doc["kind"] == "Deployment" and doc["spec"]["template"]["spec"].pop("hostNetwork", None):
            changed = True
    return changed


KNOWN = [
    Known(
        "nca: 'egress: []' without policyTypes isolates egress",
        "Kubernetes defaults policyTypes to Egress only when the policy 'has any egress rules'"
        " (SetDefaults_NetworkPolicy: len(spec.Egress) != 0); an empty list has none. NCA adds"
        " Egress whenever the egress key is present (K8sPolicyYamlParser: 'egress' in policy_spec)."
        " https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource",
        _empty_egress_isolates,
    ),
    Known(
        "nca: Exists/DoesNotExist in a peer's podSelector only match pods of the policy's namespace",
        "'If NamespaceSelector is also set, then the NetworkPolicyPeer as a whole selects the Pods"
        " matching PodSelector in the Namespaces selected by NamespaceSelector' (NetworkPolicyPeer,"
        " API reference); NCA evaluates Exists/DoesNotExist with get_peers_with_key(self.namespace, ...),"
        " within the policy's own namespace, while In/NotIn look at every namespace."
        " https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/",
        _key_requirements_stay_home,
    ),
    Known(
        "nca: hostNetwork pods are selected and isolated like other pods",
        "'NetworkPolicy behaviour for hostNetwork pods is undefined ... The network plugin cannot properly"
        " distinguish hostNetwork pod traffic, and so it ignores hostNetwork pods when matching podSelector"
        " and namespaceSelector. Traffic to/from hostNetwork pods is treated the same as all other traffic"
        " to/from the node IP. (This is the most common implementation.)' NCA does not read hostNetwork."
        " https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicies-and-hostnetwork-pods",
        _host_network_is_pod_network,
    ),
]


def _nca_path(given: str | None) -> Path:
    if given:
        return Path(given)
    nca = NCA_VENV / "bin" / "nca"
    if not nca.exists():
        print(f"installing network-config-analyzer into {NCA_VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(NCA_VENV)], check=True)
        subprocess.run(
            [str(NCA_VENV / "bin" / "pip"), "install", "-q", "network-config-analyzer"], check=True
        )
    return nca


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def clusters(seed: int, count: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    rng = random.Random(seed)
    for index in range(count):
        yield index, generate(rng)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--nca", help="the nca executable (default: bench/.venv-nca/bin/nca, installed if missing)"
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--keep", metavar="DIR", help="write the clusters to DIR and keep them")
    parser.add_argument("--json", metavar="FILE", help="write the disagreements as JSON")
    parser.add_argument("--show", type=int, default=20, help="print at most this many disagreements")
    args = parser.parse_args(argv)
    nca = _nca_path(args.nca)
    started = time.perf_counter()
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="kharden-difftest-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cases = []
    for index, docs in clusters(args.seed, args.clusters):
        path = workdir / f"cluster-{index:04d}.yaml"
        path.write_text(yaml.dump_all(docs, Dumper=_NoAliases, sort_keys=False))
        cases.append((index, docs, path))
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        answers = list(pool.map(lambda case: run_nca(nca, case[2]), cases))
    first = [
        compare(index, docs, path, answer) for (index, docs, path), answer in zip(cases, answers, strict=True)
    ]
    checked = dict(CHECKS)  # the comparisons of the clusters as written (rewrites below compare again)
    found = [d for differences in first for d in differences]
    unexplained: list[Disagreement] = []
    settled: dict[str, list[int]] = {k.name: [] for k in KNOWN}
    for (index, docs, path), answer, differences in zip(cases, answers, first, strict=True):
        if not differences:
            continue
        rewritten = copy.deepcopy(docs)
        applied = [k for k in KNOWN if k.rewrite(rewritten)]
        remaining = differences
        if applied:
            as_nca = path.with_suffix(".as-nca.yaml")
            as_nca.write_text(yaml.dump_all(rewritten, Dumper=_NoAliases, sort_keys=False))
            remaining = compare(index, rewritten, as_nca, answer)
            as_nca.unlink()
        if remaining:
            unexplained += remaining
        else:
            for known in applied:
                settled[known.name].append(index)
    clusters_with = sorted({d.cluster for d in found})
    compared = f"{checked['pairs']} pairs of Deployments, {checked['addresses']} Deployment-address checks"
    elapsed = time.perf_counter() - started
    print(f"{args.clusters} clusters ({compared}), {len(found)} disagreements in {len(clusters_with)}"
          f" clusters, {len(unexplained)} not explained ({elapsed:.0f} s)")  # fmt: skip
    for known in KNOWN:
        print(f"  settled, {len(settled[known.name])} clusters: {known.name}\n      {known.decides}")
    for d in unexplained[: args.show]:
        print(f"  cluster {d.cluster:4d} {d.what}\n      nca:     {d.nca}\n      kharden: {d.kharden}")
    if args.json:
        report = {
            "clusters": args.clusters,
            "checked": checked,
            "disagreements": [d.__dict__ for d in found],
            "settled": {k.name: {"decides": k.decides, "clusters": settled[k.name]} for k in KNOWN},
            "unexplained": [d.__dict__ for d in unexplained],
        }
        Path(args.json).write_text(json.dumps(report, indent=2))
    if not args.keep:
        for _, _, path in cases:
            path.unlink()
        workdir.rmdir()
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())


_ = MAX_PORT
