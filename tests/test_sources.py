"""Sources: every input shape `kharden scan` reads, and every way input can be bad."""

from __future__ import annotations

import io
import os
import shutil
import sys
from pathlib import Path

import pytest

from kharden import ScanOptions, scan
from kharden.model import Report

DATA = Path(__file__).parent / "data"

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
    - name: app
      image: nginx:1.25
      securityContext:
        privileged: true
"""


def privileged(report: Report) -> list[tuple[str, str | None, str, int | None]]:
    return [
        (f.object.name, f.object.namespace, f.location.file or "", f.location.line)
        for f in report.findings
        if f.rule == "pod.privileged"
    ]


def run(paths: list[str], **options: object) -> Report:
    return scan(paths, ScanOptions(rules=("pod.privileged",), **options))  # type: ignore[arg-type]


def test_file_with_several_documents(tmp_path: Path) -> None:
    path = tmp_path / "pods.yaml"
    path.write_text(POD.format(name="a") + "---\n" + POD.format(name="b"))
    report = run([str(path)])
    assert privileged(report) == [("a", "default", str(path), 10), ("b", "default", str(path), 21)]
    assert (report.stats.files, report.stats.objects) == (1, 2)


def test_directory_is_walked_recursively_for_manifest_suffixes(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one.yaml").write_text(POD.format(name="one"))
    (tmp_path / "a" / "b" / "two.yml").write_text(POD.format(name="two"))
    (tmp_path / "three.json").write_text(
        '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "three"},'
        ' "spec": {"containers": [{"name": "app", "securityContext": {"privileged": true}}]}}'
    )
    (tmp_path / "notes.txt").write_text("not a manifest")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "hidden.yaml").write_text(POD.format(name="hidden"))
    report = run([str(tmp_path)])
    assert sorted(name for name, *_ in privileged(report)) == ["one", "three", "two"]
    assert report.stats.files == 3


def test_a_named_file_is_read_whatever_its_suffix(tmp_path: Path) -> None:
    path = tmp_path / "pod.txt"
    path.write_text(POD.format(name="named"))
    assert [name for name, *_ in privileged(run([str(path)]))] == ["named"]


def test_stdin() -> None:
    report = run(["-"], stdin=io.BytesIO(POD.format(name="piped").encode()))
    assert privileged(report) == [("piped", "default", "<stdin>", 10)]


def test_lists_and_list_kinds(tmp_path: Path) -> None:
    pod = POD.format(name="x").replace("\n", "\n    ")
    text = f"apiVersion: v1\nkind: List\nitems:\n  - {pod}\n---\napiVersion: v1\nkind: PodList\nitems: []\n"
    path = tmp_path / "list.yaml"
    path.write_text(text)
    report = run([str(path)])
    assert privileged(report) == [("x", "default", str(path), 13)]
    assert report.stats.objects == 1


def test_typed_list_items_take_their_kind_from_the_list(tmp_path: Path) -> None:
    """The API server returns a DeploymentList whose items carry no apiVersion or kind."""
    path = tmp_path / "deployments.json"
    path.write_text(
        '{"apiVersion": "apps/v1", "kind": "DeploymentList", "items": [{"metadata": {"name": "web",'
        ' "namespace": "shop"}, "spec": {"template": {"spec": {"containers": [{"name": "app",'
        ' "securityContext": {"privileged": true}}]}}}}]}'
    )
    report = run([str(path)])
    assert [(f.object.kind, f.object.api_version, f.object.name) for f in report.findings] == [
        ("Deployment", "apps/v1", "web")
    ]


def test_documents_that_are_not_objects_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_text("name: not an object\n---\n- a list\n---\njust text\n---\n" + POD.format(name="real"))
    report = run([str(path)])
    assert report.errors == []
    assert (report.stats.objects, report.stats.skipped_documents) == (1, 3)


def test_template_expressions_inside_strings_do_not_skip_a_file(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(
        POD.format(name="templated")
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
        + 'data:\n  msg: "{{ .Values.x }} and {{ $labels.instance }}"\n'
    )
    report = run([str(path)])
    assert [name for name, *_ in privileged(report)] == ["templated"]
    assert report.stats.kinds == {"Pod": 1, "ConfigMap": 1}


def test_custom_resources_are_counted_not_errors(tmp_path: Path) -> None:
    path = tmp_path / "cr.yaml"
    path.write_text(
        "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: le}\n---\n"
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n"
    )
    report = run([str(path)])
    assert report.errors == []
    assert report.stats.kinds == {"ClusterIssuer": 1, "Widget": 1}


# ---- bad input: one line each with file and line, the other files still scanned ----


def test_broken_yaml_does_not_hide_other_files(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(POD.format(name="good"))
    (tmp_path / "broken.yaml").write_text("kind: Pod\nmetadata:\n  name: [unclosed\n")
    report = run([str(tmp_path)])
    assert [name for name, *_ in privileged(report)] == ["good"]
    assert [str(e) for e in report.errors] == [
        f"{tmp_path / 'broken.yaml'}:4: invalid YAML: did not find expected ',' or ']' (column 1)"
    ]
    assert report.exit_code(fail_on=__import__("kharden").Severity.CRITICAL) == 2


def test_wrong_types_are_input_errors_with_the_field_line(tmp_path: Path) -> None:
    path = tmp_path / "typed.yaml"
    path.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n"
        '      containers: "x"\n---\n' + POD.format(name="fine")
    )
    report = run([str(path)])
    assert [str(e) for e in report.errors] == [
        f"{path}:7: Deployment default/web: containers must be a list, not a string"
        " (/spec/template/spec/containers)"
    ]
    assert [name for name, *_ in privileged(report)] == ["fine"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostPID: "true"\n',
            "hostPID must be true or false, not a string",
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: a\n"
            "      securityContext:\n        runAsUser: '0'\n",
            "runAsUser must be an integer, not a string",
        ),
        ("apiVersion: 1\nkind: Pod\n", "apiVersion and kind must be strings"),
        ("apiVersion: v1\nkind: Pod\nmetadata: [a]\n", "Pod: metadata must be a mapping"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: 5}\n", "Pod: metadata.name must be a string"),
    ],
)
def test_wrong_types(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    [error] = run([str(path)]).errors
    assert error.file == str(path)
    assert error.line is not None
    assert message in error.message


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "image.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert [str(e) for e in run([str(path)]).errors] == [
        f"{path}:3: binary file, not YAML or JSON (NUL byte)"
    ]


def test_huge_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(3 * 1024 * 1024)
    [error] = run([str(path)], max_file_bytes=1024 * 1024).errors
    assert error.message == "file too large: 3.0 MiB, the limit is 1 MiB (raise it with --max-file-size)"


def test_missing_and_unreadable_paths(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    errors = [str(e) for e in run([str(missing)]).errors]
    assert errors == [f"{missing}: no such file or directory"]
    if os.geteuid() == 0:
        return  # root reads everything; the permission case cannot be shown as root
    locked = tmp_path / "locked.yaml"  # pragma: no cover - CI runs as root
    locked.write_text(POD.format(name="x"))  # pragma: no cover
    locked.chmod(0)  # pragma: no cover
    assert [str(e) for e in run([str(locked)]).errors] == [
        f"{locked}: cannot read: Permission denied"
    ]  # pragma: no cover


def test_directory_symlink_loop_terminates(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "pod.yaml").write_text(POD.format(name="once"))
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a", target_is_directory=True)
    assert [name for name, *_ in privileged(run([str(tmp_path)]))] == ["once"]


# ---- rendered sources ----

needs_kustomize = pytest.mark.skipif(
    not (shutil.which("kubectl") or shutil.which("kustomize")),
    reason="kustomize rendering needs kubectl or kustomize on PATH",
)


@needs_kustomize
def test_kustomize_overlay_is_rendered_and_points_at_the_source_file() -> None:
    overlay = str(DATA / "kustomize" / "overlay")
    report = run([overlay])
    assert report.errors == []
    [finding] = [f for f in report.findings if f.rule == "pod.privileged"]
    assert (finding.object.name, finding.object.namespace) == ("prod-web", "prod")
    # Where to edit: the overlay's patch that made the container privileged, at that line.
    assert (finding.location.file, finding.location.line) == (
        os.path.relpath(os.path.join(overlay, "privileged.yaml")),
        12,
    )
    assert finding.location.rendered is not None
    assert finding.location.rendered.file == overlay
    assert finding.location.renderer == "kustomize"
    assert finding.location.template is not None
    assert finding.location.template.endswith(os.path.join("kustomize", "base", "deployment.yaml"))
    assert finding.location.path == "/spec/template/spec/containers/0/securityContext/privileged"
    # The origin annotation kharden asked kustomize for is gone before the rules run.
    assert report.stats.kinds == {"Deployment": 1, "Service": 1}


@needs_kustomize
def test_a_walk_renders_kustomizations_instead_of_reading_their_files() -> None:
    report = run([str(DATA / "kustomize")])
    assert report.errors == []
    names = sorted(f.object.name for f in report.findings if f.rule == "pod.privileged")
    assert names == ["prod-web"]  # the patch file alone is never read as a manifest
    assert report.stats.kinds == {"Deployment": 2, "Service": 2}


def test_kustomize_missing_tools_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    overlay = str(DATA / "kustomize" / "overlay")
    [error] = run([overlay]).errors
    assert str(error) == (
        f"{overlay}: this is a kustomization;"
        " install kubectl (for 'kubectl kustomize') or kustomize to render it"
    )


@needs_kustomize
def test_kustomize_failure_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    [error] = run([str(tmp_path)]).errors
    assert error.file == str(tmp_path)
    assert error.message.startswith("kustomize build failed: ")


@needs_kustomize
def test_kustomize_failure_names_the_error_not_the_warnings(tmp_path: Path) -> None:
    """kustomize prints deprecation warnings first, and kubectl wraps the error in a log line."""
    (tmp_path / "kustomization.yaml").write_text("commonLabels: {tier: web}\nresources:\n  - missing.yaml\n")
    [error] = run([str(tmp_path)]).errors
    assert error.message.startswith("kustomize build failed: accumulating resources")
    assert "Warning" not in error.message
    assert "command failed" not in error.message


def _sdk_available() -> bool:
    try:
        import helm_python  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


needs_helm = pytest.mark.skipif(
    not (shutil.which("helm") or _sdk_available()),
    reason="chart rendering needs the helm binary or kharden[helm] (helm-python-sdk)",
)


@needs_helm
def test_chart_is_rendered_with_values_and_set() -> None:
    chart = str(DATA / "charts" / "web")
    clean = scan([chart], ScanOptions(rules=("pod.privileged", "netpol.host-network")))
    assert clean.errors == []
    assert clean.findings == []
    assert clean.stats.kinds == {"Deployment": 1, "Service": 1}
    report = scan(
        [chart],
        ScanOptions(
            rules=("pod.privileged", "netpol.host-network"),
            helm_values=(str(DATA / "charts" / "web" / "values-insecure.yaml"),),
            helm_set=("privileged=true",),
        ),
    )
    template = os.path.join(chart, "templates", "deployment.yaml")
    values = os.path.join(chart, "values-insecure.yaml")
    assert sorted(
        (f.rule, f.location.file, f.location.line, f.location.template, f.location.renderer)
        for f in report.findings
    ) == [
        # hostNetwork: {{ .Values.hostNetwork }}, which the --values file sets on its line 1.
        ("netpol.host-network", values, 1, template, "helm"),
        # privileged: {{ .Values.privileged }}, set by --set: no file holds it, the template line does.
        ("pod.privileged", template, 21, template, "helm"),
    ]
    assert {f.object.name for f in report.findings} == {"release-name-web"}


def test_chart_without_helm_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "helm_python", None)  # makes the import fail
    chart = str(DATA / "charts" / "web")
    [error] = run([chart]).errors
    assert (
        str(error) == f"{chart}: this is a Helm chart;"
        " install the helm binary or `pip install 'kharden[helm]'` to render it"
    )


@needs_helm
def test_broken_chart_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: broken\nversion: 0.1.0\n")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "x.yaml").write_text("kind: {{ .Values.missing.deeper }}\n")
    [error] = run([str(tmp_path)]).errors
    assert error.file == str(tmp_path)
    assert error.message.startswith("helm template failed: ")


def test_helm_rendered_file_points_at_its_templates(tmp_path: Path) -> None:
    """`helm template` output saved to a file: findings name the template from `# Source:`."""
    path = tmp_path / "rendered.yaml"
    path.write_text("---\n# Source: web/templates/debug.yaml\n" + POD.format(name="debug"))
    [finding] = run([str(path)]).findings
    assert (finding.location.file, finding.location.line, finding.location.template) == (
        str(path),
        12,
        "web/templates/debug.yaml",
    )


# A document whose apiVersion never served its kind: the API server refuses it ("no matches for kind
# Deployment in version v1"), so it is an input error of that document; its pod spec is still judged.
_V1_DEPLOYMENT = """\
apiVersion: v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        securityContext: {privileged: true}
"""


@pytest.mark.parametrize(
    ("api_version", "error", "judged"),
    [
        pytest.param("v1", "Deployment shop/web: apiVersion v1 never served kind Deployment (it is apps/v1)", True, id="v1"),
        pytest.param("batch/v1", "Deployment shop/web: apiVersion batch/v1 never served kind Deployment (it is apps/v1)", True, id="batch"),
        pytest.param("apps/v1beta1", None, True, id="an-old-version-that-served-it"),
        pytest.param("extensions/v1beta1", None, True, id="extensions"),
        pytest.param("example.com/v1", None, False, id="a-custom-resource-of-its-own-group"),
    ],
)  # fmt: skip
def test_an_api_version_that_never_served_the_kind(
    tmp_path: Path, api_version: str, error: str | None, judged: bool
) -> None:
    path = tmp_path / "web.yaml"
    path.write_text(_V1_DEPLOYMENT.replace("apiVersion: v1", f"apiVersion: {api_version}"), encoding="utf-8")
    report = scan([str(path)], ScanOptions(rules=("pod.privileged",)))
    assert [(e.file, e.line, e.message) for e in report.errors] == ([(str(path), 1, error)] if error else [])
    assert [(f.rule, f.location.line) for f in report.findings] == (
        [("pod.privileged", 14)] if judged else []
    )
