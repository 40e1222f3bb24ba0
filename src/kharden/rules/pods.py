"""Checklist section D: pods and containers (not their images, see ``images.py``).

Every rule reads the effective pod spec (``analysis/podspec.py``): inheritance from the
pod securityContext, the three container lists, the legacy annotations. Linux-only
controls (capabilities, seccomp, AppArmor, SELinux, privilege escalation, read-only root
filesystem, procMount) do not apply to Windows pods (``spec.os.name: windows``), as in
the Pod Security Standards.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

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
from ._message import (
    WHO,
    FromAnnotation,
    If_,
    ItemAttr,
    ItemKind,
    Items,
    Key,
    Message,
    NonEmpty,
    Plural,
    Quoted,
    UpperIs,
    Value,
    Where,
)
from ._ruleset import RuleSet

rules = RuleSet("pods")

PSS = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
SECURITY_CONTEXT = "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/"


NON_ROOT_USER = 65532
"""The user ``--unsafe`` fixes run as: distroless' ``nonroot``, a common non-root UID."""


def _severity_in_user_namespace(violation: Violation) -> Severity | None:
    return Severity.MEDIUM if violation.pod.host_users.value is False else None


_USER_NAMESPACE_NOTE = If_(Is(row("hostUsers"), Eq(False)), [" in a user namespace (hostUsers: false)"])
_RUNS = (" run", Plural("s", ""))
"""``container 'a' runs``, ``containers 'a', 'b' run``."""


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
        Constraint(
            user,
            Message(WHO, *_RUNS, " as root", _USER_NAMESPACE_NOTE, " (runAsUser: 0", Where(), ")"),
            group=True,
            severity=_severity_in_user_namespace,
        ),
        Constraint(
            non_root,
            Message(
                WHO,
                " may run as root",
                _USER_NAMESPACE_NOTE,
                ": ",
                If_(Is(row("runAsNonRoot"), Eq(False)), ["runAsNonRoot: false"], ["runAsNonRoot is not set"]),
                Where(),
                " and runAsUser is not set",
            ),
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
            Message(WHO, *_RUNS, " with group 0 (runAsGroup: 0", Where(), ")"),
            group=True,
        ),
        Constraint(
            Is(row("fsGroup"), Ne(0), unset=True),
            Message("the pod's volumes are owned by group 0 (fsGroup: 0)"),
            containers=False,
        ),
        Constraint(
            Is(None, Ne(0)),
            Message("the pod adds group 0 to every container (supplementalGroups contains 0)"),
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
            Message(WHO, " runs privileged (securityContext.privileged: true)"),
        ),
        Constraint(
            Is(row("hostProcess"), Ne(True), unset=True),
            Message(
                WHO,
                *_RUNS,
                " as a Windows HostProcess container (windowsOptions.hostProcess: true",
                Where(),
                ")",
            ),
            group=True,
        ),
    )


ESCALATING_CAPABILITIES = frozenset({"SYS_ADMIN", "ALL"})


_ESCALATION = Message(
    WHO,
    " allows privilege escalation: ",
    If_(
        Is(row("privileged"), Eq(True)),
        ["it is privileged, which always allows it"],
        [
            If_(
                Is(row("allowPrivilegeEscalation"), Eq(False)),
                ["it adds SYS_ADMIN (or ALL), which always allows it"],
                [
                    If_(
                        Is(row("allowPrivilegeEscalation"), Eq(True)),
                        ["allowPrivilegeEscalation: true"],
                        ["allowPrivilegeEscalation is not set and defaults to true"],
                    )
                ],
            )
        ],
    ),
)


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
    return (Constraint(test, _ESCALATION, at=row("allowPrivilegeEscalation"), linux_only=True),)


_DROPS = Message(
    WHO,
    " ",
    If_(
        Is(row("capabilities.drop"), UpperIs("ALL")),
        ["drops 'all' in lower case, which the Pod Security Standards do not accept; write 'ALL'"],
        [
            If_(
                Is(row("capabilities.drop"), NonEmpty()),
                ["drops ", Items(), " but not ALL"],
                ["does not drop ALL capabilities"],
            )
        ],
    ),
)


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
            Is(row("capabilities.drop"), Contains("ALL"), fix=AddItem("ALL")), _DROPS, linux_only=True
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
            Message(WHO, " adds capability ", Quoted(Value())),
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
            Message(
                WHO,
                " has a writable root filesystem (",
                If_(
                    Is(row("readOnlyRootFilesystem"), Eq(False)),
                    ["readOnlyRootFilesystem: false"],
                    ["readOnlyRootFilesystem is not set"],
                ),
                ")",
            ),
            linux_only=True,
        ),
    )


_CONFINED_SECCOMP = frozenset({"RuntimeDefault", "Localhost"})


_SECCOMP_MESSAGE = Message(
    WHO,
    If_(
        Is(row("seccompProfile"), Present()),
        [
            *_RUNS,
            " without seccomp confinement (",
            If_(
                FromAnnotation(),
                ["legacy annotation: ", Value()],
                ["seccompProfile.type: ", Value(), Where()],
            ),
            ")",
        ],
        [" ", Plural("has", "have"), " no seccomp profile (seccompProfile is not set)"],
    ),
)


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
            _SECCOMP_MESSAGE,
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
            Message(
                WHO,
                *_RUNS,
                " without AppArmor (",
                If_(
                    FromAnnotation(),
                    ["legacy annotation: unconfined"],
                    ["appArmorProfile.type: Unconfined", Where()],
                ),
                ")",
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
            Message("the pod shares the node's process namespace (hostPID: true)"),
            containers=False,
        ),
        Constraint(
            Is(row("hostIPC"), Ne(True), unset=True, fix=_REMOVE),
            Message("the pod shares the node's IPC namespace (hostIPC: true)"),
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
            Message("volume ", Quoted(ItemAttr("name")), " is of type ", ItemKind(OTHER_VOLUME_TYPES)),
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
            Message(WHO, " mounts /proc unmasked (procMount: Unmasked)"),
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
            Message("the pod sets unsafe sysctl ", Quoted(Value())),
            containers=False,
            items=row("sysctls"),
        ),
    )


ALLOWED_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})


def _selinux_message(key: str) -> Message:
    return Message(WHO, f" sets SELinux {key} ", Quoted(Key(key)))


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
