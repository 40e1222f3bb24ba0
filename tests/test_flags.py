"""Command lines parsed as pflag and Go's flag package parse them."""

from __future__ import annotations

import pytest

from kharden._flags import Arg, component_args, parse_args


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["--a=b"], [Arg("a", "b", 0)], id="equals"),
        pytest.param(["--a", "b"], [Arg("a", "b", 0)], id="separate-value"),
        pytest.param(["-a=b"], [Arg("a", "b", 0)], id="single-dash-go-flag"),
        pytest.param(["--profiling"], [Arg("profiling", None, 0)], id="bare-boolean"),
        pytest.param(
            ["--profiling", "false"], [Arg("profiling", None, 0)], id="boolean-never-takes-the-next-word"
        ),
        pytest.param(["--profiling=false"], [Arg("profiling", "false", 0)], id="boolean-with-equals"),
        pytest.param(
            ["--unknown", "--b=c"], [Arg("unknown", None, 0), Arg("b", "c", 1)], id="unknown-before-flag"
        ),
        pytest.param(
            ["--insecure-port", "-1"], [Arg("insecure-port", "-1", 0)], id="known-value-flag-takes-dash"
        ),
        pytest.param(["--a=", "x"], [Arg("a", "", 0)], id="empty-value"),
        pytest.param(["--a=b=c"], [Arg("a", "b=c", 0)], id="value-with-equals"),
        pytest.param(["x", "--a=b", "--", "--c=d"], [Arg("a", "b", 1)], id="double-dash-ends-flags"),
        pytest.param(["--a=1", "--a=2"], [Arg("a", "1", 0), Arg("a", "2", 1)], id="repeated-kept-in-order"),
    ],
)
def test_parse_args(args: list[str], expected: list[Arg]) -> None:
    assert parse_args(args) == expected


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        pytest.param(["kube-apiserver", "--a=b"], [], ("kube-apiserver", ["--a=b"], 1), id="kubeadm"),
        pytest.param(["/usr/local/bin/etcd"], ["--x=y"], ("etcd", ["--x=y"], 1), id="path-and-args"),
        pytest.param(
            ["/hyperkube", "kube-apiserver"], ["--a"], ("kube-apiserver", ["--a"], 2), id="hyperkube"
        ),
        pytest.param(
            ["/hyperkube", "apiserver", "--a"], [], ("kube-apiserver", ["--a"], 2), id="hyperkube-short"
        ),
        pytest.param(
            ["/bin/sh", "-c", "exec /usr/local/bin/kube-scheduler --v=2 --bind-address='0.0.0.0'"],
            [],
            ("kube-scheduler", ["--v=2", "--bind-address=0.0.0.0"], -1),
            id="shell-wrapper-quotes",
        ),
        pytest.param(["nginx", "-g", "daemon off;"], [], None, id="not-a-component"),
        pytest.param(["scheduler"], [], None, id="a-bare-short-name-is-not-hyperkube"),
    ],
)
def test_component_args(
    command: list[str], args: list[str], expected: tuple[str, list[str], int] | None
) -> None:
    assert component_args(command, args) == expected
