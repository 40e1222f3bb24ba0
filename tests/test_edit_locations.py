"""Findings in rendered input point at the line a person edits (issue 20).

Kustomize: the patch that set the field (strategic merge, JSON 6902, from a file or inline
with a target selector, from a component), the base for fields from the base, the
kustomization line of the transformer that wrote it (images, namePrefix, namespace,
commonLabels), through nested overlays. Helm: the template line that writes the field
(literal keys, helpers, range blocks), or the values line (toYaml of values, with blocks,
simple references), else the template without a line. Every finding also carries where the
field is in the rendered output, the lines of a plain ``kubectl kustomize`` build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kharden import ScanOptions, scan
from kharden.model import EditSite, Obj, Report
from kharden.report import html, markdown, text
from kharden.report import json as json_report
from kharden.scan import collect
from test_sources import needs_helm, needs_kustomize

REPO = Path(__file__).parent.parent
KUSTOMIZE = "tests/data/edits/kustomize"
CHART = "tests/data/edits/chart"


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


Where = tuple[str, str, int | None, int | None, int | None]
"""(rule, file, line, column, rendered line)"""


def where(report: Report) -> list[Where]:
    assert report.errors == []
    return sorted(
        (
            f.rule,
            f.location.file or "",
            f.location.line,
            f.location.column,
            f.location.rendered.line if f.location.rendered else None,
        )
        for f in report.findings
    )


def plain_build(overlay: str) -> list[str]:
    command = ["kubectl", "kustomize"] if shutil.which("kubectl") else ["kustomize", "build"]
    result = subprocess.run([*command, overlay], capture_output=True, check=True, text=True)
    return result.stdout.split("\n")


def objects(path: str, **options: object) -> dict[str, Obj]:
    collected = collect([path], ScanOptions(**options))  # type: ignore[arg-type]
    assert collected.errors == []
    return {f"{o.ref.kind}/{o.ref.name}": o for o in collected.objects}


# ---- kustomize ----

PROD = f"{KUSTOMIZE}/overlays/prod"
BASE_DEPLOYMENT = f"{KUSTOMIZE}/base/deployment.yaml"
PROD_KUSTOMIZATION = f"{PROD}/kustomization.yaml"


@needs_kustomize
def test_each_patch_kind_names_the_patch_and_the_line_of_the_field() -> None:
    assert where(scan([PROD])) == sorted(
        [
            # The pod labels (no NetworkPolicy selects the pods): the base writes them.
            ("exposure.metadata-api", BASE_DEPLOYMENT, 18, 7, 51),
            # inline JSON 6902 patch with a target selector (kind Service, name web): its `value:` line
            ("exposure.loadbalancer-open", PROD_KUSTOMIZATION, 24, 9, 34),
            # images: newTag (and digest: "") took the digest off: the kustomization's images entry
            ("image.not-pinned", PROD_KUSTOMIZATION, 44, 5, 60),
            ("netpol.egress-open", BASE_DEPLOYMENT, 18, 7, 51),
            ("netpol.ingress-open", BASE_DEPLOYMENT, 18, 7, 51),
            ("netpol.internet-egress", BASE_DEPLOYMENT, 18, 7, 51),
            # inline strategic merge patch selected by labelSelector: the NET_ADMIN item of its add list
            ("pod.dangerous-capabilities", PROD_KUSTOMIZATION, 41, 27, 66),
            # hostIPC from the component's patch
            ("pod.host-namespaces", f"{KUSTOMIZE}/components/debug-tools/host-ipc.yaml", 8, 7, 71),
            # hostPID from a JSON 6902 patch file with a target
            ("pod.host-namespaces", f"{PROD}/host-pid.yaml", 3, 3, 72),
            # privileged (from the patch) allows escalation, set to false in the base: the base's line
            ("pod.privilege-escalation", BASE_DEPLOYMENT, 33, 13, 63),
            # strategic merge patch file, selected by its own kind and name
            ("pod.privileged", f"{PROD}/privileged.yaml", 11, 13, 69),
        ]
    )


@needs_kustomize
def test_rendered_lines_are_those_of_a_plain_build() -> None:
    """The annotations kharden asks kustomize for are not in the lines a reader of the build sees."""
    lines = plain_build(PROD)
    found = {f.rule + f.location.path: f.location.rendered for f in scan([PROD]).findings}
    assert found["pod.privileged/spec/template/spec/containers/0/securityContext/privileged"] is not None
    for key, text_of_line in [
        ("pod.privileged/spec/template/spec/containers/0/securityContext/privileged", "privileged: true"),
        ("pod.host-namespaces/spec/template/spec/hostPID", "hostPID: true"),
        ("exposure.loadbalancer-open/spec/type", "type: LoadBalancer"),
        (
            "image.not-pinned/spec/template/spec/containers/0/image",
            "image: registry.example.com/shop/web:1.5.0",
        ),
    ]:
        rendered = found[key]
        assert rendered is not None
        assert rendered.line is not None
        assert rendered.file == PROD
        assert lines[rendered.line - 1].strip() == text_of_line


@needs_kustomize
def test_nested_overlays_two_levels_deep() -> None:
    debug = f"{KUSTOMIZE}/overlays/debug"
    assert where(scan([debug])) == sorted(
        [
            ("exposure.loadbalancer-open", PROD_KUSTOMIZATION, 24, 9, 34),
            # the network findings of a hostNetwork workload point at its hostNetwork field: the JSON patch
            ("exposure.metadata-api", f"{debug}/host-network.json", 2, 60, 72),
            # the outer overlay's images entry wins over the inner one's
            ("image.mutable-tag", f"{debug}/kustomization.yaml", 14, 5, 60),
            ("image.not-pinned", f"{debug}/kustomization.yaml", 14, 5, 60),
            ("netpol.egress-open", f"{debug}/host-network.json", 2, 60, 72),
            # patchesJson6902 (JSON) targeting the base's original name
            ("netpol.host-network", f"{debug}/host-network.json", 2, 60, 72),
            ("netpol.ingress-open", f"{debug}/host-network.json", 2, 60, 72),
            ("netpol.internet-egress", f"{debug}/host-network.json", 2, 60, 72),
            ("pod.dangerous-capabilities", PROD_KUSTOMIZATION, 41, 27, 66),
            ("pod.host-namespaces", f"{KUSTOMIZE}/components/debug-tools/host-ipc.yaml", 8, 7, 71),
            ("pod.host-namespaces", f"{PROD}/host-pid.yaml", 3, 3, 73),
            # the outer overlay's patch (naming the object by its inner name, prod-web in shop) set it again
            ("pod.privilege-escalation", f"{debug}/escalation.yaml", 12, 13, 63),
            ("pod.privileged", f"{PROD}/privileged.yaml", 11, 13, 69),
        ]
    )


@needs_kustomize
def test_transformers_point_at_their_kustomization_line() -> None:
    web = objects(f"{KUSTOMIZE}/overlays/debug")["Deployment/debug-prod-web"]

    def at(pointer: str) -> tuple[str, int | None, str | None] | None:
        site = web.edit_site(pointer)
        return None if site is None else (site.file, site.line, site.pointer)

    debug = f"{KUSTOMIZE}/overlays/debug/kustomization.yaml"
    # namePrefix: the outer overlay's (the name is debug-prod-web)
    assert at("/metadata/name") == (debug, 2, "/namePrefix")
    assert at("/metadata/namespace") == (PROD_KUSTOMIZATION, 2, "/namespace")
    assert at("/metadata/labels/tier") == (PROD_KUSTOMIZATION, 4, "/commonLabels/tier")
    assert at("/spec/selector/matchLabels/tier") == (PROD_KUSTOMIZATION, 4, "/commonLabels/tier")
    assert at("/metadata/labels/app") == (BASE_DEPLOYMENT, 12, "/metadata/labels/app")
    assert at("/spec/template/spec/containers/0/image") == (debug, 14, "/images/0/newTag")
    # A reference renamed with the prefix of the object it names: the base's reference.
    assert at("/spec/template/spec/serviceAccountName") == (
        BASE_DEPLOYMENT,
        20,
        "/spec/template/spec/serviceAccountName",
    )
    assert at("/spec/template/spec/containers/0/envFrom/0/configMapRef/name") == (
        BASE_DEPLOYMENT,
        31,
        "/spec/template/spec/containers/0/envFrom/0/configMapRef/name",
    )
    # A field that is not set: the nearest one that is, where it is written.
    assert at("/spec/template/spec/containers/0/securityContext/seccompProfile") == (
        BASE_DEPLOYMENT,
        32,
        "/spec/template/spec/containers/0/securityContext",
    )
    # The whole object: its document in the base file (the second one of the file).
    root = web.edit_site("")
    assert root == EditSite(BASE_DEPLOYMENT, 8, 1, "resource", 1, "")


@needs_kustomize
def test_generated_objects_point_at_their_generator_entry() -> None:
    settings = next(o for key, o in objects(PROD).items() if key.startswith("ConfigMap/prod-web-settings-"))
    base = f"{KUSTOMIZE}/base/kustomization.yaml"
    assert settings.origin.template == base
    assert settings.edit_site("/data/LOG_LEVEL") == EditSite(
        base, 7, 9, "kustomization", 0, "/configMapGenerator/0/literals/0"
    )
    assert settings.edit_site("/metadata/name") == EditSite(
        base, 5, 5, "kustomization", 0, "/configMapGenerator/0/name"
    )


@needs_kustomize
def test_the_edit_site_tells_fix_what_to_change() -> None:
    """`kharden fix` edits the place computed here: the file, its document and the field's pointer."""
    deployment = objects(PROD)["Deployment/prod-web"]
    service = objects(PROD)["Service/prod-web"]
    assert deployment.edit_site("/spec/template/spec/containers/0/securityContext/privileged") == EditSite(
        f"{PROD}/privileged.yaml",
        11,
        13,
        "patch",
        0,
        "/spec/template/spec/containers/0/securityContext/privileged",
    )
    assert deployment.edit_site("/spec/template/spec/hostPID") == EditSite(
        f"{PROD}/host-pid.yaml", 3, 3, "json-patch", 0, "/0/value"
    )
    # An inline patch: the string in the kustomization that holds it, and the pointer in that text.
    assert service.edit_site("/spec/type") == EditSite(
        PROD_KUSTOMIZATION, 24, 9, "json-patch", 0, "/0/value", "/patches/2/patch"
    )
    assert deployment.edit_site(
        "/spec/template/spec/containers/0/securityContext/capabilities/add/0"
    ) == EditSite(
        PROD_KUSTOMIZATION,
        41,
        27,
        "patch",
        0,
        "/spec/template/spec/containers/0/securityContext/capabilities/add/0",
        "/patches/3/patch",
    )


