"""Checklist section D: pods and containers (not their images, see ``images.py``).

Every rule reads the effective pod spec (``analysis/podspec.py``): inheritance from the
pod securityContext, the three container lists, the legacy annotations. Linux-only
controls (capabilities, seccomp, AppArmor, SELinux, privilege escalation, read-only root
filesystem, procMount) do not apply to Windows pods (``spec.os.name: windows``), as in
the Pod Security Standards.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator

from ..analysis.podspec import EffectivePod, normalize_capability
from ..model import Hit, Severity
from ._constraint import (
    AddItem,
    All,
    Any_,
    BlankKey,
    CapabilityIn,
    Constraint,
    Contains,
    Each,
    Eq,
    Is,
    KeyIn,
    Ne,
    NoKeyOf,
    Not,
    OneOf,
    Present,
    Remedy,
    Violation,
    row,
)
from ._podcheck import plural_s, set_where, who
from ._ruleset import RuleSet

rules = RuleSet("pods")

PSS = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
SECURITY_CONTEXT = "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/"


NON_ROOT_USER = 65532
"""The user ``--unsafe`` fixes run as: distroless' ``nonroot``, a common non-root UID."""


def _severity_in_user_namespace(violation: Violation) -> Severity | None:
    return Severity.MEDIUM if violation.pod.host_users.value is False else None


def _user_namespace_note(violation: Violation) -> str:
    return " in a user namespace (hostUsers: false)" if violation.pod.host_users.value is False else ""


def _runs_as_root(v: Violation) -> str:
    c = v.containers
    return f"{who(c)} run{plural_s(c)} as root{_user_namespace_note(v)} (runAsUser: 0{set_where(v.field)})"


def _may_run_as_root(v: Violation) -> str:
    state = "runAsNonRoot: false" if v.field.value is False else "runAsNonRoot is not set"
    return (
        f"{who(v.containers)} may run as root{_user_namespace_note(v)}: {state}{set_where(v.field)}"
        " and runAsUser is not set"
    )


@rules.policy(
    "pod.run-as-root",
    Severity.HIGH,
    title="Container may run as root",
    remediation=(
        "set securityContext.runAsNonRoot: true and a non-zero runAsUser (on the pod or the container)"
    ),
    references=(PSS + "#restricted", SECURITY_CONTEXT),
)
def run_as_root() -> tuple[Constraint, ...]:
    """Fires when a container's effective runAsNonRoot is not true and its effective runAsUser is unset
    or 0; runAsUser 0 fires even with runAsNonRoot: true.

    A process running as root in a container is root on the node once it escapes, and owns every file
    the container can reach. With neither field set, the image's USER decides, and most images run as
    root. In a user namespace (hostUsers: false) container root maps to an unprivileged user of the
    node, so the finding is graded medium there.

    Reads: securityContext.runAsUser and runAsNonRoot of the pod and of every container, initContainer
    and ephemeralContainer (a container's value overrides the pod's); spec.hostUsers.
    """
    user = Is(
        row("runAsUser"),
        Ne(0),
        unset=True,
        fix=Remedy("set", NON_ROOT_USER, unsafe="the program may need root, or files owned by another user"),
    )
    non_root = Any_(
        (Is(row("runAsUser"), Present()), Is(row("runAsNonRoot"), Eq(True), fix=Remedy("set", True)))
    )
    return (
        Constraint(user, _runs_as_root, group=True, severity=_severity_in_user_namespace),
        Constraint(
            non_root,
            _may_run_as_root,
            at=row("runAsNonRoot"),
            group=True,
            severity=_severity_in_user_namespace,
        ),
    )


@rules.policy(
    "pod.root-group",
    Severity.MEDIUM,
    title="Root group",
    remediation="use a non-zero runAsGroup and fsGroup, and remove 0 from supplementalGroups",
    references=(SECURITY_CONTEXT,),
)
def root_group() -> tuple[Constraint, ...]:
    """Fires on runAsGroup: 0 (pod or container), fsGroup: 0, or a 0 in supplementalGroups.

    Group 0 owns many host files writable by group; a process in it can read and change them after an
    escape, and volumes owned by fsGroup 0 become root's.

    Reads: securityContext.runAsGroup of the pod and every container; the pod's fsGroup and
    supplementalGroups.
    """
    return (
        Constraint(
            Is(row("runAsGroup"), Ne(0), unset=True),
            lambda v: (
                f"{who(v.containers)} run{plural_s(v.containers)} with group 0"
                f" (runAsGroup: 0{set_where(v.field)})"
            ),
            group=True,
        ),
        Constraint(
            Is(row("fsGroup"), Ne(0), unset=True),
            lambda v: "the pod's volumes are owned by group 0 (fsGroup: 0)",
            containers=False,
        ),
        Constraint(
            Is(None, Ne(0)),
            lambda v: "the pod adds group 0 to every container (supplementalGroups contains 0)",
            containers=False,
            items=row("supplementalGroups"),
        ),
    )


