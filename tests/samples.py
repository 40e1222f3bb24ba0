"""A report with every case a renderer must handle, built by hand.

Findings in files and without one (a live cluster), in rendered output (kustomize, traced to
the patch that set the field), outside
the SARIF root and in a path with a space; every kind of suppression; a cluster-scoped
object; a message with markup, a pipe and a control character; an input error and a rule
that was not evaluated.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from kharden.model import (
    EditSite,
    ErrorRecord,
    Finding,
    Location,
    NotEvaluated,
    ObjRef,
    Rendered,
    Report,
    RuleRun,
    ScanStats,
    Severity,
    Suppression,
)
from kharden.rules import get
from kharden.score import scorecard

WEB = ObjRef("Deployment", "shop", "web", "apps/v1")
HOSTILE = "container 'x' uses image '<img src=x onerror=alert(1)>|`rm -rf`' *bold* \x07 [link](javascript:x)"


def finding(
    rule: str,
    location: Location,
    *,
    ref: ObjRef = WEB,
    container: str | None = "app",
    suppressed: Suppression | None = None,
    severity: Severity | None = None,
    message: str | None = None,
) -> Finding:
    entry = get(rule)
    return Finding(
        rule=rule,
        severity=severity or entry.severity,
        section=entry.section,
        title=entry.title,
        object=ref,
        container=container,
        location=location,
        message=message or f"{rule} fired on {ref}",
        remediation=entry.remediation,
        fingerprint=hashlib.sha256(f"{rule} {ref} {location.path}".encode()).hexdigest()[:32],
        suppressed=suppressed,
    )


def edge_report() -> Report:
    findings = [
        finding(
            "pod.privileged",
            Location("k8s/web.yaml", 12, 9, "/spec/template/spec/containers/0/securityContext"),
        ),
        finding(
            "pod.run-as-root",
            Location("k8s/web.yaml", 10, 7, "/spec/template/spec/containers/0"),
            suppressed=Suppression("annotation", "runs as root by design"),
        ),
        finding(
            "pod.seccomp",
            Location("k8s/web.yaml", 10, 7, "/spec/template/spec/containers/0"),
            suppressed=Suppression("config", "the node's default profile applies"),
        ),
        finding(
            "image.not-pinned",
            Location("k8s/web.yaml", 11, 16, "/spec/template/spec/containers/0/image"),
            suppressed=Suppression("baseline", "in the baseline .kharden-baseline.json"),
        ),
        finding(
            "pod.privileged",
            Location(None, None, None, "/spec/containers/0/securityContext/privileged"),
            ref=ObjRef("Pod", "kube-system", "kube-proxy-x7k2p", "v1"),
            container="kube-proxy",
        ),
        finding(
            "pod.host-namespaces",
            Location(
                "overlays/prod/hostpid.yaml",
                3,
                3,
                "/spec/template/spec/hostPID",
                "base/deployment.yaml",
                "kustomize",
                Rendered("overlays/prod", 36, 11),
                EditSite("overlays/prod/hostpid.yaml", 3, 3, "json-patch", 0, "/0/value"),
            ),
            ref=ObjRef("Deployment", "prod", "prod-web", "apps/v1"),
            container=None,
        ),
        finding(
            "image.mutable-tag",
            Location("/outside/root/app.yaml", 3, 5, "/spec/containers/0/image"),
            ref=ObjRef("Pod", "default", "outside", "v1"),
            message=HOSTILE,
        ),
        finding(
            "pod.volume-types",
            Location("my manifests/app.yaml", 20, 9, "/spec/volumes/0/hostPath"),
            ref=ObjRef("ClusterWorkload", None, "node-agent", "example.com/v1"),
            container=None,
        ),
        finding(
            "pod.dangerous-capabilities",
            Location(
                "k8s/web.yaml", 14, 17, "/spec/template/spec/containers/0/securityContext/capabilities/add/0"
            ),
            severity=Severity.CRITICAL,
        ),
    ]
    rules = [
        RuleRun(rule, get(rule).section, get(rule).severity, 3, get(rule).fix_support)
        for rule in dict.fromkeys(f.rule for f in findings)
    ]
    stats = ScanStats(files=4, objects=6)
    return Report(
        findings=findings,
        errors=[
            ErrorRecord("k8s/broken.yaml", 7, "invalid YAML: mapping values are not allowed here (column 9)")
        ],
        not_evaluated=[NotEvaluated("image.vulnerable", "needs an image scan report (--image-report FILE)")],
        stats=stats,
        rules_run=len(rules),
        rules=rules,
        scores=scorecard(rules, findings),
        generated_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


def untraced_report() -> Report:
    """One finding in a chart whose template line could not be told: the template without a
    line, and the line of the rendered output."""
    findings = [
        finding(
            "netpol.host-network",
            Location(
                "chart/templates/deployment.yaml",
                None,
                None,
                "/spec/template/spec/hostNetwork",
                "chart/templates/deployment.yaml",
                "helm",
                Rendered("chart", 22, 7),
            ),
            ref=ObjRef("Deployment", "default", "release-name-web", "apps/v1"),
            container=None,
        )
    ]
    rules = [RuleRun("netpol.host-network", "isolation", get("netpol.host-network").severity, 1)]
    return Report(
        findings=findings,
        errors=[],
        not_evaluated=[],
        stats=ScanStats(files=1, objects=1),
        rules_run=1,
        rules=rules,
        scores=scorecard(rules, findings),
        generated_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
