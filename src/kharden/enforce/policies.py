"""ValidatingAdmissionPolicies from the pod rules written as data: one policy and one binding per rule.

Each policy matches Pods (and their ``ephemeralcontainers`` subresource) and every kind with a pod
template, binds the pod spec and the template's metadata of each kind to ``variables.podSpec`` and
``variables.podMetadata``, and has one validation per constraint of the rule: its expression is the
constraint's CEL (:meth:`~kharden.rules._constraint.Constraint.cel`), its ``messageExpression`` the
constraint's message written as CEL (:func:`~kharden.rules._message.message_cel`), which names the
containers as the scan does. Nothing is written per rule.

Exemptions are a parameter: the ConfigMap ``kharden-admission-exemptions`` (``paramKind``), whose
``images`` key lists image globs (``*`` any text, ``?`` one character), one per line. A container whose
image matches one passes every container test; a pod whose containers all match passes the pod-level
tests too. A missing ConfigMap denies (``parameterNotFoundAction: Deny``): deleting it never turns
enforcement off.

An update that leaves the pod template unchanged (a label, a replica count, a finalizer) is not judged
again, so that an object admitted before the policy can still be scaled and deleted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..analysis.admission import GENERATED_BY, RULE_ANNOTATION, SUPPRESSIBLE_ANNOTATION
from ..analysis.podspec import CONTAINER_LISTS
from ..errors import UsageError
from ..rules import REGISTRY, Rule, select
from ..rules._constraint import CelRoots, cel_literal
from ..rules._message import Message, message_cel
from ..suppress import IGNORE_ANNOTATION
from .exemptions import GLOB_SPECIALS

__all__ = [
    "ACTIONS",
    "API_VERSIONS",
    "EXEMPTIONS",
    "GENERATED_BY",
    "RULE_ANNOTATION",
    "PolicyOptions",
    "exportable",
    "parse_selector",
    "policy_documents",
    "policy_name",
    "rule_policy",
]

GROUP = "admissionregistration.k8s.io"
API_VERSIONS = ("v1", "v1beta1")
ACTIONS = ("Deny", "Warn", "Audit")
REASON = "kharden.io/reason"
EXEMPTIONS = "kharden-admission-exemptions"
MANAGED_BY = {"app.kubernetes.io/managed-by": "kharden"}
DEFAULT_NAMESPACE_SELECTOR = "kubernetes.io/metadata.name notin (kube-system)"

# The resources with a pod spec, by API group (the kinds of analysis/podspec.py that are still served).
RESOURCES = (
    ("", ("pods", "pods/ephemeralcontainers", "replicationcontrollers")),
    ("apps", ("deployments", "statefulsets", "daemonsets", "replicasets")),
    ("batch", ("jobs", "cronjobs")),
)


def _template(root: str) -> str:
    """CEL of the pod template of ``root`` (``object``, ``oldObject``): a Pod is its own."""
    return f"({root}.kind == 'CronJob' ? {root}.spec.jobTemplate.spec.template : {root}.spec.template)"


POD_SPEC = f"object.kind == 'Pod' ? object.spec : {_template('object')}.spec"
POD_METADATA = (
    "object.kind == 'Pod' ? object.metadata"
    " : object.kind == 'CronJob' ? (has(object.spec.jobTemplate.spec.template.metadata)"
    " ? object.spec.jobTemplate.spec.template.metadata : {})"
    " : (has(object.spec.template.metadata) ? object.spec.template.metadata : {})"
)
_ANNOTATIONS = "(has({0}.annotations) ? {0}.annotations : {{}})"
UNCHANGED = (
    "request.operation == 'UPDATE' && oldObject != null && (object.kind == 'Pod'"
    f" ? object.spec == oldObject.spec && {_ANNOTATIONS.format('object.metadata')}"
    f" == {_ANNOTATIONS.format('oldObject.metadata')}"
    f" : {_template('object')} == {_template('oldObject')})"
)
"""An update that leaves the pod template (for a Pod: its spec and annotations) as it was."""


def _glob_cel(var: str) -> str:
    expr = f"{var}.trim()"
    for special in GLOB_SPECIALS:
        expr = f"{expr}.replace({cel_literal(special)}, {cel_literal(chr(92) + special)})"
    return f"'^' + {expr}.replace('*', '.*').replace('?', '.') + '$'"


EXEMPT_IMAGES = (
    "has(params.data) && 'images' in params.data"
    f" ? params.data.images.split('\\n').filter(p, p.trim() != '').map(p, {_glob_cel('p')}) : []"
)
EXEMPT_CONTAINER = "(has({c}.image) && variables.exemptImages.exists(r, {c}.image.matches(r)))"
ALL_CONTAINERS = " + ".join(
    f"(has(variables.podSpec.{name}) ? variables.podSpec.{name} : [])" for name in CONTAINER_LISTS
)
ALL_EXEMPT = (
    f"variables.exemptImages.size() > 0 && ({ALL_CONTAINERS}).size() > 0"
    f" && ({ALL_CONTAINERS}).all(c, {EXEMPT_CONTAINER.format(c='c')})"
)

# fnmatch's syntax (suppress.parse_ignore) as RE2: '*' any text, '?' one character, '[!' a negated set.
_IGNORE_ENTRY = r"^(\*|[a-z0-9*?\[\]!-]+\.[a-z0-9*?\[\]!-]+)$"


def _suppressed(rule_id: str) -> str:
    """CEL: a ``kharden.io/ignore`` annotation of the object or of its pod template names the rule."""
    key = cel_literal(IGNORE_ANNOTATION)
    values = ", ".join(
        f"(has({m}.annotations) && {key} in {m}.annotations ? {m}.annotations[{key}] : '')"
        for m in ("object.metadata", "variables.podMetadata")
    )
    pattern = "e.split('=')[0].trim()"
    regex = (
        f"'^' + {pattern}.replace('.', '\\\\.').replace('*', '.*').replace('?', '.').replace('[!', '[^')"
        " + '$'"
    )
    entry = f"{pattern}.matches({cel_literal(_IGNORE_ENTRY)}) && {cel_literal(rule_id)}.matches({regex})"
    return f"[{values}].exists(v, v.replace('\\n', ',').split(',').exists(e, {entry}))"


@dataclass(frozen=True)
class PolicyOptions:
    api: str = "v1"
    actions: tuple[str, ...] = ("Deny",)
    namespace_selector: dict[str, Any] = field(
        default_factory=lambda: parse_selector(DEFAULT_NAMESPACE_SELECTOR)
    )
    exempt_images: tuple[str, ...] = ()
    params_namespace: str = "kube-system"
    honour_annotations: bool = False
    """Honour ``kharden.io/ignore`` annotations as the scan does (anyone who writes the pod can then
    exempt it); off by default."""


def policy_name(rule: Rule) -> str:
    return "kharden-" + rule.id.replace(".", "-")


def exportable(rule: Rule) -> bool:
    return bool(rule.constraints) and all(isinstance(c.message, Message) for c in rule.constraints)


ROOTS = CelRoots(exempt=EXEMPT_CONTAINER, pod_exempt="variables.allExempt")
"""The pod spec and metadata variables, and the image exemptions, as every policy binds them."""


def rule_policy(rule: Rule, options: PolicyOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ValidatingAdmissionPolicy of ``rule`` and its binding."""
    if not exportable(rule):
        raise ValueError(f"{rule.id}: {rule.export_note}")
    name = policy_name(rule)
    roots = ROOTS
    variables = [
        {"name": "podSpec", "expression": POD_SPEC},
        {"name": "podMetadata", "expression": POD_METADATA},
        {"name": "unchanged", "expression": UNCHANGED},
        {"name": "exemptImages", "expression": EXEMPT_IMAGES},
        {"name": "allExempt", "expression": ALL_EXEMPT},
    ]
    skip = "variables.unchanged"
    if options.honour_annotations:
        variables.append({"name": "suppressed", "expression": _suppressed(rule.id)})
        skip += " || variables.suppressed"
    validations = []
    for index, constraint in enumerate(rule.constraints):
        entries_var = f"failing{index}"
        text = message_cel(constraint, roots, f"variables.{entries_var}")
        if text.entries is not None:
            variables.append({"name": entries_var, "expression": text.entries})
        validations.append(
            {
                "expression": f"{skip} || ({constraint.cel(roots)})",
                "messageExpression": f"{cel_literal(rule.id + ': ')} + {text.expression}"
                f" + {cel_literal(' (fix: ' + rule.remediation + ')')}",
                "message": f"{rule.id}: {rule.title} (fix: {rule.remediation})",
                "reason": "Forbidden",
            }
        )
    annotations = {
        GENERATED_BY: f"kharden admission policies (kharden {__version__})",
        RULE_ANNOTATION: rule.id,
        REASON: f"enforces {rule.id} ({rule.title}) at admission",
    }
    if options.honour_annotations:
        annotations[SUPPRESSIBLE_ANNOTATION] = "true"
    spec: dict[str, Any] = {
        "failurePolicy": "Fail",
        "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
        "matchConstraints": {
            "resourceRules": [
                {
                    "apiGroups": [group],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE", "UPDATE"],
                    "resources": list(resources),
                }
                for group, resources in RESOURCES
            ]
        },
        "variables": variables,
        "validations": validations,
    }
    policy = {
        "apiVersion": f"{GROUP}/{options.api}",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": dict(MANAGED_BY), "annotations": annotations},
        "spec": spec,
    }
    binding = {
        "apiVersion": f"{GROUP}/{options.api}",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {
            "name": name,
            "labels": dict(MANAGED_BY),
            "annotations": {**annotations, REASON: f"applies {name} to the selected namespaces"},
        },
        "spec": {
            "policyName": name,
            "validationActions": list(options.actions),
            "paramRef": {
                "name": EXEMPTIONS,
                "namespace": options.params_namespace,
                "parameterNotFoundAction": "Deny",
            },
            "matchResources": {"namespaceSelector": options.namespace_selector},
        },
    }
    return policy, binding


