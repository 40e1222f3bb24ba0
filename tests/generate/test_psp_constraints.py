"""The PSP migration's checks are the pod rules' constraints, and new constraint kinds where no rule applies.

``wide_psp`` below is a second, independent model of a PodSecurityPolicy, written from the admission
controller's strategies (Kubernetes 1.24, ``pkg/security/podsecuritypolicy``), generic over the PSP's
fields rather than tied to one policy. It mutates the pod the way the PSP did for the fields the wide
policy of ``psp/wide.yaml`` sets (required capability drops, a user and supplemental groups from the
MustRunAs ranges, the pod's SELinux options), then validates it. As for the seed's policy: PSP rejects
-> the migration rejects the pod as submitted and as mutated; PSP admits -> the migration admits the
mutated pod (and the submitted one when nothing changed). The CEL (cel-expr-python) and the Python
checks must name the same failing fields on every pod.
"""

from __future__ import annotations

import contextlib
import copy
import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import run_cli
from kharden import rules
from kharden.cli import main
from kharden.generate import load
from kharden.generate._pspcel import checks_of
from kharden.generate.psp import Migration, migrate
from kharden.rules._allowed import has_path_prefix, same_level
from kharden.rules._constraint import Is

from .helpers import DELETE, AdmissionPolicy, changed, documents, schema_errors
from .test_psp import SAFE_SYSCTLS, SEED, denied_fields

WIDE = str(Path(__file__).parent / "psp" / "wide.yaml")
PSP = yaml.safe_load(Path(WIDE).read_text(encoding="utf-8"))
PSP_VOLUME_NAME = {"cephfs": "cephFS"}
LISTS = ("containers", "initContainers", "ephemeralContainers")


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for key in LISTS for c in pod["spec"].get(key, [])]


def _effective(pod: dict[str, Any], container: dict[str, Any], key: str) -> Any:
    own = container.get("securityContext", {})
    return own[key] if key in own else pod["spec"].get("securityContext", {}).get(key)


def _as_annotation(profile: dict[str, Any] | None) -> str | None:
    if profile is None:
        return None
    names = {"RuntimeDefault": "runtime/default", "Unconfined": "unconfined"}
    return str(names.get(profile["type"], "localhost/" + profile.get("localhostProfile", "")))


def _in(ranges: list[dict[str, int]], value: int) -> bool:
    return any(r["min"] <= value <= r["max"] for r in ranges)


def _matches(patterns: list[str], name: str) -> bool:
    return any(name.startswith(p[:-1]) if p.endswith("*") else name == p for p in patterns)