@needs_kustomize
def test_the_users_files_are_untouched_and_the_annotations_gone(tmp_path: Path) -> None:
    copy = tmp_path / "kustomize"
    shutil.copytree(REPO / KUSTOMIZE, copy)
    before = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    for obj in objects(str(copy / "overlays" / "prod")).values():
        assert not any(key.startswith(("config.kubernetes.io/", "alpha.config")) for key in obj.annotations)
    assert {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()} == before


@needs_kustomize
def test_fingerprints_do_not_depend_on_lines(tmp_path: Path) -> None:
    copy = tmp_path / "kustomize"
    shutil.copytree(REPO / KUSTOMIZE, copy)
    first = {
        (f.rule, f.location.path): (f.fingerprint, f.location.line)
        for f in scan([str(copy / "overlays/prod")]).findings
    }
    patch = copy / "overlays" / "prod" / "privileged.yaml"
    patch.write_text("# moved down by two lines\n\n" + patch.read_text())
    second = {
        (f.rule, f.location.path): (f.fingerprint, f.location.line)
        for f in scan([str(copy / "overlays/prod")]).findings
    }
    key = ("pod.privileged", "/spec/template/spec/containers/0/securityContext/privileged")
    assert (first[key][1], second[key][1]) == (11, 13)
    assert {k: v[0] for k, v in first.items()} == {k: v[0] for k, v in second.items()}