_REMOVE = Remedy("remove")


@rules.policy(
    "pod.privileged",
    Severity.CRITICAL,
    title="Privileged container",
    remediation="set securityContext.privileged to false (and windowsOptions.hostProcess to false)",
    references=(PSS + "#baseline",),
)
def privileged() -> tuple[Constraint, ...]:
    """Fires when a container sets privileged: true, or runs as a Windows HostProcess container.

    A privileged container gets every device and every capability of the host, with no seccomp or AppArmor
    confinement: escaping it is a formality. A HostProcess container is the Windows equivalent.

    Reads: securityContext.privileged of every container; windowsOptions.hostProcess of the pod and every
    container.
    """
    return (
        Constraint(
            Is(row("privileged"), Ne(True), unset=True, fix=_REMOVE),
            lambda v: f"{who(v.containers)} runs privileged (securityContext.privileged: true)",
        ),
        Constraint(
            Is(row("hostProcess"), Ne(True), unset=True),
            lambda v: (
                f"{who(v.containers)} run{plural_s(v.containers)} as a Windows HostProcess container "
                f"(windowsOptions.hostProcess: true{set_where(v.field)})"
            ),
            group=True,
        ),
    )


ESCALATING_CAPABILITIES = frozenset({"SYS_ADMIN", "ALL"})


def _escalation(v: Violation) -> str:
    container = v.containers[0]
    field = container.allow_privilege_escalation
    if container.privileged.value is True:
        why = "it is privileged, which always allows it"
    elif field.value is False:
        why = "it adds SYS_ADMIN (or ALL), which always allows it"
    elif field.value is True:
        why = "allowPrivilegeEscalation: true"
    else:
        why = "allowPrivilegeEscalation is not set and defaults to true"
    return f"{who([container])} allows privilege escalation: {why}"


@rules.policy(
    "pod.privilege-escalation",
    Severity.HIGH,
    title="Privilege escalation allowed",
    remediation="set securityContext.allowPrivilegeEscalation: false on every container",
    references=(PSS + "#restricted",),
)
def privilege_escalation() -> tuple[Constraint, ...]:
    """Fires when a container's effective allowPrivilegeEscalation is not false: unset (it defaults to true),
    true, or overruled by privileged: true or an added SYS_ADMIN.

    Without no_new_privs a process can gain privileges through setuid binaries or file capabilities,
    undoing runAsNonRoot and dropped capabilities.

    Reads: securityContext.allowPrivilegeEscalation, privileged and capabilities.add of every container
    (not inherited from the pod). Windows pods are exempt.
    """
    test = All(
        (
            Is(row("privileged"), Ne(True), unset=True, fix=_REMOVE),
            Is(
                row("capabilities.add"),
                Each(Not(CapabilityIn(ESCALATING_CAPABILITIES))),
                unset=True,
                fix=Remedy("remove-items", unsafe="the program may need the capability it adds"),
            ),
            Is(row("allowPrivilegeEscalation"), Eq(False), fix=Remedy("set", False)),
        )
    )
    return (Constraint(test, _escalation, at=row("allowPrivilegeEscalation"), linux_only=True),)


def _drops(v: Violation) -> str:
    drop = v.field.value or ()
    if any(d.upper() == "ALL" for d in drop):
        state = "drops 'all' in lower case, which the Pod Security Standards do not accept; write 'ALL'"
    elif drop:
        state = "drops " + ", ".join(repr(d) for d in drop) + " but not ALL"
    else:
        state = "does not drop ALL capabilities"
    return f"{who(v.containers)} {state}"