def wide_psp(submitted: dict[str, Any], psp: dict[str, Any] = PSP) -> tuple[bool, dict[str, Any], list[str]]:
    """Whether the PSP admits the pod, the pod as it mutated it, and the pod-level checks that failed."""
    spec, annotations = psp["spec"], psp["metadata"].get("annotations", {})
    pod = copy.deepcopy(submitted)
    psc = pod["spec"].setdefault("securityContext", {})
    pod_annotations = pod["metadata"].setdefault("annotations", {})
    # Mutation.
    if spec["supplementalGroups"]["rule"] == "MustRunAs" and not psc.get("supplementalGroups"):
        psc["supplementalGroups"] = [spec["supplementalGroups"]["ranges"][0]["min"]]
    if spec["seLinux"]["rule"] == "MustRunAs" and "seLinuxOptions" not in psc:
        psc["seLinuxOptions"] = dict(spec["seLinux"]["seLinuxOptions"])
    for c in _containers(pod):
        sc = c.setdefault("securityContext", {})
        if spec["runAsUser"]["rule"] == "MustRunAs" and _effective(pod, c, "runAsUser") is None:
            sc["runAsUser"] = spec["runAsUser"]["ranges"][0]["min"]
        drop = sc.setdefault("capabilities", {}).setdefault("drop", [])
        drop += [cap for cap in spec.get("requiredDropCapabilities", []) if cap not in drop]
    failed: list[str] = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            failed.append(what)

    # Validation of the pod.
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        check(not pod["spec"].get(key) or spec.get(key) is True, key)
    check(_in(spec["fsGroup"]["ranges"], psc["fsGroup"]) if "fsGroup" in psc else True, "fsGroup")
    groups = psc.get("supplementalGroups", [])
    check(bool(groups) and all(_in(spec["supplementalGroups"]["ranges"], g) for g in groups), "groups")
    check(_selinux_ok(spec, psc.get("seLinuxOptions")), "pod seLinux")
    pod_profile = pod_annotations.get("seccomp.security.alpha.kubernetes.io/pod") or _as_annotation(
        psc.get("seccompProfile")
    )
    seccomp_allowed = annotations["seccomp.security.alpha.kubernetes.io/allowedProfileNames"].split(",")
    check(pod_profile in seccomp_allowed, "pod seccomp")
    for sysctl in psc.get("sysctls", []):
        name = sysctl["name"]
        forbidden = _matches(spec.get("forbiddenSysctls", []), name)
        check(
            not forbidden and (name in SAFE_SYSCTLS or _matches(spec["allowedUnsafeSysctls"], name)), "sysctl"
        )
    runtime = pod["spec"].get("runtimeClassName")
    check(runtime is None or runtime in spec["runtimeClass"]["allowedRuntimeClassNames"], "runtimeClass")
    for volume in pod["spec"].get("volumes", []):
        kind = next(k for k in volume if k != "name")
        check(PSP_VOLUME_NAME.get(kind, kind) in spec["volumes"], "volume type")
        if kind == "hostPath":
            under = [
                p for p in spec["allowedHostPaths"] if has_path_prefix(volume[kind]["path"], p["pathPrefix"])
            ]
            check(bool(under), "host path")
            if under and all(p.get("readOnly") for p in under):
                mounts = [m for c in _containers(pod) for m in c.get("volumeMounts", [])]
                check(all(m.get("readOnly") for m in mounts if m["name"] == volume["name"]), "read-only")
        elif kind == "flexVolume":
            check(volume[kind]["driver"] in [d["driver"] for d in spec["allowedFlexVolumes"]], "flex driver")
        elif kind == "csi":
            check(volume[kind]["driver"] in [d["name"] for d in spec["allowedCSIDrivers"]], "csi driver")
    # Validation of each container.
    apparmor_allowed = annotations["apparmor.security.beta.kubernetes.io/allowedProfileNames"].split(",")
    for c in _containers(pod):
        sc = c["securityContext"]
        check(_in(spec["runAsUser"]["ranges"], _effective(pod, c, "runAsUser")), "runAsUser")
        group = _effective(pod, c, "runAsGroup")
        check(group is None or _in(spec["runAsGroup"]["ranges"], group), "runAsGroup")
        check(_selinux_ok(spec, _effective(pod, c, "seLinuxOptions")), "seLinux")
        check(
            pod_annotations.get("container.apparmor.security.beta.kubernetes.io/" + c["name"])
            in apparmor_allowed,
            "apparmor",
        )
        profile = pod_annotations.get("container.seccomp.security.alpha.kubernetes.io/" + c["name"])
        profile = profile or _as_annotation(sc.get("seccompProfile")) or pod_profile
        check(profile in seccomp_allowed, "seccomp")
        check(sc.get("privileged") is not True, "privileged")
        check(sc.get("procMount", "Default") in spec["allowedProcMountTypes"], "procMount")
        caps = sc["capabilities"]
        allowed = spec["allowedCapabilities"] + spec.get("defaultAddCapabilities", [])
        check(all(cap in allowed for cap in caps.get("add", [])), "capabilities.add")
        check(all(cap in caps["drop"] for cap in spec["requiredDropCapabilities"]), "capabilities.drop")
        for port in c.get("ports", []):
            check(port.get("hostPort", 0) == 0 or _in(spec["hostPorts"], port["hostPort"]), "hostPort")
        check(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
        check(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation")
    return not failed, pod, failed


def _selinux_ok(spec: dict[str, Any], options: dict[str, str] | None) -> bool:
    want = spec["seLinux"]["seLinuxOptions"]
    if options is None:
        return False
    if any(options.get(k, "") != want.get(k, "") for k in ("user", "role", "type")):
        return False
    return same_level(want.get("level", ""), options.get("level", ""))


BASE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "p",
        "namespace": "shop",
        "annotations": {"container.apparmor.security.beta.kubernetes.io/app": "runtime/default"},
    },
    "spec": {
        "securityContext": {
            "runAsUser": 1500,
            "supplementalGroups": [150],
            "seLinuxOptions": {"type": "container_t", "level": "s0:c1,c2"},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "app",
                "image": "app:1",
                "ports": [{"containerPort": 8080}],
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["NET_RAW"]},
                },
            }
        ],
        "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}],
    },
}
C = ("spec", "containers", 0)
SC = (*C, "securityContext")
PSC = ("spec", "securityContext")
A = ("metadata", "annotations")


def _with(*changes: tuple[tuple[Any, ...], Any]) -> dict[str, Any]:
    return changed(BASE, *changes)


