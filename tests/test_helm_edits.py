"""The template (or values) line that writes a field of a rendered object, case by case.

Each case is a template, the chart's values, the object as Helm rendered it and a field: the
expected place is ``(file, line)``, or ``None`` when no line can be told with certainty.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kharden.sources.helm_edits import HelmTracing

CASES: list[tuple[str, str, str, str, str, tuple[str, int] | None]] = [
    (
        "list items at their parent key's column",
        "spec:\n  containers:\n  - name: app\n    securityContext:\n      privileged: true\n",
        "",
        "spec:\n  containers:\n  - name: app\n    securityContext:\n      privileged: true\n",
        "/spec/containers/0/securityContext/privileged",
        ("t", 5),
    ),
    (
        "quoted keys and comments",
        'spec:\n  "hostPID": true  # for the debugger\n',
        "",
        "spec:\n  hostPID: true\n",
        "/spec/hostPID",
        ("t", 2),
    ),
    (
        "the text of a block scalar holds no keys",
        "metadata:\n  annotations:\n    note: |\n      spec:\n        hostPID: true\nspec:\n  hostPID: true\n",
        "",
        "metadata:\n  annotations:\n    note: 'spec:\n\n  hostPID: true'\nspec:\n  hostPID: true\n",
        "/spec/hostPID",
        ("t", 7),
    ),
    (
        "if/else with literal values: the branch that wrote the rendered value",
        "spec:\n{{- if .Values.debug }}\n  hostPID: true\n{{- else }}\n  hostPID: false\n{{- end }}\n",
        "debug: true\n",
        "spec:\n  hostPID: true\n",
        "/spec/hostPID",
        ("t", 3),
    ),
    (
        "if/else, the other branch",
        "spec:\n{{- if .Values.debug }}\n  hostPID: true\n{{- else }}\n  hostPID: false\n{{- end }}\n",
        "debug: false\n",
        "spec:\n  hostPID: false\n",
        "/spec/hostPID",
        ("t", 5),
    ),
    (
        "containers told apart by their literal names",
        "spec:\n  containers:\n    - name: a\n      image: x:1\n    - name: b\n      image: y:latest\n",
        "",
        "spec:\n  containers:\n    - name: a\n      image: x:1\n    - name: b\n      image: y:latest\n",
        "/spec/containers/1/image",
        ("t", 6),
    ),
    (
        "a flow mapping holds its fields on its line",
        "spec:\n  securityContext: {privileged: true, runAsUser: 0}\n",
        "",
        "spec:\n  securityContext:\n    privileged: true\n    runAsUser: 0\n",
        "/spec/securityContext/runAsUser",
        ("t", 2),
    ),
    (
        "with sets the dot; $ reaches the root",
        "{{- with .Values.pod }}\nspec:\n  hostNetwork: {{ .hostNetwork }}\n  dnsPolicy: {{ $.Values.dns }}\n{{- end }}\n",
        "pod:\n  hostNetwork: true\ndns: ClusterFirst\n",
        "spec:\n  hostNetwork: true\n  dnsPolicy: ClusterFirst\n",
        "/spec/hostNetwork",
        ("v", 2),
    ),
    (
        "with: $.Values",
        "{{- with .Values.pod }}\nspec:\n  hostNetwork: {{ .hostNetwork }}\n  dnsPolicy: {{ $.Values.dns }}\n{{- end }}\n",
        "pod:\n  hostNetwork: true\ndns: ClusterFirst\n",
        "spec:\n  hostNetwork: true\n  dnsPolicy: ClusterFirst\n",
        "/spec/dnsPolicy",
        ("v", 3),
    ),
    (
        "toYaml with indent on a line of its own",
        "spec:\n  securityContext:\n{{ toYaml .Values.sc | indent 4 }}\n",
        "sc:\n  runAsUser: 0\n  privileged: true\n",
        "spec:\n  securityContext:\n    runAsUser: 0\n    privileged: true\n",
        "/spec/securityContext/privileged",
        ("v", 3),
    ),
    (
        "key: {{ toYaml ... | nindent }} on the key's line",
        "spec:\n  resources: {{- toYaml .Values.resources | nindent 4 }}\n",
        "resources:\n  limits:\n    memory: 1Gi\n",
        "spec:\n  resources:\n    limits:\n      memory: 1Gi\n",
        "/spec/resources/limits/memory",
        ("v", 3),
    ),
    (
        "a field toYaml did not write: where to add it in the values",
        "spec:\n  resources: {{- toYaml .Values.resources | nindent 4 }}\n",
        "resources:\n  limits:\n    memory: 1Gi\n",
        "spec:\n  resources:\n    limits:\n      memory: 1Gi\n",
        "/spec/resources/limits/cpu",
        ("v", 2),
    ),
    (
        "a helper's labels beside values' podLabels (helm create): the labels key, not the values",
        '{{- define "l" -}}\napp: web\n{{- end }}\nmetadata:\n  labels:\n    {{- include "l" . | nindent 4 }}\n'
        "    {{- with .Values.podLabels }}\n    {{- toYaml . | nindent 4 }}\n    {{- end }}\n",
        "podLabels: {}\n",
        "metadata:\n  labels:\n    app: web\n",
        "/metadata/labels",
        ("t", 5),
    ),
    (
        "a label from the helper: the helper's line",
        '{{- define "l" -}}\napp: web\n{{- end }}\nmetadata:\n  labels:\n    {{- include "l" . | nindent 4 }}\n'
        "    {{- with .Values.podLabels }}\n    {{- toYaml . | nindent 4 }}\n    {{- end }}\n",
        "podLabels: {}\n",
        "metadata:\n  labels:\n    app: web\n",
        "/metadata/labels/app",
        ("t", 2),
    ),
    (
        "a value the template computes: the template line",
        "spec:\n  replicas: {{ add .Values.replicas 1 }}\n",
        "replicas: 2\n",
        "spec:\n  replicas: 3\n",
        "/spec/replicas",
        ("t", 2),
    ),
    (
        "a key written by an action is no key",
        "spec:\n  {{ .Values.key }}: true\n",
        "key: hostPID\n",
        "spec:\n  hostPID: true\n",
        "/spec/hostPID",
        None,
    ),
    (
        "a literal that is not the rendered value: something else wrote it",
        "spec:\n  hostPID: false\n",
        "",
        "spec:\n  hostPID: true\n",
        "/spec/hostPID",
        None,
    ),
    (
        "two ranges of unnamed items: which one is not known",
        "spec:\n  containers:\n{{- range .Values.a }}\n    - image: {{ . }}\n{{- end }}\n"
        "{{- range .Values.b }}\n    - image: {{ . }}\n{{- end }}\n",
        "a: [x]\nb: [y]\n",
        "spec:\n  containers:\n    - image: x\n    - image: y\n",
        "/spec/containers/1/image",
        None,
    ),
    (
        "values that say otherwise than the rendered value: the template line still writes it",
        "spec:\n  hostNetwork: {{ .Values.net }}\n",
        "net: false\n",
        "spec:\n  hostNetwork: true\n",
        "/spec/hostNetwork",
        ("t", 2),
    ),
]


@pytest.mark.parametrize(
    ("template", "values", "rendered", "pointer", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_template_lines(
    tmp_path: Path, template: str, values: str, rendered: str, pointer: str, expected: tuple[str, int] | None
) -> None:
    (tmp_path / "templates").mkdir()
    path = tmp_path / "templates" / "x.yaml"
    path.write_text(template)
    (tmp_path / "values.yaml").write_text(values)
    tracing = HelmTracing(str(tmp_path), (), ())
    site = tracing.site(str(path), yaml.safe_load(rendered), pointer)
    if expected is None:
        assert site is None
        return
    assert site is not None
    file = str(path) if expected[0] == "t" else str(tmp_path / "values.yaml")
    assert (site.file, site.line) == (file, expected[1])


def test_helpers_include_helpers(tmp_path: Path) -> None:
    """An include inside a helper: the innermost helper's line, at the nesting of both nindents."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "_helpers.tpl").write_text(
        '{{- define "outer" -}}\n'
        "securityContext:\n"
        '  {{- include "inner" . | nindent 2 }}\n'
        "{{- end -}}\n"
        '{{- define "inner" -}}\n'
        "runAsUser: 0\n"
        "privileged: {{ .Values.privileged }}\n"
        "{{- end -}}\n"
    )
    template = tmp_path / "templates" / "pod.yaml"
    template.write_text('spec:\n  containers:\n    - name: app\n      {{- include "outer" . | nindent 6 }}\n')
    (tmp_path / "values.yaml").write_text("privileged: true\n")
    tracing = HelmTracing(str(tmp_path), (), ())
    raw = {"spec": {"containers": [{"name": "app", "securityContext": {"runAsUser": 0, "privileged": True}}]}}
    user = tracing.site(str(template), raw, "/spec/containers/0/securityContext/runAsUser")
    assert user is not None
    assert (user.file, user.line) == (str(tmp_path / "templates" / "_helpers.tpl"), 6)
    privileged = tracing.site(str(template), raw, "/spec/containers/0/securityContext/privileged")
    assert privileged is not None
    assert (privileged.file, privileged.line) == (str(tmp_path / "values.yaml"), 1)


