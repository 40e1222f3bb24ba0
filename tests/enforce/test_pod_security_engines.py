"""admission.pod-security and ValidatingAdmissionPolicies: kharden's own recognised by what they say they
enforce, the PodSecurityPolicy migration's counted for no level of their own, third parties' by their CEL."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from conftest import scan_text
from kharden.analysis.admission import LEVEL_RULES
from kharden.enforce.policies import PolicyOptions, exportable, parse_selector, policy_documents
from kharden.model import Severity
from kharden.rules import REGISTRY, get

EXPORTED = [r for r in REGISTRY if exportable(r)]
NAMESPACES = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"env": "prod"}}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab", "labels": {"env": "dev"}}},
]


def _findings(documents: list[dict[str, Any]]) -> dict[str, tuple[Severity, str]]:
    text = yaml.safe_dump_all([*NAMESPACES, *documents])
    report = scan_text(text, ["admission.pod-security"])
    return {f.object.name: (f.severity, f.message) for f in report.findings}


def _policies(rule_ids: set[str] | None = None, **options: Any) -> list[dict[str, Any]]:
    rules = [r for r in EXPORTED if rule_ids is None or r.id in rule_ids]
    return policy_documents(rules, PolicyOptions(**options))


def test_the_levels_name_exported_rules() -> None:
    assert LEVEL_RULES["baseline"] < LEVEL_RULES["restricted"] <= {r.id for r in EXPORTED}


def test_every_exported_policy_holds_namespaces_to_restricted() -> None:
    assert _findings([]) == {
        "shop": (
            Severity.HIGH,
            "namespace 'shop' enforces no Pod Security level (no pod-security.kubernetes.io/enforce label)",
        ),
        "lab": (
            Severity.HIGH,
            "namespace 'lab' enforces no Pod Security level (no pod-security.kubernetes.io/enforce label)",
        ),
    }
    assert _findings(_policies()) == {}


def test_bindings_apply_to_the_namespaces_they_select() -> None:
    found = _findings(_policies(namespace_selector=parse_selector("env=prod")))
    assert set(found) == {"lab"}


def test_the_baseline_rules_hold_to_baseline_and_one_missing_rule_breaks_a_level() -> None:
    baseline = _findings(_policies(set(LEVEL_RULES["baseline"])))
    assert {ns: severity for ns, (severity, _) in baseline.items()} == {
        "shop": Severity.MEDIUM,
        "lab": Severity.MEDIUM,
    }
    assert baseline["shop"][1] == "namespace 'shop' is held only to the baseline level by a policy engine"
    missing = _findings(_policies(set(LEVEL_RULES["restricted"]) - {"pod.capabilities"}))
    assert {ns: severity for ns, (severity, _) in missing.items()} == {
        "shop": Severity.MEDIUM,
        "lab": Severity.MEDIUM,
    }
    none = _findings(_policies(set(LEVEL_RULES["baseline"]) - {"pod.privileged"}))
    assert {ns: severity for ns, (severity, _) in none.items()} == {
        "shop": Severity.HIGH,
        "lab": Severity.HIGH,
    }


@pytest.mark.parametrize(
    "options", [{"honour_annotations": True}, {"actions": ("Warn",)}, {"actions": ("Audit",)}], ids=str
)
def test_policies_anyone_can_bypass_or_that_do_not_deny_count_for_nothing(options: dict[str, Any]) -> None:
    found = _findings(_policies(**options))
    assert {ns: severity for ns, (severity, _) in found.items()} == {
        "shop": Severity.HIGH,
        "lab": Severity.HIGH,
    }


def _text_policy(name: str, annotations: dict[str, str]) -> list[dict[str, Any]]:
    """A policy whose CEL names every field of the restricted controls (as the PSP migration's does)."""
    expression = (
        "!has(object.spec.hostPID) && !has(object.spec.hostNetwork) && object.spec.containers.all(c,"
        " !has(c.securityContext.privileged) && !has(c.securityContext.capabilities) &&"
        " c.securityContext.allowPrivilegeEscalation == false && c.securityContext.runAsNonRoot == true &&"
        " has(c.securityContext.seccompProfile)) && !object.spec.volumes.exists(v, has(v.hostPath))"
    )
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                    }
                ]
            },
            "validations": [{"expression": expression}],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"]},
    }
    return [policy, binding]


def test_the_psp_migration_policy_is_not_taken_for_a_level_but_a_third_party_one_is() -> None:
    migration = _text_policy(
        "kharden-psp-restricted",
        {"kharden.io/generated-by": "kharden generate psa --from-psp (kharden 0.1.0)"},
    )
    assert set(_findings(migration)) == {"shop", "lab"}
    assert _findings(_text_policy("company-restricted", {})) == {}


def test_a_rule_annotation_without_kharden_is_read_as_text() -> None:
    """Only what kharden wrote is trusted by annotation; someone else's policy claiming a rule is read."""
    forged = _text_policy("forged", {"kharden.io/rule": "pod.privileged"})
    forged[0]["spec"]["validations"] = [{"expression": "true"}]
    assert set(_findings(forged)) == {"shop", "lab"}
    assert get("pod.privileged").id in LEVEL_RULES["baseline"]