def _host_path(path: str, read_only: bool | None) -> dict[str, Any]:
    mount: dict[str, Any] = {"name": "h", "mountPath": "/h"}
    if read_only is not None:
        mount["readOnly"] = read_only
    return _with(
        (("spec", "volumes"), [{"name": "h", "hostPath": {"path": path}}]), ((*C, "volumeMounts"), [mount])
    )


def _volume(kind: str, source: dict[str, Any]) -> dict[str, Any]:
    return _with((("spec", "volumes"), [{"name": "v", kind: source}]))


def _sysctl(name: str) -> dict[str, Any]:
    return _with(((*PSC, "sysctls"), [{"name": name, "value": "1"}]))


PODS: dict[str, dict[str, Any]] = {
    "base": _with(),
    "hostPort in range": _with(((*C, "ports"), [{"containerPort": 80, "hostPort": 8080}])),
    "hostPort 0": _with(((*C, "ports"), [{"containerPort": 80, "hostPort": 0}])),
    "hostPort out of range": _with(((*C, "ports"), [{"containerPort": 80, "hostPort": 9000}])),
    "hostPath under the read-only prefix, mounted read-only": _host_path("/var/log/app", True),
    "hostPath under the read-only prefix, mounted writable": _host_path("/var/log/app", None),
    "hostPath the read-only prefix itself with a slash": _host_path("/var/log/", True),
    "hostPath beside the prefix": _host_path("/var/logs", True),
    "hostPath under the writable prefix": _host_path("/data/db", False),
    "hostPath the writable prefix without its slash": _host_path("/data", None),
    "hostPath elsewhere": _host_path("/etc", True),
    "hostPath read-only, an init container mounts it writable": _with(
        (("spec", "volumes"), [{"name": "h", "hostPath": {"path": "/var/log"}}]),
        ((*C, "volumeMounts"), [{"name": "h", "mountPath": "/h", "readOnly": True}]),
        (("spec", "initContainers"), [{**BASE["spec"]["containers"][0], "name": "init", "ports": []}]),
        (("spec", "initContainers", 0, "volumeMounts"), [{"name": "h", "mountPath": "/h"}]),
        ((*A, "container.apparmor.security.beta.kubernetes.io/init"), "runtime/default"),
    ),
    "csi driver allowed": _volume("csi", {"driver": "secrets-store.csi.k8s.io"}),
    "csi driver not allowed": _volume("csi", {"driver": "ebs.csi.aws.com"}),
    "flexVolume driver allowed": _volume("flexVolume", {"driver": "example/lvm"}),
    "flexVolume driver not allowed": _volume("flexVolume", {"driver": "example/nfs"}),
    "cephfs (cephFS in the PSP)": _volume("cephfs", {"monitors": ["m"]}),
    "nfs": _volume("nfs", {"server": "s", "path": "/"}),
    "secret (not listed)": _volume("secret", {"secretName": "s"}),
    "adds NET_BIND_SERVICE": _with(
        ((*SC, "capabilities"), {"add": ["NET_BIND_SERVICE"], "drop": ["NET_RAW"]})
    ),
    "adds and drops NET_RAW": _with(((*SC, "capabilities"), {"add": ["NET_RAW"], "drop": ["NET_RAW"]})),
    "adds SYS_ADMIN": _with(((*SC, "capabilities"), {"add": ["SYS_ADMIN"], "drop": ["NET_RAW"]})),
    "adds net_bind_service in lower case": _with(
        ((*SC, "capabilities"), {"add": ["net_bind_service"], "drop": ["NET_RAW"]})
    ),
    "drops ALL (NET_RAW added by the PSP)": _with(((*SC, "capabilities"), {"drop": ["ALL"]})),
    "runAsUser at the top of the range": _with(((*SC, "runAsUser"), 1999)),
    "runAsUser below the range": _with(((*SC, "runAsUser"), 999)),
    "pod runAsUser out of range, the container's in": _with(
        ((*PSC, "runAsUser"), 0), ((*SC, "runAsUser"), 1200)
    ),
    "no runAsUser (the PSP chose 1000)": _with(((*PSC, "runAsUser"), DELETE)),
    "runAsGroup in range": _with(((*SC, "runAsGroup"), 1000)),
    "runAsGroup out of range": _with(((*PSC, "runAsGroup"), 5)),
    "supplementalGroups one out of range": _with(((*PSC, "supplementalGroups"), [150, 250])),
    "no supplementalGroups (the PSP chose 100)": _with(((*PSC, "supplementalGroups"), DELETE)),
    "fsGroup in the second range": _with(((*PSC, "fsGroup"), 3000)),
    "fsGroup out of range": _with(((*PSC, "fsGroup"), 2999)),
    "SELinux level with the categories reordered": _with(
        ((*SC, "seLinuxOptions"), {"type": "container_t", "level": "s0:c2,c1"})
    ),
    "SELinux level with a category missing": _with(
        ((*SC, "seLinuxOptions"), {"type": "container_t", "level": "s0:c1"})
    ),
    "SELinux role set": _with(
        ((*PSC, "seLinuxOptions"), {"type": "container_t", "level": "s0:c1,c2", "role": "system_r"})
    ),
    "SELinux pod type spc_t, the container's right": _with(
        ((*PSC, "seLinuxOptions"), {"type": "spc_t", "level": "s0:c1,c2"}),
        ((*SC, "seLinuxOptions"), {"type": "container_t", "level": "s0:c1,c2"}),
    ),
    "no SELinux options (the PSP set them)": _with(((*PSC, "seLinuxOptions"), DELETE)),
    "procMount Unmasked": _with(((*SC, "procMount"), "Unmasked")),
    "allowed unsafe sysctl": _sysctl("net.core.somaxconn"),
    "forbidden safe sysctl": _sysctl("net.ipv4.tcp_syncookies"),
    "forbidden by prefix, though allowed": _sysctl("kernel.msgmax"),
    "safe sysctl": _sysctl("kernel.shm_rmid_forced"),
    "unsafe sysctl not allowed": _sysctl("net.ipv6.conf.all.forwarding"),
    "runtimeClass allowed": _with((("spec", "runtimeClassName"), "gvisor")),
    "runtimeClass not allowed": _with((("spec", "runtimeClassName"), "kata")),
    "seccomp Localhost allowed on the container": _with(
        ((*SC, "seccompProfile"), {"type": "Localhost", "localhostProfile": "audit.json"})
    ),
    "seccomp Localhost not allowed": _with(
        ((*SC, "seccompProfile"), {"type": "Localhost", "localhostProfile": "other.json"})
    ),
    "seccomp pod annotation localhost/audit.json": _with(
        ((*PSC, "seccompProfile"), DELETE),
        ((*A, "seccomp.security.alpha.kubernetes.io/pod"), "localhost/audit.json"),
    ),
    "seccomp container annotation unconfined": _with(
        ((*A, "container.seccomp.security.alpha.kubernetes.io/app"), "unconfined")
    ),
    "AppArmor annotation localhost/k8s-nginx": _with(
        ((*A, "container.apparmor.security.beta.kubernetes.io/app"), "localhost/k8s-nginx")
    ),
    "AppArmor annotation localhost/other": _with(
        ((*A, "container.apparmor.security.beta.kubernetes.io/app"), "localhost/other")
    ),
    "no AppArmor profile": _with(((*A, "container.apparmor.security.beta.kubernetes.io/app"), DELETE)),
    "writable root filesystem": _with(((*SC, "readOnlyRootFilesystem"), False)),
    "allowPrivilegeEscalation true": _with(((*SC, "allowPrivilegeEscalation"), True)),
    "privileged": _with(((*SC, "privileged"), True)),
    "pod seccomp Unconfined, the container's RuntimeDefault": _with(
        ((*PSC, "seccompProfile"), {"type": "Unconfined"}),
        ((*SC, "seccompProfile"), {"type": "RuntimeDefault"}),
    ),
    "pod seccomp Localhost not allowed, the container's allowed": _with(
        ((*PSC, "seccompProfile"), {"type": "Localhost", "localhostProfile": "other.json"}),
        ((*SC, "seccompProfile"), {"type": "Localhost", "localhostProfile": "audit.json"}),
    ),
    # No defaultProfileName: a pod without a profile of its own kept none, and "" was not allowed.
    "no pod seccomp, the container's RuntimeDefault": _with(
        ((*PSC, "seccompProfile"), DELETE), ((*SC, "seccompProfile"), {"type": "RuntimeDefault"})
    ),
}


