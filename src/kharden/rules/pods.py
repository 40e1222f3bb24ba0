"""Checklist section D: pods and containers (not their images, see ``images.py``).

Every rule reads the effective pod spec (``analysis/podspec.py``): inheritance from the
pod securityContext, the three container lists, the legacy annotations. Linux-only
controls (capabilities, seccomp, AppArmor, SELinux, privilege escalation, read-only root
filesystem, procMount) do not apply to Windows pods (``spec.os.name: windows``), as in
the Pod Security Standards.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from typing import Any

from ..analysis.podspec import EffectiveContainer, EffectivePod, Field, normalize_capability
from ..model import Hit, Severity
from ._podcheck import by_field, hit_for, plural_s, set_where, who
from ._ruleset import RuleSet

rules = RuleSet("pods")

PSS = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
SECURITY_CONTEXT = "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/"


@rules.pod(
    "pod.run-as-root",
    Severity.HIGH,
    title="Container may run as root",
    remediation=(
        "set securityContext.runAsNonRoot: true and a non-zero runAsUser (on the pod or the container)"
    ),
    references=(PSS + "#restricted", SECURITY_CONTEXT),
)
def run_as_root(pod: EffectivePod) -> Iterator[Hit]:
    """Fires when a container's effective runAsNonRoot is not true and its effective runAsUser is unset
    or 0; runAsUser 0 fires even with runAsNonRoot: true.

    A process running as root in a container is root on the node once it escapes, and owns every file
    the container can reach. With neither field set, the image's USER decides, and most images run as
    root. In a user namespace (hostUsers: false) container root maps to an unprivileged user of the
    node, so the finding is graded medium there.

    Reads: securityContext.runAsUser and runAsNonRoot of the pod and of every container, initContainer
    and ephemeralContainer (a container's value overrides the pod's); spec.hostUsers.
    """
    namespaced = pod.host_users.value is False
    severity = Severity.MEDIUM if namespaced else None
    note = " in a user namespace (hostUsers: false)" if namespaced else ""
    for user, containers in by_field(pod, lambda c: c.run_as_user if c.run_as_user.value == 0 else None):
        yield hit_for(
            user,
            containers,
            f"{who(containers)} run{plural_s(containers)} as root{note} (runAsUser: 0{set_where(user)})",
            severity,
        )
    for field, containers in by_field(
        pod,
        lambda c: (
            c.run_as_non_root if c.run_as_user.value is None and c.run_as_non_root.value is not True else None
        ),
    ):
        state = "runAsNonRoot: false" if field.value is False else "runAsNonRoot is not set"
        yield hit_for(
            field,
            containers,
            f"{who(containers)} may run as root{note}: {state}{set_where(field)} and runAsUser is not set",
            severity,
        )


@rules.pod(
    "pod.root-group",
    Severity.MEDIUM,
    title="Root group",
    remediation="use a non-zero runAsGroup and fsGroup, and remove 0 from supplementalGroups",
    references=(SECURITY_CONTEXT,),
)
def root_group(pod: EffectivePod) -> Iterator[Hit]:
    """Fires on runAsGroup: 0 (pod or container), fsGroup: 0, or a 0 in supplementalGroups.

    Group 0 owns many host files writable by group; a process in it can read and change them after an
    escape, and volumes owned by fsGroup 0 become root's.

    Reads: securityContext.runAsGroup of the pod and every container; the pod's fsGroup and
    supplementalGroups.
    """
    for group, containers in by_field(pod, lambda c: c.run_as_group if c.run_as_group.value == 0 else None):
        yield hit_for(
            group,
            containers,
            f"{who(containers)} run{plural_s(containers)} with group 0 (runAsGroup: 0{set_where(group)})",
        )
    if pod.fs_group.value == 0:
        yield pod.hit(pod.fs_group, "the pod's volumes are owned by group 0 (fsGroup: 0)")
    for group in pod.supplemental_groups:
        if group.value == 0:
            yield pod.hit(group, "the pod adds group 0 to every container (supplementalGroups contains 0)")


@rules.pod(
    "pod.privileged",
    Severity.CRITICAL,
    title="Privileged container",
    remediation="set securityContext.privileged to false (and windowsOptions.hostProcess to false)",
    references=(PSS + "#baseline",),
)
def privileged(pod: EffectivePod) -> Iterator[Hit]:
    """Fires when a container sets privileged: true, or runs as a Windows HostProcess container.

    A privileged container gets every device and every capability of the host, with no seccomp or AppArmor
    confinement: escaping it is a formality. A HostProcess container is the Windows equivalent.

    Reads: securityContext.privileged of every container; windowsOptions.hostProcess of the pod and every
    container.
    """
    for container in pod.containers:
        if container.privileged.value is True:
            yield container.hit(
                container.privileged, f"{who([container])} runs privileged (securityContext.privileged: true)"
            )
    for field, containers in by_field(
        pod, lambda c: c.host_process if c.host_process.value is True else None
    ):
        yield hit_for(
            field,
            containers,
            f"{who(containers)} run{plural_s(containers)} as a Windows HostProcess container "
            f"(windowsOptions.hostProcess: true{set_where(field)})",
        )


@rules.pod(
    "pod.privilege-escalation",
    Severity.HIGH,
    title="Privilege escalation allowed",
    remediation="set securityContext.allowPrivilegeEscalation: false on every container",
    references=(PSS + "#restricted",),
)
def privilege_escalation(pod: EffectivePod) -> Iterator[Hit]:
    """Fires when a container's effective allowPrivilegeEscalation is not false: unset (it defaults to true),
    true, or overruled by privileged: true or an added SYS_ADMIN.

    Without no_new_privs a process can gain privileges through setuid binaries or file capabilities,
    undoing runAsNonRoot and dropped capabilities.

    Reads: securityContext.allowPrivilegeEscalation, privileged and capabilities.add of every container
    (not inherited from the pod). Windows pods are exempt.
    """
    if pod.is_windows:
        return
    for container in pod.containers:
        if not container.escalation_allowed():
            continue
        field = container.allow_privilege_escalation
        if container.privileged.value is True:
            why = "it is privileged, which always allows it"
        elif field.value is False:
            why = "it adds SYS_ADMIN (or ALL), which always allows it"
        elif field.value is True:
            why = "allowPrivilegeEscalation: true"
        else:
            why = "allowPrivilegeEscalation is not set and defaults to true"
        yield container.hit(field, f"{who([container])} allows privilege escalation: {why}")


@rules.pod(
    "pod.capabilities",
    Severity.MEDIUM,
    title="Capabilities not dropped",
    remediation=(
        "add capabilities: {drop: [ALL]} to every container's securityContext,"
        " and add back only what it needs"
    ),
    references=(PSS + "#restricted",),
)
def capabilities(pod: EffectivePod) -> Iterator[Hit]:
    """Fires when a container's capabilities.drop does not contain ALL.

    Container runtimes grant a default set of about fourteen capabilities (CHOWN, DAC_OVERRIDE, SETUID,
    NET_RAW, ...) unless they are dropped; most programs need none of them. The Pod Security Standards
    match ``ALL`` exactly, in upper case.

    Reads: securityContext.capabilities.drop of every container. Windows pods are exempt.
    """
    if pod.is_windows:
        return
    for container in pod.containers:
        drop = container.capabilities_drop
        if "ALL" in (drop.value or ()):
            continue
        if any(normalize == "ALL" for normalize in (d.upper() for d in drop.value or ())):
            state = "drops 'all' in lower case, which the Pod Security Standards do not accept; write 'ALL'"
        elif drop.value:
            state = "drops " + ", ".join(repr(d) for d in drop.value) + " but not ALL"
        else:
            state = "does not drop ALL capabilities"
        yield container.hit(drop, f"{who([container])} {state}")


CRITICAL_CAPABILITIES = frozenset(
    {"SYS_ADMIN", "SYS_PTRACE", "SYS_MODULE", "NET_ADMIN", "DAC_READ_SEARCH", "ALL"}
)
HARMLESS_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})


@rules.pod(
    "pod.dangerous-capabilities",
    Severity.HIGH,
    title="Dangerous capability added",
    remediation=(
        "remove the capability from securityContext.capabilities.add;"
        " NET_BIND_SERVICE is the only one commonly needed"
    ),
    references=(PSS + "#restricted", "https://man7.org/linux/man-pages/man7/capabilities.7.html"),
)
def dangerous_capabilities(pod: EffectivePod) -> Iterator[Hit]:
    """Fires for every capability a container adds beyond NET_BIND_SERVICE; critical for SYS_ADMIN,
    SYS_PTRACE, SYS_MODULE, NET_ADMIN, DAC_READ_SEARCH and ALL.

    Added capabilities are root powers: SYS_ADMIN alone allows mounting filesystems and most container
    escapes, SYS_PTRACE reads other processes' memory, SYS_MODULE loads kernel modules, NET_ADMIN
    reconfigures the network.

    Reads: securityContext.capabilities.add of every container (``CAP_`` prefix and case ignored). Windows
    pods are exempt.
    """
    if pod.is_windows:
        return
    for container in pod.containers:
        for cap in container.capabilities_add:
            name = normalize_capability(cap.value)
            if name in HARMLESS_CAPABILITIES:
                continue
            severity = Severity.CRITICAL if name in CRITICAL_CAPABILITIES else Severity.HIGH
            yield container.hit(cap, f"{who([container])} adds capability {cap.value!r}", severity)


@rules.pod(
    "pod.writable-root-fs",
    Severity.MEDIUM,
    title="Writable root filesystem",
    remediation=(
        "set securityContext.readOnlyRootFilesystem: true and mount emptyDir volumes where the program writes"
    ),
    references=(SECURITY_CONTEXT,),
)
def writable_root_fs(pod: EffectivePod) -> Iterator[Hit]:
    """Fires when a container's readOnlyRootFilesystem is not true.

    An attacker who gets code execution can then drop tools and binaries into the image's filesystem, or
    change the program itself.

    Reads: securityContext.readOnlyRootFilesystem of every container (not inherited). Windows pods are
    exempt: Windows does not support it.
    """
    if pod.is_windows:
        return
    for container in pod.containers:
        field = container.read_only_root_filesystem
        if field.value is True:
            continue
        state = (
            "readOnlyRootFilesystem: false" if field.value is False else "readOnlyRootFilesystem is not set"
        )
        yield container.hit(field, f"{who([container])} has a writable root filesystem ({state})")


_CONFINED_SECCOMP = frozenset({"RuntimeDefault", "Localhost"})


@rules.pod(
    "pod.seccomp",
    Severity.MEDIUM,
    title="No seccomp profile",
    remediation=(
        "set securityContext.seccompProfile.type: RuntimeDefault on the pod (or Localhost with a profile)"
    ),
    references=(PSS + "#restricted", "https://kubernetes.io/docs/tutorials/security/seccomp/"),
)
def seccomp(pod: EffectivePod) -> Iterator[Hit]:
    """Fires when a container's effective seccomp profile is neither RuntimeDefault nor Localhost: unset, or
    Unconfined, by field or by the legacy annotations.

    Without a seccomp profile every system call is open to the container, including the rarely used ones
    behind most kernel exploits. Unless the kubelet runs with ``--seccomp-default``, an unset profile
    means Unconfined.

    Reads: securityContext.seccompProfile.type of every container and of the pod, and the annotations
    container.seccomp.security.alpha.kubernetes.io/NAME and seccomp.security.alpha.kubernetes.io/pod
    (a container's setting wins over the pod's, a field over an annotation at the same level). Windows
    pods are exempt.
    """
    if pod.is_windows:
        return
    for field, containers in by_field(pod, lambda c: c.seccomp_profile):
        if field.value in _CONFINED_SECCOMP:
            continue
        if field.value is None:
            message = f"{who(containers)} {'has' if len(containers) == 1 else 'have'} no seccomp profile"
            message += " (seccompProfile is not set)"
        else:
            how = (
                f"legacy annotation: {field.value}"
                if field.source == "annotation"
                else f"seccompProfile.type: {field.value}{set_where(field)}"
            )
            message = f"{who(containers)} run{plural_s(containers)} without seccomp confinement ({how})"
        yield hit_for(field, containers, message)


@rules.pod(
    "pod.apparmor",
    Severity.MEDIUM,
    title="AppArmor disabled",
    remediation="remove the Unconfined AppArmor profile (leave it unset, or use RuntimeDefault or Localhost)",
    references=(PSS + "#baseline", "https://kubernetes.io/docs/tutorials/security/apparmor/"),
)
def apparmor(pod: EffectivePod) -> Iterator[Hit]:
    """Fires when a container's AppArmor profile is explicitly Unconfined, by the appArmorProfile field or
    the legacy annotation; unset is the runtime's default profile and does not fire.

    On nodes with AppArmor, the runtime's default profile blocks writes to /proc and /sys and mounting;
    Unconfined removes that layer.

    Reads: securityContext.appArmorProfile.type of every container and of the pod, and the annotation
    container.apparmor.security.beta.kubernetes.io/NAME. Windows pods are exempt.
    """
    if pod.is_windows:
        return
    for field, containers in by_field(pod, lambda c: c.apparmor_profile):
        if field.value != "Unconfined":
            continue
        how = (
            "legacy annotation: unconfined"
            if field.source == "annotation"
            else f"appArmorProfile.type: Unconfined{set_where(field)}"
        )
        yield hit_for(
            field, containers, f"{who(containers)} run{plural_s(containers)} without AppArmor ({how})"
        )


@rules.pod(
    "pod.host-namespaces",
    Severity.HIGH,
    title="Host PID or IPC namespace",
    remediation="remove hostPID and hostIPC (or set them to false)",
    references=(PSS + "#baseline",),
)
def host_namespaces(pod: EffectivePod) -> Iterator[Hit]:
    """Fires when the pod sets hostPID: true or hostIPC: true (hostNetwork is netpol.host-network).

    hostPID shows every process of the node to the pod, with their environment and command lines, and lets
    a privileged or ptrace-capable container enter them; hostIPC shares the node's shared memory and
    message queues.

    Reads: spec.hostPID and spec.hostIPC of the pod.
    """
    if pod.host_pid.value is True:
        yield pod.hit(pod.host_pid, "the pod shares the node's process namespace (hostPID: true)")
    if pod.host_ipc.value is True:
        yield pod.hit(pod.host_ipc, "the pod shares the node's IPC namespace (hostIPC: true)")


ALLOWED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "emptyDir",
        "projected",
        "secret",
        "downwardAPI",
        "persistentVolumeClaim",
        "ephemeral",
        "csi",
    }
)


@rules.pod(
    "pod.volume-types",
    Severity.MEDIUM,
    title="Volume type outside the restricted set",
    remediation=(
        "use configMap, emptyDir, projected, secret, downwardAPI,"
        " persistentVolumeClaim, ephemeral or csi volumes"
    ),
    references=(PSS + "#restricted",),
)
def volume_types(pod: EffectivePod) -> Iterator[Hit]:
    """Fires for a volume whose type is not configMap, emptyDir, projected, secret, downwardAPI,
    persistentVolumeClaim, ephemeral or csi.

    Other types (hostPath above all, but also in-tree network storage such as nfs, iscsi, rbd, flexVolume)
    reach outside the pod's own storage or hand node-level credentials and drivers to the pod author;
    cluster admins provide them through PersistentVolumes instead.

    Reads: spec.volumes of the pod. A volume that names no type is an emptyDir (the API server's default).
    """
    for volume in pod.volumes:
        if volume.type is None or volume.type in ALLOWED_VOLUME_TYPES:
            continue
        yield pod.hit(volume.path, f"volume {volume.name!r} is of type {volume.type}")


# Paths whose exposure hands the node to the pod: the runtimes' API sockets (where the
# common distributions put them), their state, the kubelet's credentials and the kernel's
# interfaces. Paths are compared after resolving /var/run to /run, a symlink on every
# current distribution. A socket of these names is a runtime socket wherever it lives.
RUNTIME_SOCKETS = frozenset(
    {"docker.sock", "dockershim.sock", "cri-dockerd.sock", "containerd.sock", "crio.sock", "podman.sock"}
)
SENSITIVE_HOST_PATHS = (
    "/run/docker.sock",
    "/run/dockershim.sock",
    "/run/cri-dockerd.sock",
    "/run/containerd/containerd.sock",
    "/run/crio/crio.sock",
    "/run/podman/podman.sock",
    "/run/k3s/containerd/containerd.sock",
    "/run/k0s/containerd.sock",
    "/var/snap/microk8s/common/run/containerd.sock",
    "/var/lib/kubelet",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/etc/kubernetes",
    "/proc",
    "/sys",
    "/root",
    "/dev",
)
_WINDOWS_RUNTIME_PIPES = ("\\\\.\\pipe\\docker_engine", "\\\\.\\pipe\\containerd-containerd")


def sensitive_match(path: str) -> tuple[str, str] | None:
    """``(sensitive path, relation)`` when ``path`` is (``"is"``), lies under (``"under"``) or
    contains (``"contains"``) a sensitive path; ``None`` otherwise."""
    if path.strip().lower() in _WINDOWS_RUNTIME_PIPES:
        return path.strip(), "is"
    normal = posixpath.normpath("/" + path.strip().lstrip("/"))
    if normal == "/var/run" or normal.startswith("/var/run/"):
        normal = "/run" + normal[len("/var/run") :]
    if posixpath.basename(normal) in RUNTIME_SOCKETS:
        return normal, "is"
    for sensitive in SENSITIVE_HOST_PATHS:
        if normal == sensitive:
            return sensitive, "is"
        if normal.startswith(sensitive + "/"):
            return sensitive, "under"
    for sensitive in SENSITIVE_HOST_PATHS:
        if normal == "/" or sensitive.startswith(normal + "/"):
            return sensitive, "contains"
    return None


@rules.pod(
    "pod.sensitive-mount",
    Severity.CRITICAL,
    title="Sensitive host path mounted",
    remediation=(
        "remove the hostPath volume; talk to the node through the Kubernetes API or"
        " a narrowly scoped CSI driver instead"
    ),
    references=(PSS + "#baseline", "https://kubernetes.io/docs/concepts/storage/volumes/#hostpath"),
)
def sensitive_mount(pod: EffectivePod) -> Iterator[Hit]:
    """Fires for a hostPath volume that is, lies under, or contains a container runtime socket (docker,
    containerd, cri-o, podman), /var/lib/kubelet, /var/lib/docker, /var/lib/containerd,
    /etc/kubernetes, /proc, /sys, /root or /dev; so / and parents such as /var, /run, /etc fire too.

    A runtime socket is root on the node (start a privileged container); the kubelet and runtime
    directories hold every pod's secrets and images; /etc/kubernetes holds the cluster's credentials;
    /proc, /sys and /dev reach the kernel and devices.

    Reads: spec.volumes[*].hostPath.path of the pod; /var/run is read as /run (a symlink on current
    distributions) and paths are normalised (``..``, doubled slashes).
    """
    for volume in pod.volumes:
        path = volume.source.get("path") if volume.type == "hostPath" else None
        if not isinstance(path, str):
            continue
        match = sensitive_match(path)
        if match is None:
            continue
        sensitive, relation = match
        detail = {"is": "", "under": f" (under {sensitive})", "contains": f", which contains {sensitive}"}[
            relation
        ]
        yield pod.hit(volume.path + "/path", f"volume {volume.name!r} mounts host path {path!r}{detail}")


@rules.pod(
    "pod.proc-mount",
    Severity.MEDIUM,
    title="Unmasked /proc",
    remediation="remove securityContext.procMount (or set it to Default)",
    references=(PSS + "#baseline",),
)
def proc_mount(pod: EffectivePod) -> Iterator[Hit]:
    """Fires when a container sets procMount: Unmasked.

    The runtime normally masks sensitive /proc entries (kcore, keys, sysrq-trigger, ...); Unmasked exposes
    them to the container.

    Reads: securityContext.procMount of every container. Windows pods are exempt.
    """
    if pod.is_windows:
        return
    for container in pod.containers:
        if container.proc_mount.value == "Unmasked":
            yield container.hit(
                container.proc_mount, f"{who([container])} mounts /proc unmasked (procMount: Unmasked)"
            )


SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
    }
)


def canonical_sysctl(name: str) -> str:
    """``net/ipv4/tcp_syncookies`` and ``net.ipv4.tcp_syncookies`` are the same sysctl (sysctl.d(5))."""
    if "/" not in name:
        return name
    return name.replace(".", "\0").replace("/", ".").replace("\0", "/")


@rules.pod(
    "pod.unsafe-sysctls",
    Severity.HIGH,
    title="Unsafe sysctl",
    remediation="remove the sysctl, or set it on the node if the node really needs it",
    references=(PSS + "#baseline", "https://kubernetes.io/docs/tasks/administer-cluster/sysctl-cluster/"),
)
def unsafe_sysctls(pod: EffectivePod) -> Iterator[Hit]:
    """Fires for a sysctl outside the Pod Security Standards' safe set (kernel.shm_rmid_forced,
    net.ipv4.ip_local_port_range, ip_unprivileged_port_start, tcp_syncookies, ping_group_range,
    ip_local_reserved_ports, tcp_keepalive_time/intvl/probes, tcp_fin_timeout, tcp_rmem, tcp_wmem).

    Other sysctls are not isolated between pods: they change the node's kernel for every pod on it, or let
    one pod starve the others.

    Reads: spec.securityContext.sysctls[*].name of the pod (``/`` and ``.`` separators alike).
    """
    for sysctl in pod.sysctls:
        if canonical_sysctl(sysctl.value or "") not in SAFE_SYSCTLS:
            yield pod.hit(sysctl, f"the pod sets unsafe sysctl {sysctl.value!r}")


ALLOWED_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})


@rules.pod(
    "pod.selinux",
    Severity.MEDIUM,
    title="Custom SELinux options",
    remediation="remove seLinuxOptions user and role, and use type container_t (or leave it unset)",
    references=(PSS + "#baseline",),
)
def selinux(pod: EffectivePod) -> Iterator[Hit]:
    """Fires when seLinuxOptions (of the pod or a container) sets user or role, or a type other than
    container_t, container_init_t or container_kvm_t.

    A custom SELinux user, role or type (spc_t, unconfined_t) lifts the label that keeps a container's
    processes away from the host's files.

    Reads: securityContext.seLinuxOptions of the pod (it labels the pod sandbox too) and of every
    container. Windows pods are exempt.
    """
    if pod.is_windows:
        return
    settings: list[tuple[Field[Mapping[str, Any]], EffectiveContainer | None]] = [
        (pod.se_linux_options, None)
    ]
    settings += [(c.se_linux_options, c) for c in pod.containers if c.se_linux_options.source == "container"]
    for field, container in settings:
        options = field.value
        if options is None:
            continue
        owner = "the pod" if container is None else who([container])
        name = None if container is None else container.name
        for key in ("user", "role"):
            value = options.get(key)
            if value:
                yield Hit(
                    path=f"{field.path}/{key}",
                    message=f"{owner} sets SELinux {key} {value!r}",
                    container=name,
                )
        kind = options.get("type") or ""
        if kind not in ALLOWED_SELINUX_TYPES:
            yield Hit(
                path=f"{field.path}/type", message=f"{owner} sets SELinux type {kind!r}", container=name
            )
