"""A tiny cluster network made of Linux network namespaces, for ``kharden probe``'s tests.

- A "node" namespace holds a bridge with the pods' gateway (10.244.0.1/16) and, on its loopback
  interface, the stand-ins for what lies outside the cluster: the metadata API at
  :data:`METADATA` (TEST-NET-1) and "the Internet" at :data:`INTERNET` (TEST-NET-3), each a
  small TCP server started in that namespace. The node namespace has no other interface and
  no route: nothing sent in this network can leave it, let alone the machine.
- Each Pod created through the test API server (:class:`PodRunner`, its ``PodRuntime``) gets a
  namespace of its own with a veth to the bridge and an address from 10.244.1.0/24, and its
  container's command runs there under ``ip netns exec`` (``python3`` is this interpreter); what
  it prints is the pod's log. ``activeDeadlineSeconds`` is honoured.
- Two network plugins: :class:`Flannel` programs nothing (policies are accepted and ignored);
  :class:`Enforcing` programs nftables in every pod's namespace from the NetworkPolicies, with
  Kubernetes' semantics written here independently of kharden's engine (isolation per
  direction, union of rules, selectors ANDed within a peer, ipBlock with except applied to
  every address as Calico does, named ports resolved on the destination), reprogrammed
  whenever a pod starts or stops, before the pod's program runs.

Every name carries a tag unique to the test (``khp<tag>...``); :meth:`NetLab.close` removes
the processes, namespaces (and with them the veths, the bridge and every nftables table) even
when the test failed, and :func:`leftovers` lists what would have been left behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

IP = shutil.which("ip") or "/usr/sbin/ip"
NFT = shutil.which("nft") or "/usr/sbin/nft"
GATEWAY = "10.244.0.1"
POD_PREFIX = 16
METADATA = "192.0.2.254"
INTERNET = "203.0.113.80"
_STAND_IN = """
import socket, sys, threading
server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], int(sys.argv[2]))); server.listen(16)
print("ready", flush=True)
while True:
    conn, _ = server.accept()
    conn.close()