def exemptions_config_map(options: PolicyOptions) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": EXEMPTIONS,
            "namespace": options.params_namespace,
            "labels": dict(MANAGED_BY),
            "annotations": {
                GENERATED_BY: f"kharden admission policies (kharden {__version__})",
                REASON: "image globs (one per line) that kharden's admission policies exempt; every"
                " policy reads it, and denies when it is missing",
            },
        },
        "data": {"images": "\n".join(options.exempt_images)},
    }


def selected_rules(globs: Sequence[str]) -> tuple[list[Rule], list[Rule]]:
    """``(exported, not exportable)`` among the rules the globs select (all rules when none)."""
    chosen = select(list(globs)) if globs else list(REGISTRY)
    return [r for r in chosen if exportable(r)], [r for r in chosen if not exportable(r)]


def policy_documents(rules: Sequence[Rule], options: PolicyOptions) -> list[dict[str, Any]]:
    """The exemptions ConfigMap, then each rule's policy and binding."""
    documents = [exemptions_config_map(options)]
    for rule in rules:
        documents.extend(rule_policy(rule, options))
    return documents


# --------------------------------------------------------------------------------------------- selectors

_REQUIREMENT = re.compile(
    r"\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9][-A-Za-z0-9_./]*)\s*"
    r"(?:(?P<op>==|!=|=|(?:notin|in)(?=\s*\())\s*(?P<value>\([^)]*\)|[-A-Za-z0-9_.]*))?\s*(?:,|$)"
)