@needs_kustomize
def test_a_field_no_file_explains_keeps_the_rendered_line(tmp_path: Path) -> None:
    """`replacements` copy a value from another object: no line holds what was rendered, so the
    finding names the resource file without a line, and the rendered line."""
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "kustomization.yaml").write_text("resources: [pod.yaml]\n")
    (tmp_path / "base" / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\nspec:\n  containers:\n"
        "    - name: app\n      image: registry.example.com/app:1.0@sha256:" + "a" * 64 + "\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: versions\ndata:\n  app: busybox:latest\n"
    )
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [base]\n"
        "replacements:\n"
        "  - source: {kind: ConfigMap, name: versions, fieldPath: data.app}\n"
        "    targets:\n"
        "      - select: {kind: Pod, name: app}\n"
        "        fieldPaths:\n"
        "          - spec.containers.[name=app].image\n"
    )
    report = scan([str(tmp_path)], ScanOptions(rules=("image.mutable-tag",)))
    [finding] = report.findings
    assert finding.location.edit is None
    assert (finding.location.file, finding.location.line) == (str(tmp_path / "base" / "pod.yaml"), None)
    assert finding.location.rendered is not None
    assert finding.location.rendered.line is not None
    assert "no line of" in text.render(report)


# ---- Helm ----

TEMPLATE = f"{CHART}/templates/deployment.yaml"
HELPERS = f"{CHART}/templates/_helpers.tpl"
VALUES = f"{CHART}/values.yaml"
INSECURE = f"{CHART}/values-insecure.yaml"