"""


def unavailable() -> str | None:
    """Why this machine cannot run the lab (``None``: it can)."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces (ip netns)"
    if shutil.which("ip") is None:
        return "needs iproute2's ip command"
    name = f"khpchk{secrets.token_hex(3)}"
    made = subprocess.run([IP, "netns", "add", name], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace here: {made.stderr.strip()}"
    subprocess.run([IP, "netns", "del", name], capture_output=True, check=False)
    return None


def nft_unavailable() -> str | None:
    return None if shutil.which("nft") else "needs nftables' nft command (apt-get install nftables)"


def _ip(*args: str) -> None:
    done = subprocess.run([IP, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def leftovers(tag: str) -> list[str]:
    """Network namespaces of this lab still present."""
    listed = subprocess.run([IP, "netns", "list"], capture_output=True, text=True, check=False).stdout
    return [line.split()[0] for line in listed.splitlines() if line.startswith(f"khp{tag}")]


def nft_tables(namespace: str | None = None) -> list[str]:
    """nftables tables of a namespace (of the machine's own namespace when ``None``)."""
    command = [NFT, "list", "tables"]
    if namespace is not None:
        command = [IP, "netns", "exec", namespace, *command]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return [line for line in done.stdout.splitlines() if line.strip()]


@dataclass
class RunningPod:
    pod: dict[str, Any]
    namespace: str
    """The network namespace."""
    address: str
    process: subprocess.Popen[bytes] | None = None
    output: list[str] = field(default_factory=list)
    timer: threading.Timer | None = None


class NetLab:
    """The node namespace, its bridge and stand-ins; pods are added and removed by :class:`PodRunner`."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(3)
        self.node = f"khp{self.tag}n"
        self.stand_ins: list[subprocess.Popen[bytes]] = []
        self.closed = False
        try:
            _ip("netns", "add", self.node)
            _ip("-n", self.node, "link", "set", "lo", "up")
            _ip("-n", self.node, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.node, "addr", "add", f"{GATEWAY}/{POD_PREFIX}", "dev", "br0")
            _ip("-n", self.node, "link", "set", "br0", "up")
            for address in (METADATA, INTERNET):
                _ip("-n", self.node, "addr", "add", f"{address}/32", "dev", "lo")
            self._stand_in(METADATA, 80)
            self._stand_in(INTERNET, 443)
        except BaseException:
            self.close()
            raise

    def _stand_in(self, address: str, port: int) -> None:
        process = subprocess.Popen(
            [IP, "netns", "exec", self.node, sys.executable, "-c", _STAND_IN, address, str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.stand_ins.append(process)
        assert process.stdout is not None
        if process.stdout.readline().strip() != b"ready":
            raise RuntimeError(f"the stand-in at {address}:{port} did not start")

    def add_pod(self, number: int) -> tuple[str, str]:
        """A pod namespace wired to the bridge: ``(namespace, address)``."""
        namespace = f"khp{self.tag}p{number}"
        address = f"10.244.1.{number}"
        _ip("netns", "add", namespace)
        _ip(
            "-n",
            self.node,
            "link",
            "add",
            f"v{number}",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            namespace,
        )
        _ip("-n", self.node, "link", "set", f"v{number}", "master", "br0", "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        _ip("-n", namespace, "addr", "add", f"{address}/{POD_PREFIX}", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        _ip("-n", namespace, "route", "add", "default", "via", GATEWAY)
        return namespace, address

    @staticmethod
    def remove_pod(namespace: str) -> None:
        subprocess.run([IP, "netns", "del", namespace], capture_output=True, check=False)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for process in self.stand_ins:
            _kill(process)
        for namespace in leftovers(self.tag):
            subprocess.run([IP, "netns", "del", namespace], capture_output=True, check=False)


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


class Plugin:
    """A network plugin: what it does when the pods of the lab change."""

    def program(self, pods: Sequence[RunningPod], cluster: Sequence[Mapping[str, Any]]) -> None:
        raise NotImplementedError


class Flannel(Plugin):
    """Accepts NetworkPolicies and ignores them, as flannel without a policy agent does."""

    def program(self, pods: Sequence[RunningPod], cluster: Sequence[Mapping[str, Any]]) -> None:
        return None


class PodRunner:
    """The test API server's ``PodRuntime``: a kubelet and a CNI over a :class:`NetLab`."""

    def __init__(self, lab: NetLab, plugin: Plugin, cluster: Sequence[Mapping[str, Any]]) -> None:
        self.lab = lab
        self.plugin = plugin
        self.cluster = cluster
        self.running: dict[str, RunningPod] = {}
        self.lock = threading.RLock()
        self.next = 2

    @staticmethod
    def _key(pod: Mapping[str, Any]) -> str:
        return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"

    def start(self, pod: dict[str, Any]) -> None:
        with self.lock:
            number, self.next = self.next, self.next + 1
            namespace, address = self.lab.add_pod(number)
            running = RunningPod(pod, namespace, address)
            self.running[self._key(pod)] = running
            pod["status"] = {"phase": "Pending", "podIP": address, "podIPs": [{"ip": address}]}
            self.plugin.program(list(self.running.values()), self.cluster)
            container = pod["spec"]["containers"][0]
            command = [*container.get("command", []), *container.get("args", [])]
            if command and command[0] == "python3":
                command[0] = sys.executable
            running.process = subprocess.Popen(
                [IP, "netns", "exec", namespace, *command],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            pod["status"] = {**pod["status"], "phase": "Running"}
            deadline = pod["spec"].get("activeDeadlineSeconds")
            if deadline:
                running.timer = threading.Timer(float(deadline), self._deadline, (running,))
                running.timer.daemon = True
                running.timer.start()
            threading.Thread(target=self._watch, args=(running,), daemon=True).start()

    def _watch(self, running: RunningPod) -> None:
        process = running.process
        assert process is not None
        assert process.stdout is not None
        for line in process.stdout:
            running.output.append(line.decode("utf-8", "replace"))
        code = process.wait()
        status = running.pod["status"]
        if status.get("reason") != "DeadlineExceeded":
            running.pod["status"] = {**status, "phase": "Succeeded" if code == 0 else "Failed"}

    def _deadline(self, running: RunningPod) -> None:
        running.pod["status"] = {**running.pod["status"], "phase": "Failed", "reason": "DeadlineExceeded"}
        if running.process is not None:
            _kill(running.process)

    def stop(self, pod: dict[str, Any]) -> None:
        with self.lock:
            running = self.running.pop(self._key(pod), None)
            if running is None:
                return
            if running.timer is not None:
                running.timer.cancel()
            if running.process is not None:
                _kill(running.process)
            self.lab.remove_pod(running.namespace)
            self.plugin.program(list(self.running.values()), self.cluster)

    def log(self, pod: dict[str, Any]) -> str:
        running = self.running.get(self._key(pod))
        return "".join(running.output) if running is not None else ""

    def close(self) -> None:
        with self.lock:
            for running in list(self.running.values()):
                self.stop(running.pod)


# -- an enforcing plugin: nftables from the NetworkPolicies ------------------------------------------


class Enforcing(Plugin):
    """Programs an nftables table in each pod's namespace from the NetworkPolicies of the cluster.

    ``exempt`` is an address the node lets every pod reach whatever the policies say (a cloud agent
    that answers the metadata address before the plugin sees the packet); ``drop_into`` picks pods
    into which something besides the policies drops everything (a broken node or host firewall).
    """

    def __init__(
        self, exempt: str | None = None, drop_into: Callable[[RunningPod], bool] | None = None
    ) -> None:
        self.exempt = exempt
        self.drop_into = drop_into

    def program(self, pods: Sequence[RunningPod], cluster: Sequence[Mapping[str, Any]]) -> None:
        namespaces = {
            o["metadata"]["name"]: {
                **(o["metadata"].get("labels") or {}),
                "kubernetes.io/metadata.name": o["metadata"]["name"],
            }
            for o in cluster
            if o["kind"] == "Namespace"
        }
        policies = [o for o in cluster if o["kind"] == "NetworkPolicy"]
        for pod in pods:
            ruleset = _ruleset(
                pod, pods, policies, namespaces, self.exempt, bool(self.drop_into and self.drop_into(pod))
            )
            done = subprocess.run(
                [IP, "netns", "exec", pod.namespace, NFT, "-f", "-"],
                input=ruleset,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"nft in {pod.namespace}: {done.stderr.strip()}\n{ruleset}")


def _labels(pod: RunningPod) -> dict[str, str]:
    return dict(pod.pod["metadata"].get("labels") or {})


def _pod_ns(pod: RunningPod) -> str:
    return str(pod.pod["metadata"]["namespace"])


def _matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or ():
        key, operator, values = expression["key"], expression["operator"], set(expression.get("values") or ())
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _types(spec: Mapping[str, Any]) -> set[str]:
    written = spec.get("policyTypes")
    if written:
        return set(written)
    return {"Ingress", "Egress"} if spec.get("egress") else {"Ingress"}


def _peer_addresses(
    peer: Mapping[str, Any],
    policy_ns: str,
    pods: Sequence[RunningPod],
    namespaces: Mapping[str, Mapping[str, str]],
) -> list[str]:
    """nft address matches (``ip X 10.244.1.2`` or ``ip X 0.0.0.0/0 ip X != {...}``) for one peer."""
    block = peer.get("ipBlock")
    if block is not None:
        match = f"@@ {block['cidr']}"
        if block.get("except"):
            match += f" @@ != {{ {', '.join(block['except'])} }}"
        return [match]
    found = []
    for other in pods:
        ns = _pod_ns(other)
        if "namespaceSelector" in peer:
            if not _matches(
                peer["namespaceSelector"], namespaces.get(ns, {"kubernetes.io/metadata.name": ns})
            ):
                continue
        elif ns != policy_ns:
            continue
        if "podSelector" in peer and not _matches(peer["podSelector"], _labels(other)):
            continue
        found.append(f"@@ {other.address}")
    return found


def _port_matches(ports: Sequence[Mapping[str, Any]] | None, named: Mapping[str, int]) -> list[str] | None:
    """nft port matches for a rule's ports (``None``: every port; ``[]``: none resolves)."""
    if not ports:
        return None
    matches = []
    for port in ports:
        protocol = str(port.get("protocol", "TCP")).lower()
        number = port.get("port")
        if number is None:
            matches.append(f"meta l4proto {protocol}")
            continue
        if isinstance(number, str):
            if number not in named:
                continue
            number = named[number]
        end = port.get("endPort")
        matches.append(f"{protocol} dport {number}-{end}" if end else f"{protocol} dport {number}")
    return matches


def _named_ports(pod: RunningPod) -> dict[str, int]:
    named = {}
    for container in pod.pod["spec"]["containers"]:
        for port in container.get("ports") or ():
            if port.get("name"):
                named[port["name"]] = port["containerPort"]
    return named


def _ruleset(
    pod: RunningPod,
    pods: Sequence[RunningPod],
    policies: Sequence[Mapping[str, Any]],
    namespaces: Mapping[str, Mapping[str, str]],
    exempt: str | None = None,
    broken: bool = False,
) -> str:
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == _pod_ns(pod)
        and _matches(p["spec"].get("podSelector") or {}, _labels(pod))
    ]
    chains = []
    for direction, hook, address_key, peers_key in (
        ("Ingress", "input", "saddr", "from"),
        ("Egress", "output", "daddr", "to"),
    ):
        isolating = [p for p in selecting if direction in _types(p["spec"])]
        lines = [
            "ct state established,related accept",
            "iif lo accept" if hook == "input" else "oif lo accept",
        ]
        if broken and hook == "input":
            lines.append("drop")
        if exempt and hook == "output":
            lines.append(f"ip daddr {exempt} accept")
        if isolating:
            for policy in isolating:
                for rule in policy["spec"].get(direction.lower()) or ():
                    lines += _rule_lines(
                        rule,
                        peers_key,
                        address_key,
                        policy["metadata"]["namespace"],
                        pod,
                        pods,
                        namespaces,
                        direction,
                    )
            lines.append("drop")
        body = "\n    ".join(lines)
        chains.append(
            f"  chain {hook} {{\n    type filter hook {hook} priority 0; policy accept;\n    {body}\n  }}"
        )
    return (
        "table inet kharden_test\ndelete table inet kharden_test\ntable inet kharden_test {\n"
        + "\n".join(chains)
        + "\n}\n"
    )


def _rule_lines(
    rule: Mapping[str, Any],
    peers_key: str,
    address_key: str,
    policy_ns: str,
    pod: RunningPod,
    pods: Sequence[RunningPod],
    namespaces: Mapping[str, Mapping[str, str]],
    direction: str,
) -> list[str]:
    peers = rule.get(peers_key)
    ports = rule.get("ports")
    lines = []
    if direction == "Ingress":
        targets: list[tuple[str | None, dict[str, int]]] = [(None, _named_ports(pod))]
    else:
        # Named ports of an egress rule resolve on each destination pod.
        targets = [(None, {})] + [(other.address, _named_ports(other)) for other in pods]
    for destination, named in targets:
        port_matches = _port_matches(ports, named)
        if port_matches == []:
            continue
        if destination is not None and not (ports and any(isinstance(p.get("port"), str) for p in ports)):
            continue  # numeric ports: the address-free line already covers every destination
        addresses: list[str | None]
        if peers is None:
            addresses = [None]
        else:
            addresses = []
            for peer in peers:
                addresses += [
                    a.replace("@@", f"ip {address_key}")
                    for a in _peer_addresses(peer, policy_ns, pods, namespaces)
                ]
        for peer_match in addresses:
            match = peer_match
            if destination is not None:
                if match is not None and "/" not in match and not match.endswith(f" {destination}"):
                    continue
                match = f"{match} ip daddr {destination}" if match else f"ip daddr {destination}"
            ports_or_any: list[str | None] = list(port_matches) if port_matches else [None]
            for port in ports_or_any:
                parts = [part for part in (match, port) if part]
                lines.append(" ".join([*parts, "accept"]))
    return lines


def wait_for(condition: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())
