"""``kharden reach``: questions, answers with the deciding policies, the matrix, exit codes."""

from __future__ import annotations

import json
import random
import re
import shlex
from pathlib import Path

import pytest
import yaml

from kharden import __version__
from kharden.analysis._netmatrix import Matrix, Row
from kharden.analysis._netsets import AddressSet
from kharden.analysis.netpol import External
from kharden.cli import main
from kharden.errors import InputError
from kharden.report.reach import _Cells, _matrix_parts, matrix_json

CLUSTER = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ops, labels: {team: ops}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: x, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: x, ports: [{name: postgres, containerPort: 5432}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: toolbox, namespace: ops, labels: {app: toolbox}}
spec:
  containers: [{name: sh, image: x}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: ops}}}]
    ports: [{port: http}]
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
    ports: [{port: 5432}]
  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [169.254.169.254/32]}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
"""


@pytest.fixture
def cluster(tmp_path: Path) -> str:
    path = tmp_path / "cluster.yaml"
    path.write_text(CLUSTER)
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["reach", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_denied_names_the_isolating_policies(capsys: pytest.CaptureFixture[str], cluster: str) -> None:
    code, out, err = run(capsys, cluster, "--from", "shop/web", "--to", "169.254.169.254:80/TCP")
    assert (code, err) == (0, "")
    assert out.splitlines()[:3] == [
        "Deployment shop/web -> 169.254.169.254:80/TCP: denied",
        f"  egress of Deployment shop/web: denied: isolated by NetworkPolicy shop/default-deny ({cluster}:35:1),"
        f" NetworkPolicy shop/web ({cluster}:42:1); no rule allows 80/TCP",
        "  ingress of 169.254.169.254: 169.254.169.254 is not a pod: no NetworkPolicy applies to it",
    ]


def test_allowed_names_the_rule_and_peer(capsys: pytest.CaptureFixture[str], cluster: str) -> None:
    code, out, _ = run(capsys, cluster, "--from", "ops/toolbox", "--to", "shop/web:http")
    assert code == 0
    assert out.splitlines()[:4] == [
        "Pod ops/toolbox -> Deployment shop/web:http (8080/TCP): allowed",
        "  egress of Pod ops/toolbox: allowed: no NetworkPolicy selects these pods for egress",
        "  ingress of Deployment shop/web: allowed by",
        f"    ingress rule 0 of NetworkPolicy shop/web ({cluster}:49:5): every pod of namespaces team=ops, on 8080/TCP",
    ]


def test_without_a_port_the_answer_is_the_ports(capsys: pytest.CaptureFixture[str], cluster: str) -> None:
    out = run(capsys, cluster, "--from", "shop/web", "--to", "shop/Deployment/db")[1]
    assert out.splitlines()[0] == "Deployment shop/web -> Deployment shop/db: allowed on 5432/TCP"
    out = run(capsys, cluster, "--from", "shop/db", "--to", "shop/web")[1]
    assert out.splitlines()[0] == "Deployment shop/db -> Deployment shop/web: denied on every port"


def test_namespace_wildcard_and_ipv6(capsys: pytest.CaptureFixture[str], cluster: str) -> None:
    out = run(capsys, cluster, "--from", "shop/*", "--to", "[fd00:ec2::254]:80/tcp")[1]
    assert [line for line in out.splitlines() if "->" in line] == [
        "Deployment shop/web -> fd00:ec2::254:80/TCP: denied",  # 0.0.0.0/0 holds no IPv6 address
        "Deployment shop/db -> fd00:ec2::254:80/TCP: denied",
        "shop/* -> [fd00:ec2::254]:80/tcp: 0 of 2 allowed",
    ]


def test_expect_sets_the_exit_code(capsys: pytest.CaptureFixture[str], cluster: str) -> None:
    metadata = ("--from", "shop/*", "--to", "169.254.169.254:80/TCP")
    assert run(capsys, cluster, *metadata, "--expect", "denied")[0] == 0
    assert run(capsys, cluster, *metadata, "--expect", "allowed")[0] == 1
    assert (
        run(capsys, cluster, "--from", "ops/toolbox", "--to", "169.254.169.254:80", "--expect", "denied")[0]
        == 1
    )


def test_json_answer(capsys: pytest.CaptureFixture[str], cluster: str) -> None:
    code, out, _ = run(capsys, cluster, "--from", "ops/toolbox", "--to", "shop/web:8080/TCP", "-f", "json")
    data = json.loads(out)
    assert (code, data["allowed"], data["from"], data["to"]) == (0, True, "ops/toolbox", "shop/web:8080/TCP")
    (answer,) = data["answers"]
    assert answer["source"]["workloads"] == [{"kind": "Pod", "name": "toolbox", "file": cluster}]
    assert answer["ports"] == [{"protocol": "TCP", "port": 8080}]
    assert answer["egress"]["isolated"] is False
    (grant,) = answer["ingress"]["allowed_by"]
    assert grant["policy"] == {
        "namespace": "shop",
        "name": "web",
        "file": cluster,
        "line": 49,
        "path": "/spec/ingress/0",
    }
    assert grant["peer"] == {"path": "/spec/ingress/0/from/0", "text": "every pod of namespaces team=ops"}


def test_matrix_text(capsys: pytest.CaptureFixture[str], cluster: str) -> None:
    code, out, _ = run(capsys, cluster, "--matrix", "--address", "apiserver=10.0.0.1/32")
    assert code == 0
    assert out.splitlines()[2:7] == [
        "      1 2 * A B C",
        "ops   # + # # # #   1",
        "shop  . + . + . +   2",
        "*     # + # # # #   *",
        "",
    ]
    assert "  C  apiserver" in out
    assert "     apiserver: 10.0.0.1" in out


def test_matrix_json(capsys: pytest.CaptureFixture[str], cluster: str) -> None:
    data = json.loads(run(capsys, cluster, "--matrix", "-f", "json")[1])
    assert data["namespaces"] == ["ops", "shop", "*"]
    assert data["columns"] == ["ops", "shop", "*", "the Internet", "the metadata API"]
    assert data["matrix"]["shop"] == {"shop": "some", "the Internet": "some"}
    assert data["matrix"]["ops"]["shop"] == "some"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "shop/nope", "--to", "1.2.3.4"], "'shop/nope': no workload or pod 'nope' in namespace 'shop' (workloads there: db, web)"),
        (["--from", "web", "--to", "1.2.3.4"], "'web': expected NAMESPACE/NAME, NAMESPACE/KIND/NAME, NAMESPACE/*, */* or an address"),
        (["--from", "shop/web", "--to", "1.2.3.4:99999"], "'1.2.3.4:99999': port 99999 is outside 1-65535"),
        (["--from", "shop/web", "--to", "1.2.3.4:80/ICMP"], "'1.2.3.4:80/ICMP': the port must read PORT or PORT/PROTOCOL (TCP, UDP or SCTP), like 80/TCP"),
        (["--from", "1.2.3.4", "--to", "5.6.7.8"], "one side must be pods of the scan: NetworkPolicy says nothing between addresses"),
        (["--matrix", "--from", "shop/web"], "give either --from and --to, or --matrix"),
        (["--from", "shop/web"], "--from and --to go together"),
        (["--matrix", "--address", "etcd"], "--address 'etcd': expected NAME=CIDR (e.g. etcd=10.0.0.10/32)"),
    ],
)  # fmt: skip
def test_usage_errors(
    capsys: pytest.CaptureFixture[str], cluster: str, argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, cluster, *argv)
    assert (code, out, err) == (2, "", f"kharden: error: {message}\n")


def test_input_errors_are_reported_and_answered(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CLUSTER.replace("except: [169.254.169.254/32]", "except: [169.254.169.254/33]"))
    code, out, err = run(capsys, str(path), "--from", "shop/web", "--to", "169.254.169.254:80")
    assert code == 2
    assert err == (
        f"kharden: error: {path}:54: NetworkPolicy shop/web: '169.254.169.254/33' is not a CIDR"
        " (/spec/egress/1/to/0/ipBlock/except/0)\n"
    )
    assert out.splitlines()[0].endswith(": denied")  # the refused policy is not in force; default-deny is


def test_readme_reach_example(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    block = re.search(
        r"```console\n\$ (?P<command>kharden reach [^\n]*)\n(?P<output>.*?)```", readme, re.DOTALL
    )
    assert block is not None
    monkeypatch.chdir(root)
    assert main(shlex.split(block["command"])[1:]) == 0
    assert capsys.readouterr().out == block["output"]


RUNNING = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: x}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-5d9
  namespace: shop
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, controller: true}]
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: x}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-5d9-x2x4q
  namespace: shop
  labels: {app: web}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d9, controller: true}]
spec: {containers: [{name: web, image: x}]}
"""


