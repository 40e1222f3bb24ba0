"""Every format of ``kharden paths``: JSON references hold together, DOT and Mermaid draw the paths, the Neo4j
files and openCypher statements carry the whole graph, the HTML page is self-contained and runs in Chromium."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from browser import chromium, needs_chromium
from conftest import EXAMPLES
from kharden.attack_paths import PathsResult, load
from kharden.model import ErrorRecord
from kharden.report.paths import html, neo4j, render, render_files
from kharden.report.paths.graphviz import _mermaid_text
from kharden.scan import ScanOptions

VENDOR = Path(html.__file__).parent / "vendor"


@pytest.fixture(scope="module")
def insecure() -> PathsResult:
    return load([str(EXAMPLES / "insecure")], ScanOptions(node_roots=(str(EXAMPLES / "insecure-node"),)))


def test_json_holds_together(insecure: PathsResult) -> None:
    analysis = insecure.analysis
    data = json.loads(render("json", analysis))
    vertices = {v["id"]: v for v in data["graph"]["vertices"]}
    edges = data["graph"]["edges"]
    assert len(vertices) == len(analysis.graph.vertices)
    assert len(edges) == len(analysis.graph) == data["summary"]["edges"]
    assert all(e["from"] in vertices and e["to"] in vertices for e in edges)
    assert len(data["paths"]) == len(analysis.paths) == data["summary"]["paths"]
    for path in data["paths"]:
        assert path["vertices"][0] == path["entry"]
        assert vertices[path["entry"]]["entry"] is True
        assert len(path["hops"]) == path["length"] == len(path["vertices"]) - 1
        for hop in path["hops"]:
            assert hop["edges"]
            assert all((edges[i]["from"], edges[i]["to"]) == (hop["from"], hop["to"]) for i in hop["edges"])
    fixes = data["choke_points"]["fixes"]
    assert {(f["object"]["kind"], f["object"]["name"]) for f in fixes} >= {
        ("ClusterRoleBinding", "shop-api-admin"),
        ("RoleBinding", "deployer"),
    }
    binding = next(f for f in fixes if f["object"]["name"] == "shop-api-admin")
    assert binding["rules"] == ["rbac.cluster-admin"]
    assert binding["facts"][0]["location"] == {
        "file": f"{EXAMPLES}/insecure/rbac.yaml",
        "line": 12,
        "column": 5,
    }
    assert data["summary"]["goals_reached"] == ["cluster-admin", "node", "cloud", "etcd", "secrets"]
    assert data["errors"] == []


def test_json_lists_input_errors() -> None:
    data = json.loads(
        render("json", load([str(EXAMPLES / "hardened")]).analysis, [ErrorRecord("x.yaml", 3, "bad")])
    )
    assert data["errors"] == [{"file": "x.yaml", "line": 3, "message": "bad"}]
    assert data["paths"] == []


def test_text_shows_steps_fixes_and_choke_points(insecure: PathsResult) -> None:
    text = render("text", insecure.analysis, limit=1)
    assert text.startswith("kharden paths: 4 entry points reach 5 of 5 goals")
    assert "[rbac.cluster-admin]" in text or "[exposure.etcd-client-auth]" in text
    assert "fix: run etcd with --client-cert-auth=true" in text
    assert "... and 3 more (--limit 0 shows every path)" in text
    assert "Choke points: 6 fixes cut 20 of the 20 paths that a fix can cut (minimum cut)" in text
    assert "ClusterRoleBinding shop-api-admin /subjects/0" in text
    assert render("text", insecure.analysis, limit=0).count(" (1 step)") == 8


def test_dot_draws_the_paths_and_marks_the_cut(insecure: PathsResult) -> None:
    text = render("dot", insecure.analysis)
    assert text.startswith("digraph kharden_paths {")
    assert text.rstrip().endswith("}")
    for path in insecure.analysis.paths:
        for vertex in path.vertices:
            assert f'"{vertex}" [' in text
    assert 'color="#cf222e", style=dashed' in text
    dot = shutil.which("dot")
    if dot is not None:  # Graphviz, where installed, must accept it
        done = subprocess.run([dot, "-Tsvg"], input=text, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr


def test_mermaid_draws_the_paths(insecure: PathsResult) -> None:
    text = render("mermaid", insecure.analysis)
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    shown = {line.split('"')[1] for line in lines if re.match(r"  v\d+[\[({]", line)}
    labels = {insecure.analysis.graph.vertices[v].label for p in insecure.analysis.paths for v in p.vertices}
    assert shown == {_mermaid_text(label) for label in labels}
    assert all(line.count('"') % 2 == 0 for line in lines)
    assert any(line.startswith("  linkStyle ") for line in lines)


def test_mermaid_text_cannot_break_out_of_its_label() -> None:
    assert _mermaid_text('a "b" <c> | d & e') == "a #quot;b#quot; #lt;c#gt; #124; d #amp; e"


def test_neo4j_csv_files_import_the_whole_graph(insecure: PathsResult) -> None:
    files = render_files(insecure.analysis)
    assert sorted(files) == ["nodes.csv", "relationships.csv"]
    nodes = list(csv.DictReader(io.StringIO(files["nodes.csv"])))
    relationships = list(csv.DictReader(io.StringIO(files["relationships.csv"])))
    ids = [n["id:ID"] for n in nodes]
    assert len(ids) == len(set(ids)) == len(insecure.analysis.graph.vertices)
    assert len(relationships) == len(insecure.analysis.graph)
    assert all(r[":START_ID"] in ids and r[":END_ID"] in ids for r in relationships)
    assert all(re.fullmatch(r"[A-Z_]+", r[":TYPE"]) for r in relationships)
    web = next(n for n in nodes if n["id:ID"] == "workload:Deployment/shop/web")
    assert (web[":LABEL"], web["entry:boolean"]) == ("Vertex;Workload;Entry", "true")
    escape = next(r for r in relationships if r[":TYPE"] == "ESCAPE")
    assert json.loads(escape["evidence"])[0]["rule"].startswith("pod.")


def test_cypher_statements_create_the_whole_graph(insecure: PathsResult) -> None:
    text = render("cypher", insecure.analysis)
    creates = [line for line in text.splitlines() if line.startswith("CREATE (:Vertex")]
    links = [line for line in text.splitlines() if line.startswith("MATCH (a:Vertex")]
    assert len(creates) == len(insecure.analysis.graph.vertices)
    assert len(links) == len(insecure.analysis.graph)
    assert all(line.endswith(";") for line in creates + links)


def test_cypher_strings_are_escaped() -> None:
    assert neo4j._string("it's a \\ path\n") == "'it\\'s a \\\\ path\\n'"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_is_self_contained(insecure: PathsResult) -> None:
    page = render("html", insecure.analysis)
    parser = _Tags()
    parser.feed(page)
    fetching = [
        (t, a)
        for t, a in parser.tags
        if t in {"script", "img", "link", "iframe", "object", "embed"} and (a.get("src") or a.get("href"))
    ]
    assert fetching == []
    [csp] = [
        a["content"]
        for t, a in parser.tags
        if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert csp is not None
    assert csp.startswith("default-src 'none';")
    assert "cytoscape" in page
    assert all((a.get("href") or "").startswith(("#", "https://")) for t, a in parser.tags if t == "a")
    # The data cannot close its script element, whatever the manifests say.
    data = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.DOTALL)
    assert data is not None
    assert len(json.loads(data.group(1))["paths"]) == len(insecure.analysis.paths)


def test_the_vendored_library_is_the_one_recorded() -> None:
    digest = hashlib.sha256((VENDOR / "cytoscape.min.js").read_bytes()).hexdigest()
    assert digest == "71fa9ebec21a7ca2c40cff6aacc30d1f6464e363662ad4b2c197e1adc770cd94"
    assert digest in (VENDOR / "README.md").read_text(encoding="utf-8")
    assert "Permission is hereby granted" in (VENDOR / "cytoscape.LICENSE").read_text(encoding="utf-8")


def _body(dom: str) -> dict[str, str | None]:
    parser = _Tags()
    parser.feed(dom)
    [body] = [a for t, a in parser.tags if t == "body"]
    return body


@needs_chromium
def test_html_draws_the_paths_in_chromium(tmp_path: Path, insecure: PathsResult) -> None:
    analysis = insecure.analysis
    page = render("html", analysis)
    body = _body(chromium(tmp_path, page))
    assert body.get("data-ready") == "1"  # every script ran without error
    vertices = {v for p in analysis.paths for v in p.vertices}
    pairs = {(h.source, h.target) for p in analysis.paths for h in p.hops}
    assert body.get("data-vertices") == str(len(vertices))
    assert body.get("data-edges") == str(len(pairs))
    path = analysis.paths[5]
    selected = _body(chromium(tmp_path, page, "#path=5"))
    assert selected.get("data-highlighted") == str(len(path.vertices) + len(path.hops))


@needs_chromium
def test_html_of_no_path_renders_too(tmp_path: Path) -> None:
    body = _body(chromium(tmp_path, render("html", load([str(EXAMPLES / "hardened")]).analysis)))
    assert (body.get("data-ready"), body.get("data-vertices")) == ("1", "0")
