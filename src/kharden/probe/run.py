"""Carrying out a plan: create the pods, let them connect, read what they saw, delete them.

The pods of a run are deleted at its end, when it fails, and on Ctrl-C or SIGTERM (the CLI turns
SIGTERM into the same interruption): the run deletes the pods it created and then every pod
labelled with its run id in the namespaces it touched, which also catches a pod whose creation
was interrupted before the answer came. A run killed outright leaves pods that end by themselves
(``activeDeadlineSeconds``) and that :func:`cleanup` (``kharden probe --cleanup``) deletes.
"""

from __future__ import annotations

import json
import secrets
import signal
import string
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..analysis.netpol import PodClass
from .client import PodClient
from .plan import Address, Plan, Probe
from .pods import PROBE_LABEL, PodSettings, listener_pod, probe_pod

__all__ = ["Observation", "PlannedPods", "RunOutcome", "cleanup", "execute", "new_run_id", "planned_pods"]

_POLL = 0.5
_ALPHABET = string.ascii_lowercase + string.digits


def new_run_id() -> str:
    """Eight lowercase letters and digits: a label value and a part of a pod name."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


@dataclass(frozen=True, slots=True)
class Observation:
    """What one probe saw: ``connected``, ``refused``, ``timeout``, ``unreachable``, ``other`` (a
    connection that the listener did not answer), ``error``, or ``not run`` (with the reason)."""

    probe: Probe
    result: str
    detail: str = ""
    ms: int | None = None


@dataclass(slots=True)
class RunOutcome:
    run_id: str
    observations: list[Observation]
    created: list[tuple[str, str]] = field(default_factory=list)
    deleted: int = 0


@dataclass(frozen=True, slots=True)
class PlannedPods:
    """The pods of a plan: names, manifests (listener manifests and tokens), sources' probes."""

    listeners: dict[int, tuple[str, PodClass, list[int], str]]
    """class index -> (pod name, class, ports, token)."""
    sources: dict[int, tuple[str, PodClass, list[Probe]]]
    """class index -> (pod name, class, probes)."""


def planned_pods(plan: Plan, run_id: str) -> PlannedPods:
    listeners = {}
    for number, (cls, ports) in enumerate(plan.listeners.items(), 1):
        listeners[cls.index] = (
            f"kharden-probe-{run_id}-l{number}",
            cls,
            ports,
            f"kharden-probe {run_id} l{number}",
        )
    sources: dict[int, tuple[str, PodClass, list[Probe]]] = {}
    for probe in plan.probes:
        if probe.source.index not in sources:
            sources[probe.source.index] = (f"kharden-probe-{run_id}-s{len(sources) + 1}", probe.source, [])
        sources[probe.source.index][2].append(probe)
    return PlannedPods(listeners, sources)


def listener_manifests(
    pods: PlannedPods, settings: PodSettings, keys: frozenset[str], uids: dict[str, str]
) -> list[dict[str, Any]]:
    return [
        listener_pod(name, cls, ports, token, settings, keys, uids.get(cls.namespace))
        for name, cls, ports, token in pods.listeners.values()
    ]


def source_manifests(
    pods: PlannedPods,
    settings: PodSettings,
    keys: frozenset[str],
    uids: dict[str, str],
    addresses: dict[int, str] | None = None,
) -> list[dict[str, Any]]:
    """The probe pods; ``addresses`` maps a listener's class index to its pod IP (``None``: a plan,
    where the listeners' addresses are not known yet). A probe whose listener has no address is left
    out (it is reported as not run), and so is a probe pod left with nothing to try."""
    manifests = []
    for name, cls, probes in pods.sources.values():
        targets = []
        for probe in probes:
            target: dict[str, Any] = {"id": probe.id, "port": probe.port}
            if isinstance(probe.destination, Address):
                target["host"] = probe.destination.host
            else:
                listener_name, _, _, token = pods.listeners[probe.destination.index]
                if addresses is None:
                    target["host"] = f"<pod IP of {listener_name}>"
                elif probe.destination.index in addresses:
                    target["host"] = addresses[probe.destination.index]
                else:
                    continue  # its listener never started: not run
                target["token"] = token
            targets.append(target)
        if targets:
            manifests.append(probe_pod(name, cls, targets, settings, keys, uids.get(cls.namespace)))
    return manifests


def execute(
    plan: Plan,
    client: PodClient,
    settings: PodSettings,
    keys: frozenset[str],
    uids: dict[str, str],
    *,
    start_timeout: float = 120.0,
    say: Callable[[str], None] | None = None,
) -> RunOutcome:
    """Run ``plan``: listeners first, then the probe pods with the listeners' addresses; always clean up."""
    tell = say or (lambda _: None)
    run_id = settings.run_id
    pods = planned_pods(plan, run_id)
    outcome = RunOutcome(run_id, [])
    namespaces = sorted(
        {cls.namespace for _, cls, _, _ in pods.listeners.values()}
        | {cls.namespace for _, cls, _ in pods.sources.values()}
    )
    failed: dict[int, str] = {}
    try:
        listeners = listener_manifests(pods, settings, keys, uids)
        if listeners:
            tell(f"creating {len(listeners)} listener pod(s)")
        _create(client, listeners, outcome)
        addresses = _wait_listeners(client, pods, start_timeout, failed)
        sources = source_manifests(pods, settings, keys, uids, addresses)
        tell(f"creating {len(sources)} probe pod(s)")
        _create(client, sources, outcome)
        budget = start_timeout + settings.delay + settings.timeout * 3 + 10
        started = {name for _, name in outcome.created}
        logs = _wait_sources(client, pods, budget, failed, started)
        outcome.observations = _observations(plan, pods, logs, failed)
    finally:
        with _uninterrupted():
            tell("deleting the probe pods")
            outcome.deleted = _cleanup_run(client, run_id, outcome.created, namespaces)
    return outcome