@needs_helm
def test_chart_findings_name_the_template_or_values_line() -> None:
    report = scan([CHART], ScanOptions(helm_values=(INSECURE,)))
    assert where(report) == sorted(
        [
            # literal key in the template
            ("exposure.host-port", TEMPLATE, 35, 15, 40),
            # type: {{ .Values.service.type }}: the --values file sets it
            ("exposure.loadbalancer-open", INSECURE, 8, 3, 6),
            # the network findings of a hostNetwork workload point at its hostNetwork field (not known here)
            ("exposure.metadata-api", TEMPLATE, None, None, 22),
            # image: {{ .image }} inside range .Values.sidecars: the item named 'shell' in the values
            ("image.mutable-tag", INSECURE, 6, 5, 42),
            ("image.not-pinned", INSECURE, 6, 5, 42),
            # image: "{{ repository }}:{{ tag }}": two values make it, the template line writes it
            ("image.not-pinned", TEMPLATE, 30, 11, 30),
            ("netpol.egress-open", TEMPLATE, None, None, 22),
            # hostNetwork: two lines in if/else, both computed: not known, the rendered line instead
            ("netpol.host-network", TEMPLATE, None, None, 22),
            ("netpol.ingress-open", TEMPLATE, None, None, 22),
            ("netpol.internet-egress", TEMPLATE, None, None, 22),
            # the range item (container 'shell') has no securityContext: its `- name:` line
            ("pod.capabilities", TEMPLATE, 37, 11, 41),
            # hostIPC: true, written by an included helper
            ("pod.host-namespaces", HELPERS, 7, 1, 21),
            ("pod.privilege-escalation", TEMPLATE, 37, 11, 41),
            # toYaml .Values.securityContext: allowPrivilegeEscalation from values.yaml ...
            ("pod.privilege-escalation", VALUES, 10, 3, 32),
            # ... and privileged, merged in from the --values file
            ("pod.privileged", INSECURE, 3, 3, 36),
            # with .Values.podSecurityContext + toYaml .: the values line
            ("pod.seccomp", VALUES, 8, 5, 27),
            ("pod.writable-root-fs", TEMPLATE, 37, 11, 41),
        ]
    )