def test_values_files_and_set(tmp_path: Path) -> None:
    """The last values file that sets the field wins, as Helm merges them; --set leaves the template."""
    (tmp_path / "templates").mkdir()
    template = tmp_path / "templates" / "x.yaml"
    template.write_text("spec:\n  hostNetwork: {{ .Values.net }}\n  hostPID: {{ .Values.pid }}\n")
    (tmp_path / "values.yaml").write_text("net: false\npid: false\n")
    override = tmp_path / "override.yaml"
    override.write_text("# turned on for the debug build\nnet: true\n")
    raw = {"spec": {"hostNetwork": True, "hostPID": True}}
    tracing = HelmTracing(str(tmp_path), (str(override),), ("pid=true",))
    net = tracing.site(str(template), raw, "/spec/hostNetwork")
    assert net is not None
    assert (net.file, net.line, net.pointer) == (str(override), 2, "/net")
    pid = tracing.site(str(template), raw, "/spec/hostPID")
    assert pid is not None
    assert (pid.file, pid.line, pid.kind) == (str(template), 3, "template")


def test_templates_kharden_cannot_read_are_not_traced(tmp_path: Path) -> None:
    tracing = HelmTracing(str(tmp_path), (), ())
    assert tracing.site(str(tmp_path / "templates" / "gone.yaml"), {"spec": {}}, "/spec") is None


