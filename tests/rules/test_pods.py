"""pod.* rules: a minimal restricted pod plus one change per case; assert which field and container fire."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import DELETE, MINIMAL_POD, TEMPLATE_KINDS, as_kind, findings, fired, mutate
from kharden.model import Severity

P = "/spec/securityContext"
C = "/spec/containers/0"
I = "/spec/initContainers/0"  # noqa: E741 - reads like C in the tables
E = "/spec/ephemeralContainers/0"
CSC = C + "/securityContext"
ISC = I + "/securityContext"

Change = tuple[str, Any]
Expected = list[tuple[str, str | None]]


def case(rule: str, changes: list[Change], expected: Expected, id: str) -> Any:
    return pytest.param(rule, changes, expected, id=f"{rule}:{id}")


def debug_container(**security: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "debug", "image": "registry.example.com/debug:1@sha256:" + "a" * 64}
    if security:
        container["securityContext"] = security
    return container


HARDENED = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}

CASES = [
    # pod.run-as-root
    case("pod.run-as-root", [], [], "minimal"),
    case("pod.run-as-root", [(P + "/runAsUser", DELETE)], [], "non-root-without-uid"),
    case("pod.run-as-root", [(P + "/runAsNonRoot", DELETE)], [], "uid-without-non-root"),
    case(
        "pod.run-as-root",
        [(P + "/runAsNonRoot", DELETE), (P + "/runAsUser", DELETE)],
        [(CSC + "/runAsNonRoot", "app"), (ISC + "/runAsNonRoot", "init")],
        "nothing-set",
    ),
    case(
        "pod.run-as-root", [(P + "/runAsUser", 0)], [(P + "/runAsUser", None)], "pod-uid-0-even-with-non-root"
    ),
    case("pod.run-as-root", [(CSC + "/runAsUser", 0)], [(CSC + "/runAsUser", "app")], "container-uid-0"),
    case(
        "pod.run-as-root",
        [(P + "/runAsUser", 0), (CSC + "/runAsUser", 1000)],
        [(P + "/runAsUser", "init")],
        "container-overrides-pod-uid-0",
    ),
    case(
        "pod.run-as-root",
        [(P + "/runAsUser", DELETE), (CSC + "/runAsNonRoot", False)],
        [(CSC + "/runAsNonRoot", "app")],
        "container-non-root-false-overrides-pod",
    ),
    case("pod.run-as-root", [("/spec/ephemeralContainers", [debug_container()])], [], "ephemeral-inherits"),
    case(
        "pod.run-as-root",
        [("/spec/ephemeralContainers", [debug_container(runAsUser=0)])],
        [(E + "/securityContext/runAsUser", "debug")],
        "ephemeral-uid-0",
    ),
    # pod.root-group
    case("pod.root-group", [], [], "minimal"),
    case("pod.root-group", [(P + "/runAsGroup", DELETE)], [], "group-unset"),
    case("pod.root-group", [(P + "/runAsGroup", 0)], [(P + "/runAsGroup", None)], "pod-group-0"),
    case("pod.root-group", [(CSC + "/runAsGroup", 0)], [(CSC + "/runAsGroup", "app")], "container-group-0"),
    case("pod.root-group", [(P + "/fsGroup", 0)], [(P + "/fsGroup", None)], "fs-group-0"),
    case(
        "pod.root-group",
        [(P + "/supplementalGroups", [1000, 0])],
        [(P + "/supplementalGroups/1", None)],
        "supplemental",
    ),
    # pod.privileged
    case("pod.privileged", [], [], "minimal"),
    case("pod.privileged", [(CSC + "/privileged", True)], [(CSC + "/privileged", "app")], "container"),
    case("pod.privileged", [(ISC + "/privileged", True)], [(ISC + "/privileged", "init")], "init-container"),
    case("pod.privileged", [(CSC + "/privileged", False)], [], "explicit-false"),
    case("pod.privileged", [(P + "/privileged", True)], [], "not-a-pod-field"),
    case(
        "pod.privileged",
        [(P + "/windowsOptions", {"hostProcess": True})],
        [(P + "/windowsOptions/hostProcess", None)],
        "windows-host-process",
    ),
    # pod.privilege-escalation
    case("pod.privilege-escalation", [], [], "minimal"),
    case(
        "pod.privilege-escalation",
        [(CSC + "/allowPrivilegeEscalation", DELETE)],
        [(CSC + "/allowPrivilegeEscalation", "app")],
        "unset-defaults-to-true",
    ),
    case(
        "pod.privilege-escalation",
        [(ISC + "/allowPrivilegeEscalation", True)],
        [(ISC + "/allowPrivilegeEscalation", "init")],
        "init-true",
    ),
    case(
        "pod.privilege-escalation",
        [(CSC + "/privileged", True)],
        [(CSC + "/allowPrivilegeEscalation", "app")],
        "privileged-overrules-false",
    ),
    case(
        "pod.privilege-escalation",
        [(CSC + "/capabilities/add", ["SYS_ADMIN"])],
        [(CSC + "/allowPrivilegeEscalation", "app")],
        "sys-admin-overrules-false",
    ),
    case(
        "pod.privilege-escalation",
        [(CSC + "/capabilities/add", ["ALL"])],
        [(CSC + "/allowPrivilegeEscalation", "app")],
        "all-includes-sys-admin",
    ),
    case(
        "pod.privilege-escalation",
        [(CSC + "/allowPrivilegeEscalation", DELETE), (P + "/allowPrivilegeEscalation", False)],
        [(CSC + "/allowPrivilegeEscalation", "app")],
        "not-inherited-from-pod",
    ),
    case(
        "pod.privilege-escalation",
        [(CSC + "/allowPrivilegeEscalation", DELETE), ("/spec/os", {"name": "windows"})],
        [],
        "windows-exempt",
    ),
    # pod.capabilities
    case("pod.capabilities", [], [], "minimal"),
    case(
        "pod.capabilities",
        [(CSC + "/capabilities", DELETE)],
        [(CSC + "/capabilities/drop", "app")],
        "no-drop",
    ),
    case(
        "pod.capabilities",
        [(ISC + "/capabilities/drop", ["NET_RAW"])],
        [(ISC + "/capabilities/drop", "init")],
        "partial",
    ),
    case(
        "pod.capabilities",
        [(CSC + "/capabilities/drop", ["all"])],
        [(CSC + "/capabilities/drop", "app")],
        "lower-case",
    ),
    case("pod.capabilities", [(CSC + "/capabilities/drop", ["NET_RAW", "ALL"])], [], "all-among-others"),
    case(
        "pod.capabilities",
        [(CSC + "/capabilities", DELETE), ("/spec/os", {"name": "windows"})],
        [],
        "windows",
    ),
    # pod.dangerous-capabilities
    case("pod.dangerous-capabilities", [], [], "minimal"),
    case(
        "pod.dangerous-capabilities",
        [(CSC + "/capabilities/add", ["NET_BIND_SERVICE"])],
        [],
        "net-bind-service",
    ),
    case(
        "pod.dangerous-capabilities",
        [(CSC + "/capabilities/add", ["NET_BIND_SERVICE", "NET_RAW"])],
        [(CSC + "/capabilities/add/1", "app")],
        "net-raw",
    ),
    case(
        "pod.dangerous-capabilities",
        [(ISC + "/capabilities/add", ["CAP_SYS_ADMIN"])],
        [(ISC + "/capabilities/add/0", "init")],
        "cap-prefix",
    ),
    # pod.writable-root-fs
    case("pod.writable-root-fs", [], [], "minimal"),
    case(
        "pod.writable-root-fs",
        [(CSC + "/readOnlyRootFilesystem", DELETE)],
        [(CSC + "/readOnlyRootFilesystem", "app")],
        "unset",
    ),
    case(
        "pod.writable-root-fs",
        [(ISC + "/readOnlyRootFilesystem", False)],
        [(ISC + "/readOnlyRootFilesystem", "init")],
        "init-false",
    ),
    case(
        "pod.writable-root-fs",
        [(P + "/readOnlyRootFilesystem", True)],
        [],
        "pod-field-is-ignored-but-harmless",
    ),
    # pod.seccomp
    case("pod.seccomp", [], [], "minimal"),
    case(
        "pod.seccomp",
        [(P + "/seccompProfile", DELETE)],
        [(CSC + "/seccompProfile/type", "app"), (ISC + "/seccompProfile/type", "init")],
        "unset",
    ),
    case(
        "pod.seccomp",
        [(P + "/seccompProfile/type", "Unconfined")],
        [(P + "/seccompProfile/type", None)],
        "pod",
    ),
    case(
        "pod.seccomp",
        [(CSC + "/seccompProfile", {"type": "Unconfined"})],
        [(CSC + "/seccompProfile/type", "app")],
        "container-overrides-pod",
    ),
    case(
        "pod.seccomp",
        [(P + "/seccompProfile/type", "Unconfined"), (CSC + "/seccompProfile", {"type": "RuntimeDefault"})],
        [(P + "/seccompProfile/type", "init")],
        "only-init-inherits-unconfined",
    ),
    case(
        "pod.seccomp",
        [(P + "/seccompProfile", {"type": "Localhost", "localhostProfile": "profiles/app.json"})],
        [],
        "localhost",
    ),
    case(
        "pod.seccomp",
        [
            (P + "/seccompProfile", DELETE),
            ("/metadata/annotations", {"seccomp.security.alpha.kubernetes.io/pod": "runtime/default"}),
        ],
        [],
        "legacy-pod-annotation",
    ),
    case(
        "pod.seccomp",
        [
            (P + "/seccompProfile", DELETE),
            ("/metadata/annotations", {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}),
        ],
        [("/metadata/annotations/seccomp.security.alpha.kubernetes.io~1pod", None)],
        "legacy-pod-annotation-unconfined",
    ),
    case(
        "pod.seccomp",
        [("/metadata/annotations", {"container.seccomp.security.alpha.kubernetes.io/app": "unconfined"})],
        [("/metadata/annotations/container.seccomp.security.alpha.kubernetes.io~1app", "app")],
        "container-annotation-beats-pod-field",
    ),
    case(
        "pod.seccomp",
        [
            (CSC + "/seccompProfile", {"type": "RuntimeDefault"}),
            ("/metadata/annotations", {"container.seccomp.security.alpha.kubernetes.io/app": "unconfined"}),
        ],
        [],
        "container-field-beats-container-annotation",
    ),
    case("pod.seccomp", [(P + "/seccompProfile", DELETE), ("/spec/os", {"name": "windows"})], [], "windows"),
    # pod.apparmor
    case("pod.apparmor", [], [], "unset-is-runtime-default"),
    case("pod.apparmor", [(P + "/appArmorProfile", {"type": "RuntimeDefault"})], [], "runtime-default"),
    case(
        "pod.apparmor",
        [(P + "/appArmorProfile", {"type": "Unconfined"})],
        [(P + "/appArmorProfile/type", None)],
        "pod-unconfined",
    ),
    case(
        "pod.apparmor",
        [(ISC + "/appArmorProfile", {"type": "Unconfined"})],
        [(ISC + "/appArmorProfile/type", "init")],
        "init-unconfined",
    ),
    case(
        "pod.apparmor",
        [("/metadata/annotations", {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"})],
        [("/metadata/annotations/container.apparmor.security.beta.kubernetes.io~1app", "app")],
        "legacy-annotation",
    ),
    case(
        "pod.apparmor",
        [
            (
                "/metadata/annotations",
                {"container.apparmor.security.beta.kubernetes.io/app": "runtime/default"},
            )
        ],
        [],
        "legacy-annotation-default",
    ),
    # pod.host-namespaces
    case("pod.host-namespaces", [], [], "minimal"),
    case("pod.host-namespaces", [("/spec/hostPID", True)], [("/spec/hostPID", None)], "host-pid"),
    case("pod.host-namespaces", [("/spec/hostIPC", True)], [("/spec/hostIPC", None)], "host-ipc"),
    case("pod.host-namespaces", [("/spec/hostPID", False), ("/spec/hostIPC", False)], [], "explicit-false"),
    case("pod.host-namespaces", [("/spec/hostNetwork", True)], [], "host-network-is-another-rule"),
    # pod.volume-types
    case("pod.volume-types", [], [], "minimal"),
    case(
        "pod.volume-types",
        [("/spec/volumes/-", {"name": "logs", "hostPath": {"path": "/var/log"}})],
        [("/spec/volumes/1/hostPath", None)],
        "host-path",
    ),
    case(
        "pod.volume-types",
        [("/spec/volumes/-", {"name": "share", "nfs": {"server": "nfs.example.com", "path": "/x"}})],
        [("/spec/volumes/1/nfs", None)],
        "nfs",
    ),
    case("pod.volume-types", [("/spec/volumes/-", {"name": "scratch"})], [], "no-type-is-empty-dir"),
    case(
        "pod.volume-types",
        [
            (
                "/spec/volumes",
                [
                    {"name": "a", "configMap": {"name": "x"}},
                    {"name": "b", "secret": {"secretName": "x"}},
                    {"name": "c", "projected": {"sources": []}},
                    {"name": "d", "downwardAPI": {"items": []}},
                    {"name": "e", "persistentVolumeClaim": {"claimName": "x"}},
                    {"name": "f", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
                    {"name": "g", "csi": {"driver": "x"}},
                    {"name": "tmp", "emptyDir": {}},
                ],
            )
        ],
        [],
        "restricted-types",
    ),
    # pod.proc-mount
    case("pod.proc-mount", [], [], "minimal"),
    case("pod.proc-mount", [(CSC + "/procMount", "Default")], [], "default"),
    case("pod.proc-mount", [(ISC + "/procMount", "Unmasked")], [(ISC + "/procMount", "init")], "unmasked"),
    # pod.unsafe-sysctls
    case("pod.unsafe-sysctls", [], [], "minimal"),
    case(
        "pod.unsafe-sysctls",
        [
            (
                P + "/sysctls",
                [
                    {"name": "kernel.shm_rmid_forced", "value": "1"},
                    {"name": "net.ipv4.ip_local_port_range", "value": "1024 65535"},
                    {"name": "net/ipv4/tcp_syncookies", "value": "1"},
                    {"name": "net.ipv4.tcp_rmem", "value": "4096 87380 6291456"},
                ],
            )
        ],
        [],
        "safe-set-with-both-separators",
    ),
    case(
        "pod.unsafe-sysctls",
        [
            (
                P + "/sysctls",
                [
                    {"name": "net.ipv4.tcp_syncookies", "value": "1"},
                    {"name": "net.core.somaxconn", "value": "1024"},
                ],
            )
        ],
        [(P + "/sysctls/1/name", None)],
        "somaxconn",
    ),
    case(
        "pod.unsafe-sysctls",
        [(P + "/sysctls", [{"name": "kernel.msgmax", "value": "65536"}])],
        [(P + "/sysctls/0/name", None)],
        "ipc",
    ),
    # pod.selinux
    case("pod.selinux", [], [], "minimal"),
    case("pod.selinux", [(P + "/seLinuxOptions", {"level": "s0:c123,c456"})], [], "level-only"),
    case("pod.selinux", [(P + "/seLinuxOptions", {"type": "container_t"})], [], "container-t"),
    case(
        "pod.selinux",
        [(P + "/seLinuxOptions", {"type": "spc_t"})],
        [(P + "/seLinuxOptions/type", None)],
        "pod-spc-t",
    ),
    case(
        "pod.selinux",
        [(CSC + "/seLinuxOptions", {"user": "system_u"})],
        [(CSC + "/seLinuxOptions/user", "app")],
        "user",
    ),
    case(
        "pod.selinux",
        [(ISC + "/seLinuxOptions", {"role": "sysadm_r"})],
        [(ISC + "/seLinuxOptions/role", "init")],
        "role",
    ),
    # netpol.host-network and exposure.host-port read the same pod spec
    case("netpol.host-network", [], [], "minimal"),
    case("netpol.host-network", [("/spec/hostNetwork", True)], [("/spec/hostNetwork", None)], "host-network"),
    case("netpol.host-network", [("/spec/hostNetwork", False)], [], "explicit-false"),
    case("exposure.host-port", [], [], "minimal"),
    case(
        "exposure.host-port",
        [(C + "/ports/0/hostPort", 8080)],
        [(C + "/ports/0/hostPort", "app")],
        "host-port",
    ),
    case("exposure.host-port", [(C + "/ports/0/hostPort", 0)], [], "host-port-0"),
    case(
        "exposure.host-port",
        [("/spec/hostNetwork", True)],
        [],
        "host-network-without-explicit-host-port-is-netpol.host-network",
    ),
]


@pytest.mark.parametrize(("rule", "changes", "expected"), CASES)
def test_pod_rule(rule: str, changes: list[Change], expected: Expected) -> None:
    assert fired(rule, mutate(MINIMAL_POD, *changes)) == sorted(expected, key=str)


def test_minimal_pod_passes_every_pod_rule() -> None:
    from conftest import scan_objects  # noqa: PLC0415
    from kharden.rules import REGISTRY  # noqa: PLC0415

    report = scan_objects(MINIMAL_POD, rules=[r.id for r in REGISTRY if r.target == "pod"])
    assert report.errors == []
    assert [(f.rule, f.location.path) for f in report.findings] == []


@pytest.mark.parametrize(
    ("capability", "severity"),
    [
        ("SYS_ADMIN", Severity.CRITICAL),
        ("sys_ptrace", Severity.CRITICAL),
        ("CAP_SYS_MODULE", Severity.CRITICAL),
        ("NET_ADMIN", Severity.CRITICAL),
        ("DAC_READ_SEARCH", Severity.CRITICAL),
        ("ALL", Severity.CRITICAL),
        ("NET_RAW", Severity.HIGH),
        ("SYS_TIME", Severity.HIGH),
        ("IPC_LOCK", Severity.HIGH),
    ],
)
def test_dangerous_capability_severity(capability: str, severity: Severity) -> None:
    pod = mutate(MINIMAL_POD, (CSC + "/capabilities/add", [capability]))
    [finding] = findings("pod.dangerous-capabilities", pod)
    assert (finding.location.path, finding.container, finding.severity) == (
        CSC + "/capabilities/add/0",
        "app",
        severity,
    )


def test_dangerous_capabilities_windows_exempt() -> None:
    pod = mutate(MINIMAL_POD, (CSC + "/capabilities/add", ["SYS_ADMIN"]), ("/spec/os", {"name": "windows"}))
    assert fired("pod.dangerous-capabilities", pod) == []


@pytest.mark.parametrize(
    ("path", "fires"),
    [
        ("/var/run/docker.sock", True),
        ("/run/docker.sock", True),
        ("/run/containerd/containerd.sock", True),
        ("/var/run/crio/crio.sock", True),
        ("/run/podman/podman.sock", True),
        ("/var/lib/kubelet", True),
        ("/var/lib/kubelet/pods", True),
        ("/var/lib/docker/containers", True),
        ("/var/lib/containerd", True),
        ("/etc/kubernetes/pki", True),
        ("/proc", True),
        ("/sys/fs/cgroup", True),
        ("/root/.ssh", True),
        ("/dev/shm", True),
        ("/", True),
        ("/var", True),
        ("/var/lib", True),
        ("/etc", True),
        ("/run", True),
        ("/var/run", True),
        ("/run/containerd", True),
        ("//var//run/../run/docker.sock", True),
        ("/var/lib/kubelet/", True),
        ("\\\\.\\pipe\\docker_engine", True),
        ("/run/k0s/containerd.sock", True),
        ("/var/snap/microk8s/common/run/containerd.sock", True),
        ("/srv/runtime/podman.sock", True),
        ("/etc/ssl/certs", False),
        ("/var/log", False),
        ("/var/lib/docker.sock.bak", False),
        ("/procfs", False),
        ("/sysroot", False),
        ("/devices", False),
        ("/home/app", False),
        ("/tmp", False),
        ("/opt/data", False),
        ("/run/user/1000/app", False),
    ],
)
def test_sensitive_mount(path: str, fires: bool) -> None:
    pod = mutate(MINIMAL_POD, ("/spec/volumes/-", {"name": "host", "hostPath": {"path": path}}))
    expected = [("/spec/volumes/1/hostPath/path", None)] if fires else []
    assert fired("pod.sensitive-mount", pod) == expected


# The same pod spec in every workload kind: findings point into that kind's template.
@pytest.mark.parametrize("kind", sorted(TEMPLATE_KINDS))
def test_template_kinds(kind: str) -> None:
    pod = mutate(MINIMAL_POD, (ISC + "/privileged", True), ("/spec/hostPID", True))
    prefix = TEMPLATE_KINDS[kind][1]
    obj = as_kind(pod, kind)
    assert fired("pod.privileged", obj) == [(prefix + ISC + "/privileged", "init")]
    assert fired("pod.host-namespaces", obj) == [(prefix + "/spec/hostPID", None)]


@pytest.mark.parametrize("kind", ["Deployment", "CronJob"])
def test_template_annotations_count_for_legacy_profiles(kind: str) -> None:
    pod = mutate(
        MINIMAL_POD,
        ("/metadata/annotations", {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}),
    )
    prefix = TEMPLATE_KINDS[kind][1]
    assert fired("pod.apparmor", as_kind(pod, kind)) == [
        (prefix + "/metadata/annotations/container.apparmor.security.beta.kubernetes.io~1app", "app")
    ]


def test_custom_resource_with_a_pod_template_shape_is_not_a_workload() -> None:
    """Only the built-in workload kinds carry pod templates; a CRD of the same shape is not guessed at."""
    obj = as_kind(mutate(MINIMAL_POD, (CSC + "/privileged", True)), "Deployment")
    obj["apiVersion"] = "example.com/v1"
    assert fired("pod.privileged", obj) == []


def test_owned_pod_is_reported_through_its_controller() -> None:
    """A Pod whose controller is in the scan is covered by the controller's template, not reported twice."""
    deployment = as_kind(mutate(MINIMAL_POD, (CSC + "/privileged", True)), "ReplicaSet")
    deployment["metadata"]["name"] = "web-5d4f"
    pod = mutate(MINIMAL_POD, (CSC + "/privileged", True))
    pod["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d4f", "controller": True}
    ]
    result = findings("pod.privileged", deployment, pod)
    assert [(f.object.kind, f.location.path) for f in result] == [
        ("ReplicaSet", "/spec/template" + CSC + "/privileged")
    ]


def test_run_as_root_in_a_user_namespace_is_medium() -> None:
    pod = mutate(MINIMAL_POD, (P + "/runAsUser", 0), ("/spec/hostUsers", False))
    [finding] = findings("pod.run-as-root", pod)
    assert (finding.location.path, finding.severity) == (P + "/runAsUser", Severity.MEDIUM)
    assert "user namespace (hostUsers: false)" in finding.message
    [default] = findings("pod.run-as-root", mutate(MINIMAL_POD, (P + "/runAsUser", 0)))
    assert default.severity == Severity.HIGH


def test_messages_name_init_containers_as_such() -> None:
    pod = mutate(MINIMAL_POD, (P + "/runAsGroup", 0))
    [finding] = findings("pod.root-group", pod)
    assert (
        finding.message
        == "container 'app' and init container 'init' run with group 0 (runAsGroup: 0 on the pod)"
    )