@pytest.fixture(scope="module")
def wide() -> tuple[AdmissionPolicy, Migration]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["generate", "psa", "--from-psp", WIDE]) == 0, err.getvalue()
    policy, binding = documents(out.getvalue())
    assert schema_errors(policy) == []
    assert schema_errors(binding) == []
    context, errors = load([WIDE])
    assert errors == []
    [migration] = migrate(context, [WIDE])
    assert migration.unsupported == []
    return AdmissionPolicy(policy), migration


@pytest.mark.parametrize("name", list(PODS))
def test_the_wide_migration_admits_and_rejects_what_the_psp_did(
    name: str, wide: tuple[AdmissionPolicy, Migration]
) -> None:
    policy, migration = wide
    submitted = PODS[name]
    admitted, mutated, failed = wide_psp(submitted)
    if admitted:
        assert denied_fields(policy, migration, mutated) == []
        if mutated == submitted:
            assert denied_fields(policy, migration, submitted) == []
    else:
        assert denied_fields(policy, migration, submitted) != [], failed
        assert denied_fields(policy, migration, mutated) != [], failed


def test_the_wide_table_has_both_outcomes() -> None:
    outcomes = [wide_psp(pod)[0] for pod in PODS.values()]
    assert outcomes.count(True) >= 20
    assert outcomes.count(False) >= 25
    assert wide_psp(BASE)[1] == BASE  # the base pod needs no mutation