def test_a_helper_defined_twice_is_not_followed(tmp_path: Path) -> None:
    """Helm keeps one of two same-named templates by the order it loads them: which one wrote
    the field is not certain."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "_a.tpl").write_text('{{- define "host" -}}\nhostIPC: true\n{{- end -}}\n')
    (tmp_path / "templates" / "_b.tpl").write_text('{{- define "host" -}}\nhostIPC: false\n{{- end -}}\n')
    template = tmp_path / "templates" / "pod.yaml"
    template.write_text('spec:\n  {{- include "host" . | nindent 2 }}\n')
    tracing = HelmTracing(str(tmp_path), (), ())
    assert tracing.site(str(template), {"spec": {"hostIPC": True}}, "/spec/hostIPC") is None


def test_variables_and_printed_values_leave_the_nesting_alone(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    template = tmp_path / "templates" / "x.yaml"
    template.write_text(
        "spec:\n"
        "  template:\n"
        "    spec:\n"
        "{{- $root := . }}\n"
        "{{ .Values.comment }}\n"
        "      hostPID: true\n"
        "      securityContext:\n"
        "        {{- .Values.sc | toYaml | nindent 8 }}\n"
    )
    (tmp_path / "values.yaml").write_text("comment: '# hello'\nsc:\n  runAsUser: 0\n")
    tracing = HelmTracing(str(tmp_path), (), ())
    raw = {"spec": {"template": {"spec": {"hostPID": True, "securityContext": {"runAsUser": 0}}}}}
    pid = tracing.site(str(template), raw, "/spec/template/spec/hostPID")
    assert pid is not None
    assert (pid.file, pid.line) == (str(template), 6)
    user = tracing.site(str(template), raw, "/spec/template/spec/securityContext/runAsUser")
    assert user is not None
    assert (user.file, user.line) == (str(tmp_path / "values.yaml"), 3)
