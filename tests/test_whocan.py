"""``kharden who-can``: the answer as text and JSON, namespaces, names, errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kharden.cli import main
from kharden.errors import UsageError
from kharden.whocan import who_can
from rbacdocs import binding, cluster_role, group, role, rule, sa, user

DOCS = [
    role("shop", "secrets", rule("", "secrets", "get")),
    binding("app-secrets", "Role", "secrets", sa("shop", "app"), namespace="shop"),
    cluster_role("tls-reader", rule("", "secrets", "get", "tls")),
    binding("tls", "ClusterRole", "tls-reader", user("cert-bot")),
    binding("devs", "ClusterRole", "edit", group("devs"), namespace="staging"),
    binding("ghost", "ClusterRole", "not-in-the-scan", user("casper"), namespace="shop"),
]


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    path = tmp_path / "rbac.yaml"
    path.write_text(yaml.safe_dump_all(DOCS, sort_keys=False))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_text_answer_by_subject(capsys: pytest.CaptureFixture[str], manifests: Path) -> None:
    code, out, err = run(capsys, "who-can", "get", "secrets", str(manifests))
    assert (code, err) == (0, "")
    assert out == (
        "who can get secrets anywhere: 2 subjects\n"
        "\n"
        "  Group 'devs'\n"
        "    in 'staging'             RoleBinding 'staging/devs' -> ClusterRole 'edit' (built in) aggregated"
        " ClusterRole 'system:aggregate-to-edit' (built in) rule 0\n"
        "  ServiceAccount 'shop/app'\n"
        f"    in 'shop'                RoleBinding 'shop/app-secrets' -> Role 'shop/secrets' rule 0 ({manifests}:7)\n"
        "\n"
        "bindings whose role is neither in the inputs nor built in (they may grant it too):\n"
        "  RoleBinding 'shop/ghost' -> ClusterRole 'not-in-the-scan'\n"
        "\n"
        "rules limited by resourceNames are not counted: ask about one object with --name\n"
    )


def test_namespace_and_name(capsys: pytest.CaptureFixture[str], manifests: Path) -> None:
    code, out, _ = run(capsys, "who-can", "get", "secrets", "-n", "staging", "--name", "tls", str(manifests))
    assert code == 0
    assert out.splitlines()[0] == "who can get secrets 'tls' in namespace 'staging': 2 subjects"
    assert "User 'cert-bot'" in out
    assert "ServiceAccount 'shop/app'" not in out
    assert "ghost" not in out  # a RoleBinding of another namespace cannot grant it


def test_json_answer(capsys: pytest.CaptureFixture[str], manifests: Path) -> None:
    code, out, _ = run(
        capsys, "who-can", "create", "pods/exec", "-n", "staging", str(manifests), "-f", "json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["query"] == {
        "verb": "create",
        "resource": "pods",
        "group": "",
        "subresource": "exec",
        "name": None,
        "url": None,
        "namespace": "staging",
    }
    [subject] = data["subjects"]
    assert (subject["kind"], subject["name"], subject["namespace"]) == ("Group", "devs", None)
    [grant] = subject["grants"]
    assert grant["scope"] == "staging"
    assert grant["binding"]["name"] == "devs"
    assert grant["binding"]["subjectPath"] == "/subjects/0"
    assert grant["binding"]["location"]["line"] == 55
    assert grant["role"] == {"kind": "ClusterRole", "namespace": None, "name": "edit", "builtin": True}
    assert grant["rule"] == {
        "kind": "ClusterRole",
        "namespace": None,
        "name": "system:aggregate-to-edit",
        "builtin": True,
        "index": 2,
        "location": None,
    }
    assert data["unresolved"] == []
    assert data["summary"]["grants"] == 1


def test_library_answer_carries_the_chain(manifests: Path) -> None:
    answer = who_can([str(manifests)], "get", "secrets", namespace="shop")
    assert [(str(g.subject), g.scope, g.rule.where()) for g in answer.grants] == [
        ("ServiceAccount 'shop/app'", "shop", f"{manifests}:7")
    ]


def test_unknown_resource_is_a_usage_error(capsys: pytest.CaptureFixture[str], manifests: Path) -> None:
    code, _, err = run(capsys, "who-can", "get", "widgets", str(manifests))
    assert code == 2
    assert err.startswith("kharden: error: unknown resource 'widgets'")
    with pytest.raises(UsageError):
        who_can([str(manifests)], "get", "widgets")


def test_custom_resource_of_the_scan(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
        },
    }
    docs = [
        crd,
        cluster_role("w", rule("example.com", "widgets", "create")),
        binding("w", "ClusterRole", "w", user("alice")),
    ]
    path = tmp_path / "crd.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    code, out, _ = run(capsys, "who-can", "create", "widgets", str(path))
    assert code == 0
    assert "User 'alice'" in out


def test_input_errors_exit_2_and_still_answer(
    capsys: pytest.CaptureFixture[str], manifests: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [\n")
    code, out, err = run(capsys, "who-can", "get", "secrets", str(manifests), str(broken))
    assert code == 2
    assert "ServiceAccount 'shop/app'" in out
    assert err.startswith(f"kharden: error: {broken}:")


def test_paths_are_required(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "who-can", "get", "secrets")
    assert code == 2
    assert err == "kharden: error: nothing to read: give files, directories, or '-' for stdin\n"


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str], manifests: Path) -> None:
    code, _, err = run(capsys, "who-can", "get", "secrets", str(manifests), "--bogus")
    assert code == 2
    assert err.startswith("kharden: error: unrecognized arguments: --bogus")


def test_scan_takes_paths_after_options(
    capsys: pytest.CaptureFixture[str], manifests: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(binding("b", "ClusterRole", "cluster-admin", user("alice"))))
    code, out, _ = run(
        capsys, "scan", str(manifests), "--rule", "rbac.cluster-admin", str(other), "-f", "json"
    )
    assert code == 1
    assert [f["object"]["name"] for f in json.loads(out)["findings"]] == ["b"]
