"""``kharden admission policies``: the objects it writes, their options, and what they decide beyond the proof.

The proof that every policy denies exactly what the scan reports is test_policies_equal_scan.py; here:
the schemas, the command line, image exemptions (compared with the webhook's, in Python), annotations
honoured on request, updates that leave the pod template alone, and the CEL the API server accepts.
"""

from __future__ import annotations

import json
import re
from typing import Any

import kubernetes_validate
import pytest
import yaml
from vap import Policy

from conftest import MINIMAL_POD, as_kind, mutate
from kharden.analysis.podspec import effective_pod
from kharden.cli import main
from kharden.enforce.exemptions import exempt, image_glob_regex
from kharden.enforce.policies import (
    EXEMPTIONS,
    PolicyOptions,
    exportable,
    parse_selector,
    policy_documents,
    rule_policy,
)
from kharden.errors import UsageError
from kharden.model import Origin
from kharden.rules import REGISTRY, get
from kharden.runner import judge
from kharden.sources.documents import Collected

EXPORTED = [r for r in REGISTRY if exportable(r)]
PRIVILEGED = mutate(MINIMAL_POD, ("/spec/containers/0/securityContext/privileged", True))


def _schema_errors(obj: dict[str, Any], version: str) -> list[str]:
    try:
        kubernetes_validate.validate(json.loads(json.dumps(obj)), version, strict=True)
    except kubernetes_validate.ValidationError as e:
        return [f"{obj['kind']} {obj['metadata']['name']}: {'/'.join(str(p) for p in e.path)}: {e.message}"]
    return []


@pytest.mark.parametrize(("api", "version"), [("v1", "1.30"), ("v1", "1.33"), ("v1beta1", "1.28")])
def test_every_object_validates_against_the_openapi_schema(api: str, version: str) -> None:
    documents = policy_documents(EXPORTED, PolicyOptions(api=api, exempt_images=("quay.io/calico/*",)))
    assert [d["kind"] for d in documents[:3]] == [
        "ConfigMap",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ]
    assert len(documents) == 1 + 2 * len(EXPORTED)
    assert [e for d in documents for e in _schema_errors(d, version)] == []


def test_the_policy_of_a_rule() -> None:
    rule = get("pod.run-as-root")
    policy, binding = rule_policy(rule, PolicyOptions())
    assert policy["metadata"]["name"] == binding["spec"]["policyName"] == "kharden-pod-run-as-root"
    assert policy["metadata"]["annotations"]["kharden.io/rule"] == "pod.run-as-root"
    spec = policy["spec"]
    assert spec["paramKind"] == {"apiVersion": "v1", "kind": "ConfigMap"}
    resources = {r for rule_ in spec["matchConstraints"]["resourceRules"] for r in rule_["resources"]}
    assert resources == {
        "pods",
        "pods/ephemeralcontainers",
        "replicationcontrollers",
        "deployments",
        "statefulsets",
        "daemonsets",
        "replicasets",
        "jobs",
        "cronjobs",
    }
    assert [v["name"] for v in spec["variables"]][:2] == ["podSpec", "podMetadata"]
    assert len(spec["validations"]) == len(rule.constraints) == 2
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert binding["spec"]["paramRef"] == {
        "name": EXEMPTIONS,
        "namespace": "kube-system",
        "parameterNotFoundAction": "Deny",
    }
    assert binding["spec"]["matchResources"]["namespaceSelector"] == {
        "matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}
        ]
    }


_KUBERNETES_ONLY = re.compile(
    r"\.\?|\[\?|optional\.|\.isSorted\(|\.sum\(|\.indexOf\(\[|url\(|ip\(|cidr\(|quantity\(|authorizer|cel\.bind"
)


def test_the_cel_uses_what_the_api_server_and_the_library_share() -> None:
    """No optional chaining, none of Kubernetes' own libraries (the proof could not run them)."""
    for rule in EXPORTED:
        policy, _ = rule_policy(rule, PolicyOptions(honour_annotations=True))
        spec = policy["spec"]
        for text in [v["expression"] for v in spec["variables"]] + [
            e for v in spec["validations"] for e in (v["expression"], v["messageExpression"])
        ]:
            assert not _KUBERNETES_ONLY.search(text), (rule.id, _KUBERNETES_ONLY.search(text))
        Policy(policy)  # compiles, validations to bool and messages to string


