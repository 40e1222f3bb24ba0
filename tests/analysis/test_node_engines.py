"""Engines over node files: EncryptionConfiguration order, audit policy first match, Pod Security, CNI."""

from __future__ import annotations

from typing import Any

import pytest

from kharden.analysis import admission, audit, cni, encryption
from kharden.inventory import Inventory
from kharden.model import Obj, ObjRef, Origin


def obj(
    kind: str, raw: dict[str, Any], name: str = "x", namespace: str | None = None, api: str = "v1"
) -> Obj:
    body = {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": namespace}, **raw}
    return Obj(body, ObjRef(kind, namespace, name, api), Origin("test.yaml"))


# --- EncryptionConfiguration: https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/ ---


def config(*entries: tuple[list[str], list[dict[str, Any]]]) -> Obj:
    return obj(
        "EncryptionConfiguration",
        {"resources": [{"resources": r, "providers": p} for r, p in entries]},
        api="apiserver.config.k8s.io/v1",
    )


AESCBC = {"aescbc": {"keys": [{"name": "k", "secret": "c2VjcmV0"}]}}
KMS2 = {"kms": {"apiVersion": "v2", "name": "vault", "endpoint": "unix:///kms.sock"}}


@pytest.mark.parametrize(
    ("entries", "pattern", "first"),
    [
        pytest.param([(["secrets"], [AESCBC])], "secrets", "aescbc", id="exact"),
        pytest.param([(["*."], [KMS2])], "*.", "kms", id="core-group-wildcard"),
        pytest.param([(["*.*"], [{"identity": {}}, AESCBC])], "*.*", "identity", id="identity-first"),
        pytest.param([(["*.apps"], [AESCBC]), (["*.*"], [KMS2])], "*.*", "kms", id="other-group-skipped"),
        pytest.param(
            [(["secrets"], [KMS2]), (["*.*"], [{"identity": {}}])],
            "secrets",
            "kms",
            id="first-matching-entry-wins",
        ),
        pytest.param([(["configmaps"], [KMS2])], None, None, id="no-entry-for-secrets"),
    ],
)
def test_encryption_for_secrets(
    entries: list[tuple[list[str], list[dict[str, Any]]]], pattern: str | None, first: str | None
) -> None:
    decided = encryption.encryption_for(config(*entries), "secrets")
    assert (
        decided.pattern if decided else None,
        decided.first.name if decided and decided.first else None,
    ) == (
        pattern,
        first,
    )


def test_kms_without_api_version_is_v1() -> None:
    (provider,) = encryption.providers({"providers": [{"kms": {"name": "old"}}]}, 0)
    assert (provider.name, provider.kms_api_version, provider.path) == (
        "kms",
        "v1",
        "/resources/0/providers/0/kms",
    )


# --- audit policy: https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/#audit-policy -----


def policy(*rules: dict[str, Any], **top: Any) -> Obj:
    return obj("Policy", {"rules": list(rules), **top}, api="audit.k8s.io/v1")


SECRET_GET = audit.Request("get", "secrets")


@pytest.mark.parametrize(
    ("rules", "level", "rule"),
    [
        pytest.param([], "None", None, id="no-rule-matches-not-recorded"),
        pytest.param([{"level": "None"}, {"level": "Metadata"}], "None", 0, id="catch-all-none-first"),
        pytest.param(
            [{"level": "None", "users": ["system:kube-proxy"]}, {"level": "Metadata"}],
            "Metadata",
            1,
            id="other-users",
        ),
        pytest.param(
            [{"level": "None", "userGroups": ["system:authenticated"]}, {"level": "Metadata"}],
            "None",
            0,
            id="group",
        ),
        pytest.param(
            [
                {
                    "level": "Request",
                    "resources": [{"group": "", "resources": ["secrets"], "resourceNames": ["a"]}],
                }
            ],
            "None",
            None,
            id="named-objects-only",
        ),
        pytest.param(
            [{"level": "Request", "resources": [{"group": "apps", "resources": ["secrets"]}]}],
            "None",
            None,
            id="group",
        ),
        pytest.param([{"level": "Metadata", "resources": [{"group": ""}]}], "Metadata", 0, id="whole-group"),
        pytest.param(
            [{"level": "Metadata", "nonResourceURLs": ["/healthz"]}], "None", None, id="non-resource"
        ),
        pytest.param([{"level": "Metadata", "namespaces": ["kube-system"]}], "None", None, id="namespace"),
        pytest.param([{"level": "Metadata", "verbs": ["create"]}], "None", None, id="verb"),
    ],
)
def test_first_match(rules: list[dict[str, Any]], level: str, rule: int | None) -> None:
    decision = audit.decide(policy(*rules), SECRET_GET)
    assert (decision.level, decision.rule) == (level, rule)


def test_subresource_patterns_and_omit_stages() -> None:
    exec_request = audit.Request("create", "pods", subresource="exec")
    p = policy(
        {
            "level": "Metadata",
            "resources": [{"group": "", "resources": ["*/exec"]}],
            "omitStages": ["ResponseComplete"],
        },
        omitStages=["RequestReceived"],
    )
    decision = audit.decide(p, exec_request)
    assert (decision.level, decision.omit_stages) == (
        "Metadata",
        frozenset({"RequestReceived", "ResponseComplete"}),
    )
    assert audit.decide(
        policy({"level": "Request", "resources": [{"resources": ["pods/*"]}]}), exec_request
    ).level == ("Request")
    assert audit.decide(
        policy({"level": "Request", "resources": [{"resources": ["pods"]}]}), exec_request
    ).level == ("None")


# --- Pod Security Admission: https://kubernetes.io/docs/concepts/security/pod-security-admission/ --


def namespace(name: str, **labels: str) -> Obj:
    return obj("Namespace", {"metadata": {"name": name, "labels": labels}}, name=name)


PSA_CONFIG = obj(
    "AdmissionConfiguration",
    {
        "plugins": [
            {
                "name": "PodSecurity",
                "configuration": {
                    "kind": "PodSecurityConfiguration",
                    "defaults": {"enforce": "baseline"},
                    "exemptions": {"namespaces": ["legacy"]},
                },
            }
        ]
    },
    api="apiserver.config.k8s.io/v1",
)
ENFORCE = "pod-security.kubernetes.io/enforce"


@pytest.mark.parametrize(
    ("ns", "config", "level", "how"),
    [
        pytest.param(namespace("a"), None, "privileged", "default", id="nothing-is-privileged"),
        pytest.param(namespace("a"), PSA_CONFIG, "baseline", "default", id="configured-default"),
        pytest.param(
            namespace("a", **{ENFORCE: "restricted"}), PSA_CONFIG, "restricted", "label", id="label"
        ),
        pytest.param(
            namespace("a", **{ENFORCE: "Restricted"}),
            None,
            "restricted",
            "invalid",
            id="invalid-fails-closed",
        ),
        pytest.param(
            namespace("legacy", **{ENFORCE: "restricted"}), PSA_CONFIG, "privileged", "exempt", id="exempt"
        ),
    ],
)
def test_namespace_level(ns: Obj, config: Obj | None, level: str, how: str) -> None:
    parsed = admission.pod_security_config(config) if config else None
    result = admission.namespace_level(ns, parsed)
    assert (result.level, result.how) == (level, how)


def kyverno(action: str, level: str = "restricted", **match: Any) -> Obj:
    rule: dict[str, Any] = {
        "name": "pss",
        "match": {"any": [{"resources": {"kinds": ["Pod"], **match}}]},
        "validate": {"podSecurity": {"level": level}},
    }
    return obj(
        "ClusterPolicy", {"spec": {"validationFailureAction": action, "rules": [rule]}}, api="kyverno.io/v1"
    )


@pytest.mark.parametrize(
    ("policy", "ns", "level"),
    [
        pytest.param(kyverno("Enforce"), namespace("shop"), "restricted", id="kyverno-enforce"),
        pytest.param(kyverno("Audit"), namespace("shop"), None, id="kyverno-audit-only"),
        pytest.param(
            kyverno("Enforce", namespaces=["web-*"]), namespace("shop"), None, id="kyverno-other-namespaces"
        ),
        pytest.param(
            kyverno("Enforce", namespaceSelector={"matchLabels": {"team": "web"}}),
            namespace("shop", team="web"),
            "restricted",
            id="kyverno-selector",
        ),
    ],
)
def test_kyverno_engines(policy: Obj, ns: Obj, level: str | None) -> None:
    engines = [e for e in admission.engines_for(Inventory([policy])) if e.applies(ns)]
    assert [e.level for e in engines] == ([level] if level else [])


def gatekeeper(kind: str, action: str = "deny") -> Obj:
    return obj(
        kind,
        {"spec": {"enforcementAction": action}},
        name=kind.lower(),
        api="constraints.gatekeeper.sh/v1beta1",
    )


BASELINE = [
    "K8sPSPPrivilegedContainer",
    "K8sPSPHostNamespace",
    "K8sPSPHostNetworkingPorts",
    "K8sPSPCapabilities",
]


@pytest.mark.parametrize(
    ("kinds", "level"),
    [
        pytest.param([*BASELINE, "K8sPSPHostFilesystem"], "baseline", id="baseline-set"),
        pytest.param(BASELINE, None, id="host-paths-uncovered"),
        pytest.param(
            [
                *BASELINE,
                "K8sPSPVolumeTypes",
                "K8sPSPAllowPrivilegeEscalationContainer",
                "K8sPSPAllowedUsers",
                "K8sPSPSeccomp",
            ],
            "restricted",
            id="restricted-set",
        ),
    ],
)
def test_gatekeeper_engines(kinds: list[str], level: str | None) -> None:
    engines = admission.engines_for(Inventory([gatekeeper(k) for k in kinds]))
    assert [e.level for e in engines] == ([level] if level else [])


def test_gatekeeper_dry_run_does_not_count() -> None:
    kinds = [*BASELINE, "K8sPSPHostFilesystem"]
    constraints = [gatekeeper(k, "dryrun" if k == "K8sPSPCapabilities" else "deny") for k in kinds]
    assert admission.engines_for(Inventory(constraints)) == []


# --- CNI plugins ------------------------------------------------------------------------------------


def daemonset(name: str, containers: list[dict[str, Any]], namespace: str = "kube-system") -> Obj:
    spec = {"template": {"spec": {"containers": containers}}}
    return obj("DaemonSet", {"spec": spec}, name=name, namespace=namespace, api="apps/v1")


def configmap(name: str, data: dict[str, str]) -> Obj:
    return obj("ConfigMap", {"data": data}, name=name, namespace="kube-system")


@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        pytest.param([daemonset("cilium", [{"name": "agent"}])], [("cilium", True, False)], id="cilium"),
        pytest.param(
            [
                daemonset("cilium", [{"name": "agent"}]),
                configmap("cilium-config", {"enable-wireguard": "true"}),
            ],
            [("cilium", True, True)],
            id="cilium-wireguard",
        ),
        pytest.param(
            [daemonset("kube-flannel-ds", [{"name": "f"}], namespace="kube-flannel")],
            [("flannel", False, False)],
            id="flannel-in-its-own-namespace",
        ),
        pytest.param(
            [daemonset("kube-flannel-ds", [{"name": "f"}])], [("flannel", False, False)], id="flannel"
        ),
        pytest.param(
            [
                daemonset("kube-flannel-ds", [{"name": "f"}]),
                configmap("kube-flannel-cfg", {"net-conf.json": '{"Backend": {"Type": "wireguard"}}'}),
            ],
            [("flannel", False, True)],
            id="flannel-wireguard",
        ),
        pytest.param(
            [
                daemonset(
                    "weave-net",
                    [
                        {"name": "weave", "env": [{"name": "WEAVE_PASSWORD", "valueFrom": {}}]},
                        {"name": "weave-npc"},
                    ],
                )
            ],
            [("weave", True, True)],
            id="weave-encrypted",
        ),
        pytest.param(
            [daemonset("weave-net", [{"name": "weave"}])], [("weave", False, False)], id="weave-without-npc"
        ),
        pytest.param(
            [
                daemonset("cilium", [{"name": "agent"}]),
                configmap("cilium-config", {"enable-policy": "never"}),
            ],
            [("cilium", False, False)],
            id="cilium-policy-never",
        ),
        pytest.param(
            [
                daemonset(
                    "kube-router", [{"name": "kr", "args": ["--run-router=true", "--run-firewall=false"]}]
                )
            ],
            [("kube-router", False, False)],
            id="kube-router-without-firewall",
        ),
        pytest.param(
            [daemonset("canal", [{"name": "calico-node"}]), daemonset("kube-flannel-ds", [{"name": "f"}])],
            [("canal", True, False)],
            id="canal-absorbs-flannel",
        ),
    ],
)
def test_cni_plugins(objects: list[Obj], expected: list[tuple[str, bool, bool]]) -> None:
    assert [(p.name, p.enforces, p.encrypts) for p in cni.plugins(Inventory(objects))] == expected


def test_istio_strict_mesh_wide() -> None:
    peer = obj(
        "PeerAuthentication",
        {"spec": {"mtls": {"mode": "STRICT"}}},
        name="default",
        namespace="istio-system",
        api="security.istio.io/v1",
    )
    (mesh,) = cni.meshes(Inventory([peer]))
    assert (mesh.name, mesh.strict) == ("istio", True)


def test_audit_rule_reports_an_omitted_outcome() -> None:
    from kharden.model import Hit  # noqa: PLC0415
    from kharden.rules.logging import _policy_hits  # noqa: PLC0415

    p = policy({"level": "Metadata", "omitStages": ["ResponseComplete"]})
    hits = [h for h in _policy_hits(p) if isinstance(h, Hit)]
    assert {(h.path, h.message) for h in hits} == {
        (
            "/rules/0/omitStages",
            f"{theme} are recorded without their outcome (omitStages includes ResponseComplete)",
        )
        for theme in ("Secrets", "token reviews", "RBAC changes", "exec into pods")
    }