@rules.policy(
    "pod.capabilities",
    Severity.MEDIUM,
    title="Capabilities not dropped",
    remediation=(
        "add capabilities: {drop: [ALL]} to every container's securityContext,"
        " and add back only what it needs"
    ),
    references=(PSS + "#restricted",),
)
def capabilities() -> tuple[Constraint, ...]:
    """Fires when a container's capabilities.drop does not contain ALL.

    Container runtimes grant a default set of about fourteen capabilities (CHOWN, DAC_OVERRIDE, SETUID,
    NET_RAW, ...) unless they are dropped; most programs need none of them. The Pod Security Standards
    match ``ALL`` exactly, in upper case.

    Reads: securityContext.capabilities.drop of every container. Windows pods are exempt.
    """
    return (
        Constraint(
            Is(row("capabilities.drop"), Contains("ALL"), fix=AddItem("ALL")), _drops, linux_only=True
        ),
    )


CRITICAL_CAPABILITIES = frozenset(
    {"SYS_ADMIN", "SYS_PTRACE", "SYS_MODULE", "NET_ADMIN", "DAC_READ_SEARCH", "ALL"}
)
HARMLESS_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})


@rules.policy(
    "pod.dangerous-capabilities",
    Severity.HIGH,
    title="Dangerous capability added",
    remediation=(
        "remove the capability from securityContext.capabilities.add;"
        " NET_BIND_SERVICE is the only one commonly needed"
    ),
    references=(PSS + "#restricted", "https://man7.org/linux/man-pages/man7/capabilities.7.html"),
)
def dangerous_capabilities() -> tuple[Constraint, ...]:
    """Fires for every capability a container adds beyond NET_BIND_SERVICE; critical for SYS_ADMIN,
    SYS_PTRACE, SYS_MODULE, NET_ADMIN, DAC_READ_SEARCH and ALL.

    Added capabilities are root powers: SYS_ADMIN alone allows mounting filesystems and most container
    escapes, SYS_PTRACE reads other processes' memory, SYS_MODULE loads kernel modules, NET_ADMIN
    reconfigures the network.

    Reads: securityContext.capabilities.add of every container (``CAP_`` prefix and case ignored). Windows
    pods are exempt.
    """
    return (
        Constraint(
            Is(
                None,
                CapabilityIn(HARMLESS_CAPABILITIES),
                fix=Remedy("remove-items", unsafe="the program may need the capability it adds"),
            ),
            lambda v: f"{who(v.containers)} adds capability {v.field.value!r}",
            items=row("capabilities.add"),
            linux_only=True,
            severity=lambda v: (
                Severity.CRITICAL
                if normalize_capability(v.field.value) in CRITICAL_CAPABILITIES
                else Severity.HIGH
            ),
        ),
    )


@rules.policy(
    "pod.writable-root-fs",
    Severity.MEDIUM,
    title="Writable root filesystem",
    remediation=(
        "set securityContext.readOnlyRootFilesystem: true and mount emptyDir volumes where the program writes"
    ),
    references=(SECURITY_CONTEXT,),
)
def writable_root_fs() -> tuple[Constraint, ...]:
    """Fires when a container's readOnlyRootFilesystem is not true.

    An attacker who gets code execution can then drop tools and binaries into the image's filesystem, or
    change the program itself.

    Reads: securityContext.readOnlyRootFilesystem of every container (not inherited). Windows pods are
    exempt: Windows does not support it.
    """
    fix = Remedy(
        "read-only-root", True, unsafe="the program may write outside /tmp (caches, pid files, its own data)"
    )
    return (
        Constraint(
            Is(row("readOnlyRootFilesystem"), Eq(True), fix=fix),
            lambda v: (
                f"{who(v.containers)} has a writable root filesystem ("
                + (
                    "readOnlyRootFilesystem: false"
                    if v.field.value is False
                    else "readOnlyRootFilesystem is not set"
                )
                + ")"
            ),
            linux_only=True,
        ),
    )


_CONFINED_SECCOMP = frozenset({"RuntimeDefault", "Localhost"})


def _seccomp_message(v: Violation) -> str:
    field, containers = v.field, v.containers
    if field.value is None:
        message = f"{who(containers)} {'has' if len(containers) == 1 else 'have'} no seccomp profile"
        return message + " (seccompProfile is not set)"
    how = (
        f"legacy annotation: {field.value}"
        if field.source == "annotation"
        else f"seccompProfile.type: {field.value}{set_where(field)}"
    )
    return f"{who(containers)} run{plural_s(containers)} without seccomp confinement ({how})"