def _obj(raw: dict[str, Any]) -> Any:
    collected = Collected()
    collected.add_raw(raw, Origin(None))
    return collected.objects[0]


@pytest.mark.parametrize(
    ("globs", "images"),
    [
        (["quay.io/calico/*"], ["quay.io/calico/node:v3", "nginx"]),
        (["quay.io/calico/*"], ["quay.io/calico/node:v3", "quay.io/calico/cni:v3"]),
        (["*"], ["a", "b"]),
        (["registry.example.com/app:1.?"], ["registry.example.com/app:1.2", "registry.example.comXapp:1.2"]),
        (["nginx"], ["nginx:1.25", "nginx"]),
        (["a+b(c)[d]{e}|f^g$h\\i"], ["a+b(c)[d]{e}|f^g$h\\i", "aab"]),
        ([], ["nginx"]),
    ],
)
def test_image_exemptions_decide_as_the_webhook(globs: list[str], images: list[str]) -> None:
    """The policies' CEL (ConfigMap globs) and the webhook's Python (exemptions.exempt) exempt the same."""
    spec = {
        "securityContext": {"runAsUser": 0, "hostPID": True},
        "hostPID": True,
        "containers": [
            {"name": f"c{i}", "image": image, "securityContext": {"privileged": True}}
            for i, image in enumerate(images)
        ],
    }
    raw = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "x"}, "spec": spec}
    obj = _obj(raw)
    pod = exempt(effective_pod(obj, ""), globs)
    params = {"data": {"images": "\n".join(globs) + "\n\n"}}
    for rule in (get("pod.privileged"), get("pod.host-namespaces"), get("pod.run-as-root")):
        policy = Policy(rule_policy(rule, PolicyOptions())[0])
        denied = bool(policy.evaluate(raw, params))
        expected = pod is not None and any(True for c in rule.constraints for _ in c.violations(pod))
        assert denied == expected, (rule.id, globs, images)


def test_image_glob_regex() -> None:
    assert re.search(image_glob_regex("quay.io/*"), "quay.io/calico/node:v3")
    assert not re.search(image_glob_regex("quay.io/*"), "quayXio/calico")
    assert not re.search(image_glob_regex("nginx"), "nginx:1")
    assert re.search(image_glob_regex(" nginx:? "), "nginx:1")


def test_annotations_are_honoured_only_when_asked() -> None:
    annotated = mutate(
        PRIVILEGED,
        ("/metadata/annotations", {"kharden.io/ignore": "pod.run-as-root, pod.priv*=debug pod, ok"}),
    )
    rule = get("pod.privileged")
    plain = Policy(rule_policy(rule, PolicyOptions())[0])
    honouring = Policy(rule_policy(rule, PolicyOptions(honour_annotations=True))[0])
    assert plain.evaluate(annotated) != []
    assert honouring.evaluate(annotated) == []
    assert honouring.evaluate(PRIVILEGED) != []
    # As the scan reads the annotation: the finding is suppressed, not gone.
    findings = judge(_obj(annotated), [rule]).findings
    assert [f.suppressed.kind if f.suppressed else None for f in findings] == ["annotation"]
    # On a workload's pod template too, and a glob that names another rule suppresses nothing.
    for value, denied in (("pod.*", False), ("image.*", True), ("pod.privileged=x\npod.seccomp", False)):
        workload = as_kind(
            mutate(PRIVILEGED, ("/metadata/annotations", {"kharden.io/ignore": value})), "Deployment"
        )
        assert bool(honouring.evaluate(workload)) is denied, value
        scan = [f for f in judge(_obj(workload), [rule]).findings if f.suppressed is None]
        assert bool(scan) is denied, value


