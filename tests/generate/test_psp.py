"""``kharden generate psa --from-psp``: the seed's PodSecurityPolicy migrated, checked pod by pod.

The oracle below is the seed PSP's meaning, written from the PodSecurityPolicy documentation (v1.24)
and independently of the generator: the admission controller first *mutates* the pod (defaults for what
the policy requires and the pod left unset) and then *validates* it. A ValidatingAdmissionPolicy cannot
mutate; the migration checks what the PSP guaranteed after its mutation. So, for every pod of the
table:

- the PSP rejects it  ->  the migrated policy rejects it, as submitted and as the PSP would have mutated it;
- the PSP admits it   ->  the migrated policy admits it as the PSP mutated it (and as submitted when the
  PSP changed nothing).
"""

from __future__ import annotations

import contextlib
import copy
import io
from pathlib import Path
from typing import Any

import pytest
from cel_expr_python import cel

from conftest import run_cli
from kharden.cli import main
from kharden.generate import load
from kharden.generate._pspcel import checks_of
from kharden.generate.psp import Migration, implied_controls, migrate

from .helpers import CEL_ENV, AdmissionPolicy, changed, documents, effective, schema_errors

HERE = Path(__file__).parent / "psp"
SEED = str(HERE / "seed-restricted.yaml")
RBAC = str(HERE / "rbac.yaml")

ALLOWED_VOLUMES = {"configMap", "emptyDir", "projected", "secret", "downwardAPI", "persistentVolumeClaim"}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
}


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod["spec"]
    return [c for key in ("containers", "initContainers", "ephemeralContainers") for c in spec.get(key, [])]


def _effective(pod: dict[str, Any], container: dict[str, Any], key: str) -> Any:
    own = container.get("securityContext", {})
    if key in own:
        return own[key]
    return pod["spec"].get("securityContext", {}).get(key)


def _as_annotation(profile: dict[str, Any] | None) -> str | None:
    """A seccompProfile/appArmorProfile field as the legacy annotation's value."""
    if not profile:
        return None
    names = {"RuntimeDefault": "runtime/default", "Unconfined": "unconfined"}
    return str(names.get(profile["type"], "localhost/" + profile.get("localhostProfile", "")))


def _profile(
    pod: dict[str, Any], container: dict[str, Any], field: str, container_key: str, pod_key: str | None
) -> str | None:
    """A container's effective seccomp/AppArmor profile, as the legacy annotation's name (the PSP's
    ``profileForContainer``: its field, its annotation, the pod's field, the pod's annotation)."""
    annotations = pod["metadata"].get("annotations", {})
    own = _as_annotation(container.get("securityContext", {}).get(field))
    if own:
        return own
    if container_key + container["name"] in annotations:
        return str(annotations[container_key + container["name"]])
    pod_field = _as_annotation(pod["spec"].get("securityContext", {}).get(field))
    if pod_field:
        return pod_field
    return str(annotations[pod_key]) if pod_key and pod_key in annotations else None


def _pod_seccomp(pod: dict[str, Any]) -> str | None:
    """The pod's own seccomp profile as the PSP's ``ValidatePod`` read it: the pod annotation, else the
    pod's field."""
    annotations = pod["metadata"].get("annotations", {})
    if annotations.get(SECCOMP_POD):
        return str(annotations[SECCOMP_POD])
    return _as_annotation(pod["spec"].get("securityContext", {}).get("seccompProfile"))


SECCOMP_POD = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_C = "container.seccomp.security.alpha.kubernetes.io/"
APPARMOR_C = "container.apparmor.security.beta.kubernetes.io/"
SECCOMP_ALLOWED = ("docker/default", "runtime/default")