def parse_selector(text: str) -> dict[str, Any]:
    """A label selector in kubectl's syntax (``env=prod,tier in (web,api),!legacy``) as a
    ``metav1.LabelSelector`` (``matchExpressions`` only; ``{}`` for an empty selector)."""
    expressions: list[dict[str, Any]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _REQUIREMENT.match(text, position)
        if match is None or match.end() == position:
            raise UsageError(f"--namespace-selector {text!r}: cannot read it after {text[:position]!r}")
        position = match.end()
        key, op, value = match["key"], (match["op"] or "").strip(), match["value"]
        if match["neg"]:
            if op:
                raise UsageError(f"--namespace-selector {text!r}: '!{key}' takes no value")
            expressions.append({"key": key, "operator": "DoesNotExist"})
        elif not op:
            expressions.append({"key": key, "operator": "Exists"})
        elif op in {"in", "notin"}:
            if not value or not value.startswith("("):
                raise UsageError(f"--namespace-selector {text!r}: '{key} {op}' needs (v1,v2,...)")
            values = sorted({v.strip() for v in value[1:-1].split(",") if v.strip()})
            expressions.append({"key": key, "operator": "In" if op == "in" else "NotIn", "values": values})
        else:
            expressions.append(
                {"key": key, "operator": "NotIn" if op == "!=" else "In", "values": [value or ""]}
            )
    return {"matchExpressions": expressions} if expressions else {}