@rules.policy(
    "pod.seccomp",
    Severity.MEDIUM,
    title="No seccomp profile",
    remediation=(
        "set securityContext.seccompProfile.type: RuntimeDefault on the pod (or Localhost with a profile)"
    ),
    references=(PSS + "#restricted", "https://kubernetes.io/docs/tutorials/security/seccomp/"),
)
def seccomp() -> tuple[Constraint, ...]:
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
    return (
        Constraint(
            Is(row("seccompProfile"), OneOf(_CONFINED_SECCOMP), fix=Remedy("set", "RuntimeDefault")),
            _seccomp_message,
            group=True,
            linux_only=True,
        ),
    )


@rules.policy(
    "pod.apparmor",
    Severity.MEDIUM,
    title="AppArmor disabled",
    remediation="remove the Unconfined AppArmor profile (leave it unset, or use RuntimeDefault or Localhost)",
    references=(PSS + "#baseline", "https://kubernetes.io/docs/tutorials/security/apparmor/"),
)
def apparmor() -> tuple[Constraint, ...]:
    """Fires when a container's AppArmor profile is explicitly Unconfined, by the appArmorProfile field or
    the legacy annotation; unset is the runtime's default profile and does not fire.

    On nodes with AppArmor, the runtime's default profile blocks writes to /proc and /sys and mounting;
    Unconfined removes that layer.

    Reads: securityContext.appArmorProfile.type of every container and of the pod, and the annotation
    container.apparmor.security.beta.kubernetes.io/NAME. Windows pods are exempt.
    """
    return (
        Constraint(
            Is(row("appArmorProfile"), Ne("Unconfined"), unset=True, fix=_REMOVE),
            lambda v: (
                f"{who(v.containers)} run{plural_s(v.containers)} without AppArmor ("
                + (
                    "legacy annotation: unconfined"
                    if v.field.source == "annotation"
                    else f"appArmorProfile.type: Unconfined{set_where(v.field)}"
                )
                + ")"
            ),
            group=True,
            linux_only=True,
        ),
    )


@rules.policy(
    "pod.host-namespaces",
    Severity.HIGH,
    title="Host PID or IPC namespace",
    remediation="remove hostPID and hostIPC (or set them to false)",
    references=(PSS + "#baseline",),
)
def host_namespaces() -> tuple[Constraint, ...]:
    """Fires when the pod sets hostPID: true or hostIPC: true (hostNetwork is netpol.host-network).

    hostPID shows every process of the node to the pod, with their environment and command lines, and lets
    a privileged or ptrace-capable container enter them; hostIPC shares the node's shared memory and
    message queues.

    Reads: spec.hostPID and spec.hostIPC of the pod.
    """
    return (
        Constraint(
            Is(row("hostPID"), Ne(True), unset=True, fix=_REMOVE),
            lambda v: "the pod shares the node's process namespace (hostPID: true)",
            containers=False,
        ),
        Constraint(
            Is(row("hostIPC"), Ne(True), unset=True, fix=_REMOVE),
            lambda v: "the pod shares the node's IPC namespace (hostIPC: true)",
            containers=False,
        ),
    )


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


OTHER_VOLUME_TYPES = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "image",
)
"""Every volume source of the core API outside the restricted set."""


@rules.policy(
    "pod.volume-types",
    Severity.MEDIUM,
    title="Volume type outside the restricted set",
    remediation=(
        "use configMap, emptyDir, projected, secret, downwardAPI,"
        " persistentVolumeClaim, ephemeral or csi volumes"
    ),
    references=(PSS + "#restricted",),
)
def volume_types() -> tuple[Constraint, ...]:
    """Fires for a volume whose type is not configMap, emptyDir, projected, secret, downwardAPI,
    persistentVolumeClaim, ephemeral or csi.

    Other types (hostPath above all, but also in-tree network storage such as nfs, iscsi, rbd, flexVolume)
    reach outside the pod's own storage or hand node-level credentials and drivers to the pod author;
    cluster admins provide them through PersistentVolumes instead.

    Reads: spec.volumes of the pod. A volume that names no type is an emptyDir (the API server's default).
    """
    return (
        Constraint(
            Is(
                None,
                NoKeyOf(OTHER_VOLUME_TYPES),
                fix=Remedy("remove-volume", unsafe="the program may need what the host path holds"),
            ),
            lambda v: f"volume {v.item.name!r} is of type {v.item.type}",
            containers=False,
            items=row("volumes"),
        ),
    )


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
    fix=Remedy("remove-volume", unsafe="the program may need what the host path holds"),
    not_exported="paths are normalised (.., //, /var/run as /run) before they are compared",
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