def seed_psp(submitted: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """Whether the seed PSP admits the pod, and the pod as it would have mutated it."""
    pod = copy.deepcopy(submitted)
    spec = pod["spec"]
    psc = spec.setdefault("securityContext", {})
    # Mutation (the strategies' Generate* and the provider's defaults).
    if "fsGroup" not in psc:
        psc["fsGroup"] = 1
    if not psc.get("supplementalGroups"):
        psc["supplementalGroups"] = [1]
    # The seccomp strategy's Generate, on the pod level only: the pod's own profile, else the default
    # (defaultProfileName), whatever its containers set.
    if _pod_seccomp(pod) is None:
        pod["metadata"].setdefault("annotations", {})[SECCOMP_POD] = "runtime/default"
    for c in _containers(pod):
        sc = c.setdefault("securityContext", {})
        sc.setdefault("allowPrivilegeEscalation", False)
        caps = sc.setdefault("capabilities", {})
        drop = caps.setdefault("drop", [])
        if "ALL" not in drop:
            drop.append("ALL")
        if _effective(pod, c, "runAsNonRoot") is None and _effective(pod, c, "runAsUser") is None:
            sc["runAsNonRoot"] = True
        # AppArmor is per container only (its annotation; no pod-level profile, no pod annotation).
        if _profile(pod, c, "appArmorProfile", APPARMOR_C, None) is None:
            pod["metadata"].setdefault("annotations", {})[APPARMOR_C + c["name"]] = "runtime/default"
    # Validation.
    ok = not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
    ok &= all(next(iter(set(v) - {"name"})) in ALLOWED_VOLUMES for v in spec.get("volumes", []))
    ok &= all(g >= 1 and g <= 65535 for g in psc["supplementalGroups"])
    ok &= 1 <= psc["fsGroup"] <= 65535
    ok &= all(s["name"] in SAFE_SYSCTLS for s in psc.get("sysctls", []))
    ok &= _pod_seccomp(pod) in SECCOMP_ALLOWED  # the seccomp strategy's ValidatePod
    for c in _containers(pod):
        sc = c["securityContext"]
        ok &= sc.get("privileged") is not True
        ok &= sc["allowPrivilegeEscalation"] is False
        ok &= not sc["capabilities"].get("add")
        ok &= not any(p.get("hostPort") for p in c.get("ports", []))
        ok &= _effective(pod, c, "runAsNonRoot") is not False
        ok &= _effective(pod, c, "runAsUser") != 0
        ok &= sc.get("procMount", "Default") == "Default"
        ok &= _profile(pod, c, "seccompProfile", SECCOMP_C, SECCOMP_POD) in SECCOMP_ALLOWED
        ok &= _profile(pod, c, "appArmorProfile", APPARMOR_C, None) == "runtime/default"
    return bool(ok), pod


BASE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "namespace": "shop"},
    "spec": {
        "containers": [{"name": "app", "image": "app:1", "ports": [{"containerPort": 8080}]}],
        "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}],
    },
}

C = ("spec", "containers", 0)


def _with(*changes: tuple[tuple[Any, ...], Any]) -> dict[str, Any]:
    return changed(BASE, *changes)


SC = (*C, "securityContext")
PSC = ("spec", "securityContext")
RUNTIME_DEFAULT = {"type": "RuntimeDefault"}