@needs_helm
def test_chart_edit_sites_for_fix() -> None:
    web = objects(CHART, helm_values=(INSECURE,))["Deployment/release-name-web"]
    assert web.edit_site("/spec/template/spec/containers/0/securityContext/privileged") == EditSite(
        INSECURE, 3, 3, "values", 0, "/securityContext/privileged"
    )
    assert web.edit_site("/spec/template/spec/containers/1/image") == EditSite(
        INSECURE, 6, 5, "values", 0, "/sidecars/0/image"
    )
    assert web.edit_site("/spec/template/spec/containers/0/ports/0/hostPort") == EditSite(
        TEMPLATE, 35, 15, "template"
    )
    # A field that is not set, under a toYaml of values: where to add it in the values.
    assert web.edit_site("/spec/template/spec/securityContext/fsGroup") == EditSite(
        VALUES, 4, 1, "values", 0, "/podSecurityContext"
    )
    assert web.edit_site("/spec/template/spec/hostNetwork") is None


@needs_helm
def test_set_values_leave_the_template_line() -> None:
    report = scan(
        [CHART], ScanOptions(helm_set=("securityContext.privileged=true",), rules=("pod.privileged",))
    )
    assert where(report) == [("pod.privileged", TEMPLATE, 32, 13, 36)]


# ---- reports ----


def test_reports_carry_both_locations() -> None:
    from samples import edge_report, untraced_report  # noqa: PLC0415

    [traced] = [f for f in edge_report().findings if f.rule == "pod.host-namespaces"]
    data = json_report.finding_dict(traced)
    assert data["location"] == {
        "file": "overlays/prod/hostpid.yaml",
        "line": 3,
        "column": 3,
        "path": "/spec/template/spec/hostPID",
        "template": "base/deployment.yaml",
        "renderer": "kustomize",
        "rendered": {"file": "overlays/prod", "line": 36, "column": 11},
        "edit": {"kind": "json-patch", "document": 0, "pointer": "/0/value"},
    }
    lines = text.render(edge_report()).splitlines()
    [head] = [line for line in lines if "pod.host-namespaces" in line and "fix:" not in line]
    assert head.split()[0] == "3:3"
    assert head.endswith("(rendered 36:11)")
    assert "  Deployment prod/prod-web  (rendered by kustomize from overlays/prod)" in lines
    untraced = text.render(untraced_report())
    assert (
        "no line of chart/templates/deployment.yaml is known to write this field; rendered output line 22:7"
        in untraced
    )
    assert "| `overlays/prod/hostpid.yaml:3` (rendered: `overlays/prod:36`) |" in markdown.render(
        edge_report()
    )
    assert "| `chart/templates/deployment.yaml` (rendered: `chart:22`) |" in markdown.render(
        untraced_report()
    )
    assert "<dt>Rendered</dt><dd>overlays/prod:36 (kustomize output)</dd>" in html.render(edge_report())


