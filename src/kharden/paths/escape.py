"""How a container gets out onto its node: the pod rules' findings that hand the node over.

The facts are the hits of kharden's own pod rules on the effective pod, so a step out of a pod
carries exactly the finding a scan reports (rule, object, field). Which hits are a way out:

- ``pod.privileged``: every device and capability of the node, no confinement (a Windows
  HostProcess container is a process of the node);
- ``pod.sensitive-mount``: a runtime socket (start a privileged container), ``/``, the kubelet's
  or the runtime's state, ``/etc/kubernetes``, ``/proc``, ``/sys``, ``/root``, ``/dev``;
- ``pod.dangerous-capabilities`` for ``SYS_ADMIN`` (mounts, cgroup release agents),
  ``SYS_MODULE`` (kernel modules), ``DAC_READ_SEARCH`` (reading any host file by handle) and
  ``ALL``; ``SYS_PTRACE`` only with ``hostPID`` (``pod.host-namespaces``), where the node's
  processes are there to be traced. In a user namespace (``hostUsers: false``) capabilities hold
  inside it only, so they are no way out.

``hostPID`` and ``hostIPC`` alone are not a way out: the node's processes can be seen, and sent
signals, but not entered or traced without a capability the container lacks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from ..analysis.podspec import EffectivePod, normalize_capability
from ..model import Hit, Unevaluated
from ..rules import Rule
from ..rules import get as get_rule
from .model import Evidence

__all__ = ["escapes"]

_BREAKOUT_CAPABILITIES = frozenset({"SYS_ADMIN", "SYS_MODULE", "DAC_READ_SEARCH", "ALL"})


Check = Callable[[Rule, EffectivePod], Iterable[Hit | Unevaluated]]
"""How a pod rule is asked about a pod (``ScanContext.pod_answer`` keeps its answers for the runner)."""


def escapes(pod: EffectivePod, check: Check | None = None) -> Iterator[tuple[str, tuple[Evidence, ...]]]:
    """``(summary, facts)`` for each way out of ``pod`` onto its node; every fact is needed."""
    asked = check or _check
    privileged, mounts, namespaces, capabilities = _rules()
    for hit in asked(privileged, pod):
        if isinstance(hit, Hit):
            yield "a privileged container is root on its node", (_fact(privileged, pod, hit),)
    for hit in asked(mounts, pod):
        if isinstance(hit, Hit):
            yield f"mounts the node's {_host_path(pod, hit.path)}", (_fact(mounts, pod, hit),)
    dangerous = [hit for hit in asked(capabilities, pod) if isinstance(hit, Hit)]
    if not dangerous or pod.host_users.value is False:
        return  # (most pods; in a user namespace capabilities hold inside it only)
    names = {c.path: normalize_capability(c.value) for co in pod.containers for c in co.capabilities_add}
    host_pid: list[Evidence] | None = None
    for hit in dangerous:
        name = names.get(hit.path, "")
        if name in _BREAKOUT_CAPABILITIES:
            yield f"capability {name} breaks out of the container", (_fact(capabilities, pod, hit),)
        elif name == "SYS_PTRACE":
            if host_pid is None:
                host_pid = [
                    _fact(namespaces, pod, each)
                    for each in asked(namespaces, pod)
                    if isinstance(each, Hit) and each.path == pod.host_pid.path
                ]
            if host_pid:
                facts = (_fact(capabilities, pod, hit), host_pid[0])
                yield "SYS_PTRACE with hostPID traces the node's processes", facts


def _check(rule: Rule, pod: EffectivePod) -> Iterable[Hit | Unevaluated]:
    return rule.check(pod)


def _rules() -> tuple[Rule, Rule, Rule, Rule]:
    """The pod rules whose findings hand the node over."""
    return (
        get_rule("pod.privileged"),
        get_rule("pod.sensitive-mount"),
        get_rule("pod.host-namespaces"),
        get_rule("pod.dangerous-capabilities"),
    )


def _fact(rule: Rule, pod: EffectivePod, hit: Hit) -> Evidence:
    return Evidence.at(pod.obj, hit.path, hit.message, rule=rule.id, fix=rule.remediation)


def _host_path(pod: EffectivePod, pointer: str) -> str:
    for volume in pod.volumes:
        if pointer == f"{volume.path}/path":
            return f"{volume.source.get('path')}"
    return "files"