PODS: dict[str, dict[str, Any]] = {
    "plain (the PSP fills in its defaults)": _with(),
    "privileged": _with(((*SC, "privileged"), True)),
    "privileged: false": _with(((*SC, "privileged"), False)),
    "hostNetwork": _with((("spec", "hostNetwork"), True)),
    "hostPID": _with((("spec", "hostPID"), True)),
    "hostIPC false": _with((("spec", "hostIPC"), False)),
    "hostPort": _with(((*C, "ports"), [{"containerPort": 80, "hostPort": 80}])),
    "hostPath volume": _with((("spec", "volumes"), [{"name": "h", "hostPath": {"path": "/var/log"}}])),
    "nfs volume": _with((("spec", "volumes"), [{"name": "n", "nfs": {"server": "s", "path": "/"}}])),
    "csi volume (not in the list)": _with((("spec", "volumes"), [{"name": "c", "csi": {"driver": "d"}}])),
    "pvc and projected": _with(
        (
            ("spec", "volumes"),
            [
                {"name": "a", "persistentVolumeClaim": {"claimName": "c"}},
                {"name": "b", "projected": {"sources": []}},
            ],
        )
    ),
    "adds NET_BIND_SERVICE": _with(((*SC, "capabilities"), {"add": ["NET_BIND_SERVICE"]})),
    "drops ALL": _with(((*SC, "capabilities"), {"drop": ["ALL"]})),
    "drops NET_RAW only (ALL added by the PSP)": _with(((*SC, "capabilities"), {"drop": ["NET_RAW"]})),
    "runAsUser 0": _with(((*SC, "runAsUser"), 0)),
    "pod runAsUser 0": _with(((*PSC, "runAsUser"), 0)),
    "runAsUser 1000": _with(((*SC, "runAsUser"), 1000)),
    "runAsNonRoot false": _with(((*SC, "runAsNonRoot"), False)),
    "pod runAsNonRoot false, container true": _with(
        ((*PSC, "runAsNonRoot"), False), ((*SC, "runAsNonRoot"), True)
    ),
    "pod runAsNonRoot true": _with(((*PSC, "runAsNonRoot"), True)),
    "fsGroup 0": _with(((*PSC, "fsGroup"), 0)),
    "fsGroup 2000": _with(((*PSC, "fsGroup"), 2000)),
    "fsGroup 70000": _with(((*PSC, "fsGroup"), 70000)),
    "supplementalGroups [0]": _with(((*PSC, "supplementalGroups"), [0])),
    "supplementalGroups [5, 6]": _with(((*PSC, "supplementalGroups"), [5, 6])),
    "allowPrivilegeEscalation true": _with(((*SC, "allowPrivilegeEscalation"), True)),
    "allowPrivilegeEscalation false": _with(((*SC, "allowPrivilegeEscalation"), False)),
    "init container privileged": _with(
        (
            ("spec", "initContainers"),
            [{"name": "init", "image": "i", "securityContext": {"privileged": True}}],
        )
    ),
    "init container plain": _with((("spec", "initContainers"), [{"name": "init", "image": "i"}])),
    "ephemeral container as root": _with(
        (
            ("spec", "ephemeralContainers"),
            [{"name": "debug", "image": "d", "securityContext": {"runAsUser": 0}}],
        )
    ),
    "procMount Unmasked": _with(((*SC, "procMount"), "Unmasked")),
    "unsafe sysctl": _with(((*PSC, "sysctls"), [{"name": "net.core.somaxconn", "value": "1024"}])),
    "safe sysctl": _with(
        ((*PSC, "sysctls"), [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}])
    ),
    "seccomp Unconfined": _with(((*PSC, "seccompProfile"), {"type": "Unconfined"})),
    "seccomp RuntimeDefault on the container": _with(((*SC, "seccompProfile"), {"type": "RuntimeDefault"})),
    "seccomp Localhost": _with(
        ((*SC, "seccompProfile"), {"type": "Localhost", "localhostProfile": "p.json"})
    ),
    "seccomp annotation docker/default": _with(
        (("metadata", "annotations"), {"seccomp.security.alpha.kubernetes.io/pod": "docker/default"})
    ),
    "seccomp annotation unconfined on the container": _with(
        (("metadata", "annotations"), {SECCOMP_C + "app": "unconfined"})
    ),
    "pod seccomp Unconfined, the container's RuntimeDefault": _with(
        ((*PSC, "seccompProfile"), {"type": "Unconfined"}), ((*SC, "seccompProfile"), RUNTIME_DEFAULT)
    ),
    "pod seccomp Unconfined, the container's and an init container's RuntimeDefault": _with(
        ((*PSC, "seccompProfile"), {"type": "Unconfined"}),
        ((*SC, "seccompProfile"), RUNTIME_DEFAULT),
        (
            ("spec", "initContainers"),
            [{"name": "init", "image": "i", "securityContext": {"seccompProfile": RUNTIME_DEFAULT}}],
        ),
    ),
    "pod annotation unconfined, the container's annotation runtime/default": _with(
        (("metadata", "annotations"), {SECCOMP_POD: "unconfined", SECCOMP_C + "app": "runtime/default"})
    ),
    "pod seccomp Localhost (not allowed), the container's RuntimeDefault": _with(
        ((*PSC, "seccompProfile"), {"type": "Localhost", "localhostProfile": "p.json"}),
        ((*SC, "seccompProfile"), RUNTIME_DEFAULT),
    ),
    "pod seccomp RuntimeDefault, the container's Unconfined": _with(
        ((*PSC, "seccompProfile"), RUNTIME_DEFAULT), ((*SC, "seccompProfile"), {"type": "Unconfined"})
    ),
    "pod seccomp RuntimeDefault, the container's too": _with(
        ((*PSC, "seccompProfile"), RUNTIME_DEFAULT), ((*SC, "seccompProfile"), RUNTIME_DEFAULT)
    ),
    "no pod seccomp, the container's RuntimeDefault": _with(((*SC, "seccompProfile"), RUNTIME_DEFAULT)),
    "AppArmor Unconfined": _with(((*SC, "appArmorProfile"), {"type": "Unconfined"})),
    "AppArmor RuntimeDefault": _with(((*SC, "appArmorProfile"), {"type": "RuntimeDefault"})),
    "AppArmor annotation unconfined": _with(
        (("metadata", "annotations"), {APPARMOR_C + "app": "unconfined"})
    ),
    "SELinux spc_t (RunAsAny)": _with(((*PSC, "seLinuxOptions"), {"type": "spc_t"})),
}


