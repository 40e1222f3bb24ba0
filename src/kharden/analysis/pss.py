"""The Pod Security Standards, control by control, as Pod Security Admission checks them (version latest).

Each control reads the effective pod (:mod:`.podspec`): a container's value where it sets one, else the
pod's, with the legacy seccomp and AppArmor annotations where the fields are unset (the API server
copies them into the fields of the pods it creates). Like the admission plugin:

- **baseline** forbids Windows HostProcess, host namespaces (hostNetwork, hostPID, hostIPC), privileged
  containers, adding capabilities beyond the default set, hostPath volumes, hostPort, AppArmor
  ``Unconfined``, SELinux types other than ``container_t``, ``container_init_t``, ``container_kvm_t`` and
  ``container_engine_t`` (and any SELinux user or role), ``procMount`` other than Default, seccomp
  ``Unconfined`` (the pod's own profile too, whatever its containers set), and sysctls outside the safe
  set;
- **restricted** adds: volume types other than configMap, csi, downwardAPI, emptyDir, ephemeral,
  persistentVolumeClaim, projected and secret; ``allowPrivilegeEscalation`` not false; ``runAsNonRoot``
  not true; ``runAsUser: 0``; seccomp neither RuntimeDefault nor Localhost; capabilities that do not drop
  ALL or add anything but NET_BIND_SERVICE. The Linux-only controls (privilege escalation, seccomp,
  capabilities) do not apply to Windows pods (``spec.os.name: windows``).

https://kubernetes.io/docs/concepts/security/pod-security-standards/
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .podspec import EffectivePod

__all__ = ["BASELINE_CAPABILITIES", "LEVELS", "SAFE_SYSCTLS", "Violation", "level_of", "violations"]

LEVELS = ("privileged", "baseline", "restricted")

BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
        "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    }
)  # fmt: skip
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)  # fmt: skip
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)


@dataclass(frozen=True, slots=True)
class Violation:
    level: str
    """The lowest level the control belongs to: ``baseline`` or ``restricted``."""
    control: str
    """The control's name in the Pod Security Standards (``Privileged Containers``)."""
    detail: str
    """What fails it: ``container 'app': privileged: true``."""

    def __str__(self) -> str:
        return f"{self.control} ({self.detail})"


def level_of(pod: EffectivePod) -> str:
    """The strictest level the pod passes."""
    found = {v.level for v in violations(pod)}
    if "baseline" in found:
        return "privileged"
    if "restricted" in found:
        return "baseline"
    return "restricted"


def violations(pod: EffectivePod) -> Iterator[Violation]:
    yield from _baseline(pod)
    yield from _restricted(pod)


def _who(name: str, list_name: str) -> str:
    label = {"initContainers": "init container", "ephemeralContainers": "ephemeral container"}.get(
        list_name, "container"
    )
    return f"{label} {name!r}"


def _baseline(pod: EffectivePod) -> Iterator[Violation]:
    b = "baseline"
    if any(c.host_process.value is True for c in pod.containers):
        yield Violation(b, "HostProcess", "windowsOptions.hostProcess: true")
    for name, value in (
        ("hostNetwork", pod.host_network),
        ("hostPID", pod.host_pid),
        ("hostIPC", pod.host_ipc),
    ):
        if value.value is True:
            yield Violation(b, "Host Namespaces", f"{name}: true")
    for c in pod.containers:
        who = _who(c.name, c.list_name)
        if c.privileged.value is True:
            yield Violation(b, "Privileged Containers", f"{who}: privileged: true")
        added = [a.value for a in c.capabilities_add if a.value not in BASELINE_CAPABILITIES]
        if added:
            yield Violation(b, "Capabilities", f"{who} adds {', '.join(str(a) for a in added)}")
        ports = [p.host_port.value for p in c.ports if p.host_port.value]
        if ports:
            yield Violation(b, "Host Ports", f"{who}: hostPort {', '.join(str(p) for p in ports)}")
        if c.apparmor_profile.value == "Unconfined":
            yield Violation(b, "AppArmor", f"{who}: Unconfined")
        options = (c.se_linux_options.value or {}) if c.se_linux_options.source == "container" else {}
        if (options.get("type") or "") not in SELINUX_TYPES or options.get("user") or options.get("role"):
            yield Violation(b, "SELinux", f"{who}: seLinuxOptions {dict(options)}")
        if c.proc_mount.value not in (None, "Default"):
            yield Violation(b, "/proc Mount Type", f"{who}: procMount: {c.proc_mount.value}")
        if c.seccomp_profile.value == "Unconfined":
            yield Violation(b, "Seccomp", f"{who}: Unconfined")
    if pod.seccomp_profile.value == "Unconfined":  # the pod's own, even where each container sets one
        yield Violation(b, "Seccomp", "pod: Unconfined")
    pod_options = pod.se_linux_options.value or {}
    if (
        (pod_options.get("type") or "") not in SELINUX_TYPES
        or pod_options.get("user")
        or pod_options.get("role")
    ):
        yield Violation(b, "SELinux", f"pod seLinuxOptions {dict(pod_options)}")
    for volume in pod.volumes:
        if volume.type == "hostPath":
            yield Violation(b, "HostPath Volumes", f"volume {volume.name!r}")
    unsafe = [s.value for s in pod.sysctls if s.value not in SAFE_SYSCTLS]
    if unsafe:
        yield Violation(b, "Sysctls", ", ".join(str(s) for s in unsafe))


def _restricted(pod: EffectivePod) -> Iterator[Violation]:
    r = "restricted"
    for volume in pod.volumes:
        if volume.type is not None and volume.type not in RESTRICTED_VOLUMES and volume.type != "hostPath":
            yield Violation(r, "Volume Types", f"volume {volume.name!r} is {volume.type}")
    linux = not pod.is_windows
    for c in pod.containers:
        who = _who(c.name, c.list_name)
        if linux and c.allow_privilege_escalation.value is not False:
            yield Violation(r, "Privilege Escalation", f"{who}: allowPrivilegeEscalation is not false")
        if c.run_as_non_root.value is not True:
            yield Violation(r, "Running as Non-root", f"{who}: runAsNonRoot is not true")
        if c.run_as_user.value == 0:
            yield Violation(r, "Running as Non-root user", f"{who}: runAsUser: 0")
        if linux and c.seccomp_profile.value not in ("RuntimeDefault", "Localhost"):
            yield Violation(r, "Seccomp", f"{who}: seccompProfile is not RuntimeDefault or Localhost")
        if linux:
            drops = {str(d) for d in c.capabilities_drop.value or ()}
            if "ALL" not in drops:
                yield Violation(r, "Capabilities", f"{who} does not drop ALL")
            added = [a.value for a in c.capabilities_add if a.value != "NET_BIND_SERVICE"]
            if added:
                yield Violation(r, "Capabilities", f"{who} adds {', '.join(str(a) for a in added)}")