def _check(spec: dict[str, Any], field: str, annotations: dict[str, str] | None = None) -> tuple[Any, ...]:
    [check] = [c for c in checks_of(spec, annotations or {})[0] if c.field == field]
    return check.constraints


def test_fields_a_pod_rule_checks_take_its_constraint() -> None:
    """The seed's fields are the rules' constraints themselves (the same test, shape and message)."""
    context, _ = load([SEED])
    [seed] = migrate(context, [SEED])
    by_field = {c.field: c.constraints for c in seed.checks}

    def of(rule_id: str, index: int = 0) -> Any:
        return rules.get(rule_id).constraints[index]

    assert by_field["spec.privileged"] == (of("pod.privileged"),)
    assert by_field["spec.hostNetwork"] == (of("netpol.host-network"),)
    assert by_field["spec.hostPID"] == (of("pod.host-namespaces", 0),)
    assert by_field["spec.hostIPC"] == (of("pod.host-namespaces", 1),)
    assert by_field["spec.hostPorts"] == (of("exposure.host-port"),)
    assert by_field["spec.requiredDropCapabilities"] == (of("pod.capabilities"),)
    assert by_field["spec.allowedProcMountTypes"] == (of("pod.proc-mount"),)
    assert by_field["spec.runAsUser"][:2] == rules.get("pod.run-as-root").constraints
    assert _check({"readOnlyRootFilesystem": True}, "spec.readOnlyRootFilesystem") == (
        of("pod.writable-root-fs"),
    )
    # The rule's test of the field alone: pod.privilege-escalation also refuses privileged containers and
    # added SYS_ADMIN, which the PSP checked (or allowed) by its own fields.
    [escalation] = by_field["spec.allowPrivilegeEscalation"]
    rule = of("pod.privilege-escalation")
    assert escalation.test in list(rule.test.leaves())
    assert escalation.linux_only == rule.linux_only
    # Parameters from the PSP, in the rule's constraint: its items, its containers, its message.
    [ports] = _check({"hostPorts": [{"min": 80, "max": 90}]}, "spec.hostPorts")
    assert (ports.items, ports.message) == (of("exposure.host-port").items, of("exposure.host-port").message)
    [volumes] = by_field["spec.volumes"]
    assert volumes.message == of("pod.volume-types").message
    [fs_group] = by_field["spec.fsGroup"]
    assert fs_group.message == of("pod.root-group", 1).message


def test_unknown_volume_types_are_named() -> None:
    checks, unsupported = checks_of({"volumes": ["configMap", "cephFS", "glusterFS"]}, {})
    assert unsupported == ["spec.volumes: 'glusterFS' is not a volume type: it allows nothing"]
    [volumes] = [c for c in checks if c.field == "spec.volumes"]
    allows = volumes.constraints[0].test
    assert isinstance(allows, Is)
    assert allows.pred.py("cephfs")
    assert allows.pred.py("configMap")
    assert not allows.pred.py("glusterfs")


def test_a_psp_with_wrong_types_is_an_error_and_the_rest_migrated(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "psp.yaml"
    bad.write_text(
        "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: bad}\nspec:\n"
        "  volumes: configMap\n  hostPorts: [{min: a, max: 9}]\n  seLinux: {rule: MustRunAs, seLinuxOptions: 5}\n"
        "---\n" + Path(WIDE).read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    code, out, err = run_cli(capsys, "generate", "psa", "--from-psp", str(bad))
    assert code == 2
    assert "Traceback" not in err
    assert f"{bad}:5: PodSecurityPolicy bad: spec.volumes must be a list: not migrated" in err
    assert f"{bad}:6: PodSecurityPolicy bad: spec.hostPorts.0.min must be an integer: not migrated" in err
    assert (
        f"{bad}:7: PodSecurityPolicy bad: spec.seLinux.seLinuxOptions must be a mapping: not migrated" in err
    )
    assert [d["metadata"]["name"] for d in documents(out)] == ["kharden-psp-wide", "kharden-psp-wide"]