def cleanup(
    client: PodClient, namespaces: tuple[str, ...] = (), run_id: str | None = None
) -> list[tuple[str, str]]:
    """Delete the pods of every probe run (or of ``run_id``), in ``namespaces`` or in all; return them."""
    selector = PROBE_LABEL if run_id is None else f"{PROBE_LABEL}={run_id}"
    deleted = []
    for namespace in namespaces or (None,):
        for pod in client.list(namespace, selector):
            meta = pod.get("metadata") or {}
            ns, name = str(meta.get("namespace") or namespace), str(meta.get("name") or "")
            if name and client.delete(ns, name):
                deleted.append((ns, name))
    return deleted


def _cleanup_run(
    client: PodClient, run_id: str, created: list[tuple[str, str]], namespaces: list[str]
) -> int:
    deleted = 0
    for namespace, name in created:
        deleted += client.delete(namespace, name)
    deleted += len(cleanup(client, tuple(namespaces), run_id)) if namespaces else 0
    return deleted


@contextmanager
def _uninterrupted() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait while the pods are deleted (each request has its own timeout)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, signal.SIG_IGN)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _create(client: PodClient, manifests: list[dict[str, Any]], outcome: RunOutcome) -> None:
    for manifest in manifests:
        meta = manifest["metadata"]
        client.create(manifest)
        outcome.created.append((meta["namespace"], meta["name"]))


def _wait_listeners(
    client: PodClient, pods: PlannedPods, timeout: float, failed: dict[int, str]
) -> dict[int, str]:
    """The pod IP of every listener that is up and listening; why the others are not, in ``failed``."""
    waiting = dict(pods.listeners)
    addresses: dict[int, str] = {}
    deadline = time.monotonic() + timeout
    while waiting:
        for index, (name, cls, _, _) in list(waiting.items()):
            pod = client.get(cls.namespace, name)
            status = (pod or {}).get("status") or {}
            phase = status.get("phase")
            if pod is None or phase in ("Failed", "Succeeded"):
                failed[index] = f"the listener pod {cls.namespace}/{name} ended ({_why(pod)})"
                del waiting[index]
            elif (
                phase == "Running"
                and status.get("podIP")
                and '"listening"' in client.log(cls.namespace, name)
            ):
                addresses[index] = str(status["podIP"])
                del waiting[index]
        if not waiting:
            break
        if time.monotonic() > deadline:
            for index, (name, cls, _, _) in waiting.items():
                pod = client.get(cls.namespace, name)
                failed[index] = (
                    f"the listener pod {cls.namespace}/{name} did not start within {timeout:g} s"
                    f" ({_why(pod)})"
                )
            break
        time.sleep(_POLL)
    return addresses


def _wait_sources(
    client: PodClient, pods: PlannedPods, timeout: float, failed: dict[int, str], started: set[str]
) -> dict[int, str]:
    """The log of every probe pod once it has ended; why not, in ``failed`` (keyed by ``-1 - index``)."""
    waiting = {index: pod for index, pod in pods.sources.items() if pod[0] in started}
    logs: dict[int, str] = {}
    deadline = time.monotonic() + timeout
    while waiting:
        for index, (name, cls, _) in list(waiting.items()):
            pod = client.get(cls.namespace, name)
            phase = ((pod or {}).get("status") or {}).get("phase")
            if pod is None:
                failed[-1 - index] = f"the probe pod {cls.namespace}/{name} went away"
                del waiting[index]
            elif phase in ("Succeeded", "Failed"):
                logs[index] = client.log(cls.namespace, name)
                if phase == "Failed" and '"done"' not in logs[index]:
                    failed[-1 - index] = f"the probe pod {cls.namespace}/{name} failed ({_why(pod)})"
                del waiting[index]
        if not waiting:
            break
        if time.monotonic() > deadline:
            for index, (name, cls, _) in waiting.items():
                logs[index] = client.log(cls.namespace, name)
                pod = client.get(cls.namespace, name)
                failed[-1 - index] = (
                    f"the probe pod {cls.namespace}/{name} did not finish within {timeout:g} s ({_why(pod)})"
                )
            break
        time.sleep(_POLL)
    return logs


def _why(pod: dict[str, Any] | None) -> str:
    """A pod's state in a few words: phase, and the reason of a waiting or terminated container."""
    if pod is None:
        return "deleted"
    status = pod.get("status") or {}
    words = [str(status.get("phase") or "Pending")]
    if status.get("reason"):
        words.append(str(status["reason"]))
    for container in status.get("containerStatuses") or ():
        state = (container or {}).get("state") or {}
        for key in ("waiting", "terminated"):
            reason = (state.get(key) or {}).get("reason")
            if reason:
                words.append(str(reason))
    return ", ".join(words)


def _observations(
    plan: Plan, pods: PlannedPods, logs: dict[int, str], failed: dict[int, str]
) -> list[Observation]:
    seen: dict[str, dict[str, Any]] = {}
    for log in logs.values():
        for line in log.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("id"), str):
                seen[record["id"]] = record
    observations = []
    for probe in plan.probes:
        record = seen.get(probe.id)
        if record is not None:
            ms = record.get("ms")
            observations.append(
                Observation(
                    probe,
                    str(record.get("result")),
                    str(record.get("detail") or ""),
                    ms if isinstance(ms, int) else None,
                )
            )
            continue
        reason = failed.get(-1 - probe.source.index)
        if reason is None and isinstance(probe.destination, PodClass):
            reason = failed.get(probe.destination.index)
        observations.append(Observation(probe, "not run", reason or "the probe pod reported nothing for it"))
    return observations
