"""Checklist section F: audit logging of the API server."""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.audit import Decision, Request, decide
from ..analysis.context import ScanContext
from ..analysis.controlplane import APISERVER
from ..model import Hit, Obj, Severity, Unevaluated
from ._controlplane import absent, at, file_objects
from ._ruleset import RuleSet

rules = RuleSet("logging")

AUDIT_DOC = "https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/"
# DaemonSet name or image words of log collectors that can ship the audit log off the node.
COLLECTORS = (
    "fluent-bit", "fluentbit", "fluentd", "vector", "promtail", "filebeat", "alloy", "grafana-agent",
    "datadog", "splunk", "otel", "opentelemetry-collector", "logstash", "elastic-agent",
)  # fmt: skip


@rules.inventory(
    "logging.audit-disabled",
    Severity.HIGH,
    evidence="N, C",
    title="API audit logging off",
    remediation=(
        "pass kube-apiserver --audit-policy-file and --audit-log-path (or --audit-webhook-config-file)"
    ),
    references=(AUDIT_DOC,),
)
def audit_disabled(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when kube-apiserver has no --audit-policy-file, or neither --audit-log-path nor
    --audit-webhook-config-file: no audit event is written anywhere.

    Without an audit log nobody can tell who read a Secret, created a privileged pod or bound
    cluster-admin, during an attack or after it.

    Reads: kube-apiserver --audit-policy-file, --audit-log-path, --audit-webhook-config-file (RKE2 and
    k3s: their kube-apiserver-arg and audit-policy-file settings).
    """
    yield from absent(context, APISERVER)
    for component in context.control_plane.of(APISERVER):
        if not component.has("audit-policy-file"):
            yield at(
                component.setting("audit-policy-file"),
                "kube-apiserver has no audit policy (--audit-policy-file is not set)",
            )
        if not component.has("audit-log-path") and not component.has("audit-webhook-config-file"):
            yield at(
                component.setting("audit-log-path"),
                "kube-apiserver writes audit events nowhere"
                " (neither --audit-log-path nor --audit-webhook-config-file is set)",
            )


# Requests the audit log must record, by theme.
_RECORDED = {
    "Secrets": [Request(v, "secrets") for v in ("get", "list", "create", "update", "patch", "delete")],
    "token reviews": [Request("create", "tokenreviews", "authentication.k8s.io", namespace="")],
    "RBAC changes": [
        Request(v, r, "rbac.authorization.k8s.io", namespace=ns)
        for v in ("create", "update", "patch", "delete")
        for r, ns in (
            ("clusterroles", ""),
            ("clusterrolebindings", ""),
            ("roles", "default"),
            ("rolebindings", "default"),
        )
    ],
    "exec into pods": [Request("create", "pods", subresource="exec")],
}
# Requests whose body (level Request) or response (level RequestResponse) holds secret data.
_LEAKS = [
    (Request("create", "secrets"), "Request"),
    (Request("update", "secrets"), "Request"),
    (Request("patch", "secrets"), "Request"),
    (Request("get", "secrets"), "RequestResponse"),
    (Request("list", "secrets"), "RequestResponse"),
    (Request("create", "tokenreviews", "authentication.k8s.io", namespace=""), "Request"),
    (Request("create", "serviceaccounts", subresource="token"), "RequestResponse"),
]


@rules.inventory(
    "logging.audit-policy",
    Severity.MEDIUM,
    evidence="N",
    title="Audit policy misses or leaks",
    remediation=(
        "record secrets, tokenreviews, RBAC objects and pods/exec at level Metadata in rules placed before"
        " any catch-all level: None, and never at Request or RequestResponse"
    ),
    references=(AUDIT_DOC + "#audit-policy",),
)
def audit_policy(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when the audit policy does not record requests that matter for authentication and
    authorization (Secrets, token reviews, RBAC changes, exec into pods: level None, often because a
    catch-all ``level: None`` rule comes first, or the ResponseComplete stage is omitted), or records
    secret data (Secrets written at Request, read at RequestResponse; token reviews at Request;
    service account tokens at RequestResponse).

    Rules are first-match: the first rule that matches a request sets its level, and a request no
    rule matches is not recorded. A secret recorded at Request level sits in clear text in every
    copy of the audit log.

    Reads: the audit Policy kube-apiserver --audit-policy-file names: omitStages and rules[*]
    (level, users, userGroups, verbs, resources, namespaces, nonResourceURLs, omitStages), evaluated
    for ordinary users' requests.
    """
    yield from absent(context, APISERVER)
    for component in context.control_plane.of(APISERVER):
        for policy in file_objects(context, component, "audit-policy-file", ("Policy",)):
            if isinstance(policy, Unevaluated):
                yield policy
            else:
                yield from _policy_hits(policy)


def _policy_hits(policy: Obj) -> Iterator[Hit]:
    reported: set[tuple[str, str]] = set()
    for theme, requests in _RECORDED.items():
        for request in requests:
            decision = decide(policy, request)
            if decision.level == "None":
                key = (decision.path, theme)
                if key not in reported:
                    reported.add(key)
                    yield Hit(
                        _level_path(decision),
                        f"{theme} are not recorded: {_why_none(decision, request)}",
                        obj=policy,
                        key=f"{theme} not recorded",
                    )
                break
            if "ResponseComplete" in decision.omit_stages:
                key = (decision.path, theme + " outcome")
                if key not in reported:
                    reported.add(key)
                    yield Hit(
                        decision.path + "/omitStages" if decision.rule is not None else "/omitStages",
                        f"{theme} are recorded without their outcome (omitStages includes ResponseComplete)",
                        obj=policy,
                        key=f"{theme} without outcome",
                    )
                break
    for request, level in _LEAKS:
        decision = decide(policy, request)
        if decision.rank >= ("None", "Metadata", "Request", "RequestResponse").index(level):
            key = (decision.path, request.resource)
            if key in reported:
                continue
            reported.add(key)
            yield Hit(
                _level_path(decision),
                f"'{request}' is recorded at level {decision.level}: the audit log holds the secret data",
                obj=policy,
                key=f"'{request}' leaks",
            )


def _level_path(decision: Decision) -> str:
    return f"{decision.path}/level" if decision.rule is not None else decision.path


def _why_none(decision: Decision, request: Request) -> str:
    if decision.rule is None:
        return f"no rule matches '{request}' (an unmatched request is not recorded)"
    number = decision.rule + 1
    if decision.catch_all:
        return f"rule {number} (level: None) matches every request and comes first"
    return f"rule {number} matches '{request}' first with level: None"


@rules.inventory(
    "logging.audit-retention",
    Severity.LOW,
    evidence="N, C",
    title="Audit log kept too briefly",
    remediation="set --audit-log-maxage=30 (or more), --audit-log-maxbackup=10 and --audit-log-maxsize=100",
    references=(AUDIT_DOC + "#log-backend",),
)
def audit_retention(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when kube-apiserver logs audit events to a file without a bounded, deliberate retention:
    --audit-log-maxage unset or below 30 days, --audit-log-maxbackup unset or below 10 files, or
    --audit-log-maxsize unset or below 100 MB.

    Audit logs are read weeks after an intrusion; rotated away, they answer nothing, and kept without
    bound they fill the disk until new events are lost. The API server rotates its log with lumberjack
    (k8s.io/apiserver options/audit.go): maxage 0 (the default) never deletes old files by age and
    maxbackup 0 keeps every rotated file, so only the disk decides how much history survives.
    An unset maxsize rotates at lumberjack's built-in 100 MB: the catalog (and CIS 1.2.19) still asks
    for the flag, so that the retention is stated in the configuration rather than left to a library
    default; the message says what the default does.

    Reads: kube-apiserver --audit-log-path, --audit-log-maxage, --audit-log-maxbackup, --audit-log-maxsize.
    """
    yield from absent(context, APISERVER)
    for component in context.control_plane.of(APISERVER):
        path = component.setting("audit-log-path")
        if not path.value or path.value == "-" or path.source == "default":
            continue
        for name, minimum in _RETENTION.items():
            setting = component.setting(name)
            if setting.source == "default":
                if name in _UNBOUNDED:
                    why = f"{setting.describe()}: {_UNBOUNDED[name]}"
                    yield at(setting, f"kube-apiserver keeps no bounded audit history ({why})")
                else:
                    yield at(
                        setting,
                        f"kube-apiserver's audit log size is not stated ({setting.describe()}: "
                        "rotation rests on the log library's built-in 100 MB)",
                    )
                continue
            try:
                value = int(setting.value or "0")
            except ValueError:
                value = 0
            if value < minimum:
                yield at(
                    setting,
                    f"kube-apiserver keeps audit logs below the minimum of {minimum} ({setting.describe()})",
                )


_RETENTION = {"audit-log-maxage": 30, "audit-log-maxbackup": 10, "audit-log-maxsize": 100}
# What the API server does when the flag is not given (lumberjack's zero values).
_UNBOUNDED = {
    "audit-log-maxage": "old files are never deleted by age, so the disk decides how much history is left",
    "audit-log-maxbackup": "every rotated file is kept until the disk fills",
}


@rules.inventory(
    "logging.audit-not-shipped",
    Severity.MEDIUM,
    evidence="N, C",
    title="Audit log not shipped off the node",
    remediation=(
        "send audit events to a collector: --audit-webhook-config-file, or a log agent DaemonSet"
        " (fluent-bit, vector, promtail, ...) that reads the audit log file"
    ),
    references=(AUDIT_DOC + "#webhook-backend",),
)
def audit_not_shipped(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when kube-apiserver writes audit events only to a local file (--audit-log-path without
    --audit-webhook-config-file) and no log collector DaemonSet (fluent-bit, fluentd, vector,
    promtail, filebeat, ...) is in the scan.

    An attacker with root on the control-plane node deletes the local log along with the evidence;
    events already shipped elsewhere survive, and someone can be alerted on them.

    Reads: kube-apiserver --audit-log-path and --audit-webhook-config-file; DaemonSet names and
    container images.
    """
    yield from absent(context, APISERVER)
    apiservers = [
        c for c in context.control_plane.of(APISERVER)
        if c.setting("audit-log-path").value not in {None, "-"} and c.has("audit-log-path")
        and not c.has("audit-webhook-config-file")
    ]  # fmt: skip
    if not apiservers:
        return
    if not context.evidence & {"M", "C"}:
        yield Unevaluated("no manifests or cluster in this scan to find a log collector DaemonSet in")
        return
    for pod in context.pods:
        if pod.obj.ref.kind == "DaemonSet":
            text = " ".join([pod.obj.ref.name, *(c.image.value or "" for c in pod.containers)])
            if any(word in text for word in COLLECTORS):
                return
    for component in apiservers:
        setting = component.setting("audit-log-path")
        yield at(setting, f"audit events stay on the node ({setting.written}) and no log collector runs")