@pytest.fixture(scope="module")
def migrated() -> tuple[list[dict[str, Any]], str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["generate", "psa", "--from-psp", SEED, RBAC])
    assert code == 0, err.getvalue()
    return documents(out.getvalue()), err.getvalue()


@pytest.fixture(scope="module")
def seed_migration() -> Migration:
    context, errors = load([SEED])
    assert errors == []
    [migration] = migrate(context, [SEED])
    return migration


def denied_fields(policy: AdmissionPolicy, migration: Migration, pod: dict[str, Any]) -> list[str]:
    """The PSP fields whose validation denies the pod, by the CEL; the Python checks must name the same."""
    by_cel = [message.rsplit(": ", 1)[1].removesuffix(")") for message in policy.denials(pod)]
    by_python = [check.field for check in migration.validations() if check.denies(effective(pod))]
    assert by_cel == by_python
    return by_cel


@pytest.mark.parametrize("name", list(PODS))
def test_the_migration_admits_and_rejects_what_the_psp_did(
    name: str, migrated: tuple[list[dict[str, Any]], str], seed_migration: Migration
) -> None:
    policy = AdmissionPolicy(next(d for d in migrated[0] if d["kind"] == "ValidatingAdmissionPolicy"))
    submitted = PODS[name]
    admitted, mutated = seed_psp(submitted)
    if admitted:
        assert denied_fields(policy, seed_migration, mutated) == []
        if mutated == submitted:
            assert denied_fields(policy, seed_migration, submitted) == []
    else:
        assert denied_fields(policy, seed_migration, submitted) != []
        assert denied_fields(policy, seed_migration, mutated) != []


def test_the_pods_own_seccomp_profile_is_checked_as_the_psp_did(
    migrated: tuple[list[dict[str, Any]], str], seed_migration: Migration
) -> None:
    """The PSP validated the pod's own profile even where every container set its own, and had set its
    default (allowed) where the pod set none: a pod-level Unconfined is refused, a missing one is not."""
    policy = AdmissionPolicy(next(d for d in migrated[0] if d["kind"] == "ValidatingAdmissionPolicy"))
    seccomp = "annotation seccomp.security.alpha.kubernetes.io/allowedProfileNames"
    admitted, mutated = seed_psp(PODS["no pod seccomp, the container's RuntimeDefault"])
    assert admitted
    assert mutated["metadata"]["annotations"][SECCOMP_POD] == "runtime/default"
    del mutated["metadata"]["annotations"][SECCOMP_POD]
    assert denied_fields(policy, seed_migration, mutated) == []
    for pod_level in ({SECCOMP_POD: "unconfined"}, {SECCOMP_POD: "localhost/p.json"}):
        unconfined = copy.deepcopy(mutated)
        unconfined["metadata"]["annotations"].update(pod_level)
        assert not seed_psp(unconfined)[0]
        assert denied_fields(policy, seed_migration, unconfined) == [seccomp]
        [check] = [c for c in seed_migration.validations() if c.field == seccomp]
        [hit] = [v.hit() for c in check.constraints for v in c.violations(effective(unconfined))]
        assert (hit.path, hit.container) == ("/metadata/annotations/" + SECCOMP_POD.replace("/", "~1"), None)


def test_the_table_has_both_outcomes() -> None:
    outcomes = [seed_psp(pod)[0] for pod in PODS.values()]
    assert outcomes.count(True) >= 10
    assert outcomes.count(False) >= 20