def test_running_pod_names_find_their_workload(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "running.yaml"
    path.write_text(RUNNING)
    for source in ("shop/web-5d9-x2x4q", "shop/Pod/web-5d9-x2x4q", "shop/web"):
        out = run(capsys, str(path), "--from", source, "--to", "10.0.0.1:443")[1]
        assert out.splitlines()[0] == "Deployment shop/web -> 10.0.0.1:443/TCP: allowed", source


def test_a_port_name_the_destination_lacks(capsys: pytest.CaptureFixture[str], cluster: str) -> None:
    out = run(capsys, cluster, "--from", "ops/toolbox", "--to", "shop/db:http")[1]
    assert (
        out.splitlines()[0]
        == "Pod ops/toolbox -> Deployment shop/db:http/TCP: denied: the destination has no TCP port named 'http'"
    )


def test_reach_reads_a_snapshot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(
        json.dumps({"apiVersion": "v1", "kind": "List", "items": list(yaml.safe_load_all(RUNNING))})
    )
    code, out, err = run(
        capsys, "--snapshot", str(snapshot), "--from", "shop/web-5d9-x2x4q", "--to", "10.0.0.1:443"
    )
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "Deployment shop/web -> 10.0.0.1:443/TCP: allowed"


@pytest.mark.parametrize(
    "value",
    [
        "plain-ascii/with:punctuation {} [] ,",
        'a "quote" and a \\ backslash',
        "control \x00 \x01 \x1f \b \f \n \r \t",
        "DEL \x7f",
        "non-ASCII: é, ☃, 🐍, \u2028",
        "",
    ],
)
def test_matrix_json_is_json_dumps_byte_for_byte(value: str) -> None:
    """Rows are written from their bit sets, each shared row once; the whole is json.dumps's compact JSON of
    the cells all the same (and json's own when some text needs its escapes)."""
    names = ["a", value, "c", "*"]
    plain = value.isascii() and value.isprintable() and "\\" not in value and '"' not in value
    for external, errors in [
        ("the Internet", [InputError(value, file=value, line=None), InputError("x", file="f", line=2**70)]),
        ("the Internet", [InputError("é", file="f.yaml", line=1)]),  # (the tail needs json's escapes)
        (value, []),  # an external column named as a namespace replaces that cell
    ]:
        internet = External(external, AddressSet.parse("10.0.0.0/8"), value)
        shared = Row(names, 0b1011, 0b0010, ((external, "some"),))
        rows = {
            "a": shared,
            value: Row(names, 0b1111, 0b1111, ()),
            "c": shared,
            "*": Row(names, 0, 0, ((external, "all"),)),
            "e": Row(names, 0b0100, 0, ()),
        }
        for kept in (rows, {}):
            m = Matrix(("a", value, "c", "*"), (internet,), kept, (value,), ("e", value))
            cells = {}
            for source, row in kept.items():
                cells[source] = {
                    name: "all" if row.fully >> i & 1 else "some"
                    for i, name in enumerate(names)
                    if row.some >> i & 1
                }
                cells[source].update(row.external)
            assert m.cells == cells
            data = {
                "version": 1,
                "tool": {"name": "kharden", "version": __version__},
                "namespaces": ["a", value, "c", "*"],
                "columns": ["a", value, "c", "*", external],
                "addresses": {external: value or "10.0.0.0/8"},
                "matrix": cells,
                "unlabelled_namespaces": [value],
                "namespaces_without_pods": ["e", value],
                "legend": {
                    "all": "every pod of the row reaches every pod (address) of the column on every port",
                    "some": "some pods or some ports",
                    "*": "pods of namespaces not in the scan",
                },
                "errors": [{"file": e.file, "line": e.line, "message": e.message} for e in errors],
            }
            assert (
                b"".join(matrix_json(m, errors)) == json.dumps(data, separators=(",", ":")).encode() + b"\n"
            )
            fast = not kept or (plain and external != value)  # (the rows alone, without head and tail)
            assert (_matrix_parts({}, kept, {}) is not None) == fast


@pytest.mark.parametrize("seed", range(20))
def test_matrix_json_of_random_rows_is_json_dumps_of_their_cells(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - a seeded, repeatable test input
    width = rng.choice([1, 2, 7, 8, 9, 64, 300])
    names = [*(f"ns-{i}" for i in range(width - 1)), "*"]
    made = []
    for _ in range(rng.randint(1, 6)):
        some = rng.getrandbits(width) & rng.choice([-1, rng.getrandbits(width)])
        external = tuple(
            (name, rng.choice(["all", "some"])) for name in ("the Internet", "etcd") if rng.random() < 0.5
        )
        made.append(Row(names, some, some & rng.getrandbits(width), external))
    rows = {name: rng.choice(made) for name in names if rng.random() < 0.8}
    rows = {source: row for source, row in rows.items() if row.some or row.external}
    m = Matrix(tuple(names), (), rows, (), ())
    expected = b"".join(matrix_json(Matrix(tuple(names), (), {}, (), ()), []))
    cells = json.dumps(m.cells, separators=(",", ":")).encode()
    assert b"".join(matrix_json(m, [])) == expected.replace(b'"matrix":{}', b'"matrix":' + cells)
    assert _matrix_parts({}, rows, {}) is not None


@pytest.mark.parametrize("width", [1, 63, 64, 65, 200, 1000])
def test_row_cells_by_blocks_are_the_columns_picked_one_by_one(width: int) -> None:
    """Blocks written once and looked up, and rows written whole once blocks rarely repeat, give the cells of
    every column in turn."""
    rng = random.Random(width)  # noqa: S311 - a seeded, repeatable test input
    names = [f"ns-{i}" for i in range(width)]
    groups = [rng.getrandbits(width) for _ in range(4)]
    unions = []  # rows that are unions of a few groups: blocks repeat
    for _ in range(300):
        some = 0
        for group in rng.sample(groups, rng.randint(0, 3)):
            some |= group
        unions.append((some, some & rng.choice([0, -1, groups[0], rng.getrandbits(width)])))
    scattered = [
        (some, some & rng.getrandbits(width)) for some in (rng.getrandbits(width) for _ in range(300))
    ]
    for rows, direct in ((unions, False), (scattered, width >= 1000), (unions + scattered, False)):
        writer = _Cells.of(names)
        assert writer is not None
        for some, fully in rows:
            cells = [
                f'"{name}":"{"all" if fully >> i & 1 else "some"}"'
                for i, name in enumerate(names)
                if some >> i & 1
            ]
            assert writer.cells(some & ~fully, fully) == ",".join(cells).encode()
        assert writer.direct == direct  # (narrow rows never write enough blocks to decide)