@pytest.mark.skipif(os.name != "posix", reason="a shell script stands in for the helm binary")
def test_helm_binary_output_is_traced_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With `helm template` (here a script printing what it prints), the `# Source:` comments
    name the templates, the lines to edit are the same, the rendered lines those of its output."""
    service = (REPO / CHART / "templates" / "service.yaml").read_text()
    output = "---\n# Source: shop/templates/service.yaml\n" + service.replace(
        "{{ .Release.Name }}", "release-name"
    ).replace("{{ .Values.service.type }}", "LoadBalancer").replace(
        '{{- include "shop.labels" . | nindent 4 }}', "app.kubernetes.io/name: shop"
    )
    helm = tmp_path / "helm"
    helm.write_text(f"#!/bin/sh\ncat <<'OUTPUT'\n{output}OUTPUT\n")
    helm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    report = scan([CHART], ScanOptions(helm_values=(INSECURE,), rules=("exposure.loadbalancer-open",)))
    assert where(report) == [("exposure.loadbalancer-open", INSECURE, 8, 3, 8)]
    [finding] = report.findings
    assert finding.location.template == f"{CHART}/templates/service.yaml"


@needs_kustomize
def test_components_are_built_through_their_overlays_only() -> None:
    """A walk passes over a `kind: Component` (it cannot be built alone, and its patches are not
    manifests); named on the command line, it is a clear error."""
    walked = scan([KUSTOMIZE])
    assert walked.errors == []
    assert walked.stats.files == 3  # base, overlays/debug, overlays/prod
    component = f"{KUSTOMIZE}/components/debug-tools"
    [error] = scan([component]).errors
    assert (error.file, error.message) == (
        component,
        "a kustomize Component is rendered through the kustomizations that use it: scan those",
    )


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.25
"""


@needs_kustomize
def test_a_container_a_patch_adds_is_the_patchs(tmp_path: Path) -> None:
    """A patch names the base's container to change it (the name stays the base's), or adds one
    (then every field of it is the patch's, its name too)."""
    (tmp_path / "deployment.yaml").write_text(DEPLOYMENT)
    (tmp_path / "sidecar.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n"
        "      containers:\n        - name: web\n          securityContext: {privileged: true}\n"
        "        - name: shell\n          image: busybox:latest\n"
    )
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [deployment.yaml]\npatches:\n  - path: sidecar.yaml\n"
    )
    web = objects(str(tmp_path))["Deployment/web"]
    patch, base = str(tmp_path / "sidecar.yaml"), str(tmp_path / "deployment.yaml")

    def line(pointer: str) -> tuple[str, int | None] | None:
        site = web.edit_site(pointer)
        return None if site is None else (site.file, site.line)

    assert line("/spec/template/spec/containers/0/name") == (base, 14)
    assert line("/spec/template/spec/containers/0/securityContext/privileged") == (patch, 10)
    assert line("/spec/template/spec/containers/1") == (patch, 11)
    assert line("/spec/template/spec/containers/1/name") == (patch, 11)
    assert line("/spec/template/spec/containers/1/image") == (patch, 12)


@needs_kustomize
def test_more_transformers_and_a_secret_generator(tmp_path: Path) -> None:
    (tmp_path / "deployment.yaml").write_text(DEPLOYMENT)
    (tmp_path / "token.txt").write_text("not-a-real-token\n")
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [deployment.yaml]\n"
        "nameSuffix: -v2\n"
        "commonAnnotations:\n"
        "  team: shop\n"
        "labels:\n"
        "  - pairs: {owner: payments}\n"
        "    includeTemplates: true\n"
        "replicas:\n"
        "  - name: web\n"
        "    count: 3\n"
        "secretGenerator:\n"
        "  - name: api\n"
        "    files:\n"
        "      - token.txt\n"
        "    literals:\n"
        "      - USER=shop\n"
    )
    found = objects(str(tmp_path))
    web = found["Deployment/web-v2"]
    kustomization = str(tmp_path / "kustomization.yaml")

    def at(obj: Obj, pointer: str) -> tuple[int | None, str | None] | None:
        site = obj.edit_site(pointer)
        assert site is None or site.file == kustomization
        return None if site is None else (site.line, site.pointer)

    assert at(web, "/metadata/name") == (2, "/nameSuffix")
    assert at(web, "/metadata/annotations/team") == (4, "/commonAnnotations/team")
    assert at(web, "/spec/template/metadata/labels/owner") == (6, "/labels/0/pairs/owner")
    assert at(web, "/spec/replicas") == (10, "/replicas/0/count")
    secret = next(o for key, o in found.items() if key.startswith("Secret/api-v2-"))
    assert at(secret, "/data/token.txt") == (14, "/secretGenerator/0/files/0")
    assert at(secret, "/data/USER") == (16, "/secretGenerator/0/literals/0")