def test_an_update_that_leaves_the_template_alone_is_not_judged_again() -> None:
    policy = Policy(rule_policy(get("pod.privileged"), PolicyOptions())[0])
    deployment = as_kind(PRIVILEGED, "Deployment")
    scaled = mutate(deployment, ("/spec/replicas", 5), ("/metadata/labels", {"team": "x"}))
    assert policy.evaluate(deployment) != []
    assert policy.evaluate(scaled, operation="UPDATE", old=deployment) == []
    changed = mutate(scaled, ("/spec/template/spec/containers/0/image", "other"))
    assert policy.evaluate(changed, operation="UPDATE", old=deployment) != []
    pod = mutate(PRIVILEGED, ("/metadata/labels", {"a": "b"}))
    assert policy.evaluate(pod, operation="UPDATE", old=PRIVILEGED) == []
    annotated = mutate(PRIVILEGED, ("/metadata/annotations", {"x": "y"}))
    assert policy.evaluate(annotated, operation="UPDATE", old=PRIVILEGED) != []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("env=prod", {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}),
        (
            "env==prod,tier!=db",
            {
                "matchExpressions": [
                    {"key": "env", "operator": "In", "values": ["prod"]},
                    {"key": "tier", "operator": "NotIn", "values": ["db"]},
                ]
            },
        ),
        (
            "team in (a, b),!legacy,owned",
            {
                "matchExpressions": [
                    {"key": "team", "operator": "In", "values": ["a", "b"]},
                    {"key": "legacy", "operator": "DoesNotExist"},
                    {"key": "owned", "operator": "Exists"},
                ]
            },
        ),
        (
            "kubernetes.io/metadata.name notin (kube-system,kharden)",
            {
                "matchExpressions": [
                    {
                        "key": "kubernetes.io/metadata.name",
                        "operator": "NotIn",
                        "values": ["kharden", "kube-system"],
                    },
                ]
            },
        ),
    ],
)
def test_namespace_selectors(text: str, expected: dict[str, Any]) -> None:
    assert parse_selector(text) == expected


@pytest.mark.parametrize("text", ["env in prod", "=x", "!a=b", "a b"])
def test_bad_namespace_selectors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_selector(text)


def test_the_command(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    out = tmp_path / "policies.yaml"
    code = main(
        [
            "admission",
            "policies",
            "--rule",
            "pod.*",
            "--action",
            "Warn,Audit",
            "--namespace-selector",
            "env=prod",
            "--exempt-image",
            "quay.io/calico/*",
            "--api",
            "v1beta1",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "pod.sensitive-mount: not exported: paths are normalised" in err
    text = out.read_text()
    assert text.startswith("# Generated by `kharden admission policies`")
    assert "#   pod.sensitive-mount: paths are normalised" in text
    documents = [d for d in yaml.safe_load_all(text) if d]
    config_map, *rest = documents
    assert config_map["data"] == {"images": "quay.io/calico/*"}
    policies = [d for d in rest if d["kind"] == "ValidatingAdmissionPolicy"]
    assert {p["metadata"]["annotations"]["kharden.io/rule"] for p in policies} == {
        r.id for r in EXPORTED if r.id.startswith("pod.")
    }
    bindings = [d for d in rest if d["kind"] == "ValidatingAdmissionPolicyBinding"]
    assert {b["apiVersion"] for b in bindings} == {"admissionregistration.k8s.io/v1beta1"}
    assert {tuple(b["spec"]["validationActions"]) for b in bindings} == {("Warn", "Audit")}
    assert {json.dumps(b["spec"]["matchResources"]) for b in bindings} == {
        json.dumps(
            {
                "namespaceSelector": {
                    "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]
                }
            }
        )
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--action", "Deny,Warn"], "Deny and Warn together"),
        (["--action", "Block"], "expected Deny, Warn or Audit"),
        (["--rule", "pod.sensitive-mount"], "no exportable rule selected: pod.sensitive-mount"),
        (["--rule", "nope.*"], "matches no rule"),
        (["--namespace-selector", "a in b"], "cannot read it"),
    ],
)
def test_command_usage_errors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["admission", "policies", *args]) == 2
    assert message in capsys.readouterr().err


def test_kharden_rules_lists_what_is_not_exportable_and_why(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    table = out.split("\n\n")[0]
    footer = out.partition("\nNot exportable as ValidatingAdmissionPolicies")[2]
    rows = {line.split()[0]: line.split()[3] for line in table.splitlines()[1:]}
    assert {rule for rule, cel in rows.items() if cel == "yes"} == {r.id for r in EXPORTED}
    reasons = dict(line.strip().split(": ", 1)[::-1] for line in footer.splitlines()[1:])
    by_rule = {rule: why for ids, why in reasons.items() for rule in ids.split(", ")}
    assert set(by_rule) == {r.id for r in REGISTRY} - {r.id for r in EXPORTED}
    assert by_rule["pod.sensitive-mount"].startswith("paths are normalised")
    assert by_rule["rbac.cluster-admin"] == "it judges the whole inventory, not one object"
    assert by_rule["exposure.kubelet-auth"].startswith("it reads node and control-plane files")
    assert by_rule["encryption.ingress-tls"] == "it judges Ingress objects, not pods"