def test_what_the_migration_writes(migrated: tuple[list[dict[str, Any]], str]) -> None:
    docs, err = migrated
    for doc in docs:
        assert schema_errors(doc) == []
    kinds = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert kinds == [
        ("ValidatingAdmissionPolicy", "kharden-psp-restricted"),
        ("ValidatingAdmissionPolicyBinding", "kharden-psp-restricted"),
        ("Namespace", "ops"),
        ("Namespace", "shop"),
    ]
    binding = docs[1]["spec"]
    assert binding == {
        "policyName": "kharden-psp-restricted",
        "validationActions": ["Deny"],
        "matchResources": {
            "namespaceSelector": {"matchLabels": {"kharden.io/pod-security-policy": "restricted"}}
        },
    }
    shop = docs[3]["metadata"]["labels"]
    assert shop == {
        "team": "shop",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
        "kharden.io/pod-security-policy": "restricted",
    }
    # The seed's seLinux: RunAsAny lets pods set any SELinux type: no level but privileged holds for every
    # pod it admits, so nothing more is enforced by label (which would refuse pods the PSP admitted).
    assert "closest to restricted (all but SELinux, Running as Non-root)" in err
    assert "the PSP added ALL to every container's capabilities.drop" in err
    fields = [v["message"].rsplit(": ", 1)[1].rstrip(")") for v in docs[0]["spec"]["validations"]]
    assert "spec.requiredDropCapabilities" in fields
    assert "spec.fsGroup" in fields
    assert "annotation seccomp.security.alpha.kubernetes.io/allowedProfileNames" in fields


def test_levels_implied_by_a_psp() -> None:
    baseline = {
        "hostNetwork": False,
        "allowedProcMountTypes": ["Default"],
        "seLinux": {"rule": "MustRunAs", "seLinuxOptions": {"type": "container_t"}},
        "volumes": ["configMap", "secret", "emptyDir"],
    }
    annotations = {
        "seccomp.security.alpha.kubernetes.io/allowedProfileNames": "runtime/default",
        "apparmor.security.beta.kubernetes.io/allowedProfileNames": "runtime/default",
    }
    found = implied_controls(baseline, annotations)
    assert {"Host Namespaces", "SELinux", "AppArmor", "Seccomp (baseline)", "Volume Types"} <= found
    assert "Privilege Escalation" not in found
    assert "SELinux" not in implied_controls({**baseline, "seLinux": {"rule": "RunAsAny"}}, annotations)
    assert "HostPath Volumes" not in implied_controls({**baseline, "volumes": ["*"]}, annotations)


def test_unknown_fields_are_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = (
        Path(SEED)
        .read_text()
        .replace("readOnlyRootFilesystem: false", "readOnlyRootFilesystem: false\n  allowedVolumeMagic: true")
    )
    path = tmp_path / "psp.yaml"
    path.write_text(text, encoding="utf-8")
    code, _, err = run_cli(capsys, "generate", "psa", "--from-psp", str(path))
    assert code == 0
    assert "spec.allowedVolumeMagic: not a PodSecurityPolicy field kharden knows" in err
    assert "no RBAC 'use' grant in the inputs" in err


def test_psa_needs_from_psp(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "generate", "psa", RBAC)
    assert code == 2
    assert "needs --from-psp" in err


def test_the_migration_object_model() -> None:
    context, errors = load([SEED])
    assert errors == []
    [migration] = migrate(context, [SEED])
    assert migration.level == "privileged"
    assert migration.closest == "restricted"
    assert migration.unsupported == []


def test_a_wildcard_profile_list_allows_every_profile() -> None:
    for annotation in (
        "seccomp.security.alpha.kubernetes.io/allowedProfileNames",
        "apparmor.security.beta.kubernetes.io/allowedProfileNames",
    ):
        checks, _ = checks_of({}, {annotation: "*"})
        assert [c.field for c in checks if c.field.startswith("annotation")] == []
        checks, _ = checks_of({}, {annotation: "runtime/default,localhost/custom"})
        [check] = [c for c in checks if c.field.startswith("annotation")]
        assert CEL_ENV.compile(check.cel).return_type() == cel.Type.BOOL