@rules.policy(
    "pod.proc-mount",
    Severity.MEDIUM,
    title="Unmasked /proc",
    remediation="remove securityContext.procMount (or set it to Default)",
    references=(PSS + "#baseline",),
)
def proc_mount() -> tuple[Constraint, ...]:
    """Fires when a container sets procMount: Unmasked.

    The runtime normally masks sensitive /proc entries (kcore, keys, sysrq-trigger, ...); Unmasked exposes
    them to the container.

    Reads: securityContext.procMount of every container. Windows pods are exempt.
    """
    return (
        Constraint(
            Is(row("procMount"), Ne("Unmasked"), unset=True, fix=_REMOVE),
            lambda v: f"{who(v.containers)} mounts /proc unmasked (procMount: Unmasked)",
            linux_only=True,
        ),
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


SAFE_SYSCTL_NAMES = SAFE_SYSCTLS | {name.replace(".", "/") for name in SAFE_SYSCTLS}
"""The safe set in both spellings: ``canonical_sysctl(name) in SAFE_SYSCTLS`` exactly for these."""


@rules.policy(
    "pod.unsafe-sysctls",
    Severity.HIGH,
    title="Unsafe sysctl",
    remediation="remove the sysctl, or set it on the node if the node really needs it",
    references=(PSS + "#baseline", "https://kubernetes.io/docs/tasks/administer-cluster/sysctl-cluster/"),
)
def unsafe_sysctls() -> tuple[Constraint, ...]:
    """Fires for a sysctl outside the Pod Security Standards' safe set (kernel.shm_rmid_forced,
    net.ipv4.ip_local_port_range, ip_unprivileged_port_start, tcp_syncookies, ping_group_range,
    ip_local_reserved_ports, tcp_keepalive_time/intvl/probes, tcp_fin_timeout, tcp_rmem, tcp_wmem).

    Other sysctls are not isolated between pods: they change the node's kernel for every pod on it, or let
    one pod starve the others.

    Reads: spec.securityContext.sysctls[*].name of the pod (``/`` and ``.`` separators alike).
    """
    return (
        Constraint(
            Is(None, OneOf(SAFE_SYSCTL_NAMES)),
            lambda v: f"the pod sets unsafe sysctl {v.field.value!r}",
            containers=False,
            items=row("sysctls"),
        ),
    )


ALLOWED_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})


def _selinux_message(key: str) -> Callable[[Violation], str]:
    def message(v: Violation) -> str:
        owner = who(v.containers) if v.containers else "the pod"
        value = (v.field.value or {}).get(key)
        if key == "type":
            value = value or ""
        return f"{owner} sets SELinux {key} {value!r}"

    return message


@rules.policy(
    "pod.selinux",
    Severity.MEDIUM,
    title="Custom SELinux options",
    remediation="remove seLinuxOptions user and role, and use type container_t (or leave it unset)",
    references=(PSS + "#baseline",),
)
def selinux() -> tuple[Constraint, ...]:
    """Fires when seLinuxOptions (of the pod or a container) sets user or role, or a type other than
    container_t, container_init_t or container_kvm_t.

    A custom SELinux user, role or type (spc_t, unconfined_t) lifts the label that keeps a container's
    processes away from the host's files.

    Reads: securityContext.seLinuxOptions of the pod (it labels the pod sandbox too) and of every
    container. Windows pods are exempt.
    """
    constraints = []
    for containers in (False, True):
        for key in ("user", "role"):
            constraints.append(
                Constraint(
                    Is(row("seLinuxOptions"), BlankKey(key), unset=True, own=True),
                    _selinux_message(key),
                    containers=containers,
                    suffix="/" + key,
                    linux_only=True,
                )
            )
        constraints.append(
            Constraint(
                Is(row("seLinuxOptions"), KeyIn("type", ALLOWED_SELINUX_TYPES), unset=True, own=True),
                _selinux_message("type"),
                containers=containers,
                suffix="/type",
                linux_only=True,
            )
        )
    return tuple(constraints)
