"""Symlinks in a node root resolve inside it, whatever the chain: nothing outside the root is ever read.

A table of chains (absolute, relative, through directories, through hostPath mounts, over the hop
limit, loops) in a node root built next to an ``outside`` directory whose files would be read, and
would show up as objects, if a link escaped. Each case says what must be read instead (the file of
the same path inside the root, or nothing) and which error is reported.
"""

from __future__ import annotations

import itertools
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from kharden.sources._noderoot import MAX_SYMLINKS, NodeRoot
from kharden.sources.documents import Collected
from kharden.sources.node import read_node

KUBECONFIG = "apiVersion: v1\nkind: Config\ncurrent-context: {}\nclusters: []\ncontexts: []\nusers: []\n"
POD = "apiVersion: v1\nkind: Pod\nmetadata: {{name: {}, namespace: kube-system}}\nspec: {{containers: []}}\n"
APISERVER = """apiVersion: v1
kind: Pod
metadata: {name: kube-apiserver, namespace: kube-system}
spec:
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.31.2
    command: [kube-apiserver, --encryption-provider-config=/etc/kubernetes/enc/enc.yaml]
    volumeMounts: [{name: enc, mountPath: /etc/kubernetes/enc, readOnly: true}]
  volumes: [{name: enc, hostPath: {path: /etc/kubernetes/enc, type: DirectoryOrCreate}}]
"""
ENCRYPTION = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources: []\n"


class Tree:
    """A node root and, beside it, what must never be read."""

    def __init__(self, base: Path) -> None:
        self.root = base / "root"
        self.outside = base / "outside"
        (self.root / "etc/kubernetes/manifests").mkdir(parents=True)
        (self.outside / "manifests").mkdir(parents=True)
        (self.outside / "shadow").write_text(KUBECONFIG.format("outside"))
        (self.outside / "manifests/escaped.yaml").write_text(POD.format("escaped"))
        (self.outside / "enc.yaml").write_text(ENCRYPTION)

    def file(self, node_path: str, text: str) -> None:
        path = self.root / node_path.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def link(self, node_path: str, target: str) -> None:
        path = self.root / node_path.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        os.symlink(target, path)

    def up(self, node_path: str) -> str:
        """A relative target from ``node_path``'s directory that climbs far above any root."""
        return "../" * (node_path.count("/") + 20)

    def chain(self, node_path: str, links: int, target: str) -> None:
        """``node_path`` -> c1 -> c2 ... : ``links`` links in all, the last one pointing at ``target``."""
        names = [node_path] + [f"/chain/c{i}" for i in range(1, links)]
        for name, following in itertools.pairwise(names):
            self.link(name, os.path.relpath(following, os.path.dirname(name)))
        self.link(names[-1], target)


def _absolute_outside(tree: Tree) -> None:
    tree.link("/etc/kubernetes/admin.conf", str(tree.outside / "shadow"))


def _absolute_inside(tree: Tree) -> None:
    # The same absolute path exists inside the root: that one is read, as on the node itself.
    tree.link("/etc/kubernetes/admin.conf", str(tree.outside / "shadow"))
    tree.file(str(tree.outside / "shadow"), KUBECONFIG.format("inside"))


def _relative_outside(tree: Tree) -> None:
    tree.link(
        "/etc/kubernetes/admin.conf", tree.up("/etc/kubernetes/admin.conf") + str(tree.outside / "shadow")
    )


def _directory_absolute(tree: Tree) -> None:
    tree.link("/etc/kubernetes/manifests", str(tree.outside / "manifests"))


def _directory_relative(tree: Tree) -> None:
    tree.link(
        "/etc/kubernetes/manifests", tree.up("/etc/kubernetes/manifests") + str(tree.outside / "manifests")
    )


def _directory_then_dotdot(tree: Tree) -> None:
    # etc/kubernetes -> /srv/k (inside), then manifests -> ../../../.. climbing from there.
    tree.link("/etc/kubernetes", "/srv/k")
    tree.link("/srv/k/manifests", "../../../../../../.." + str(tree.outside / "manifests"))


def _hostpath_mount(tree: Tree) -> None:
    tree.file("/etc/kubernetes/manifests/kube-apiserver.yaml", APISERVER)
    tree.link("/etc/kubernetes/enc", tree.up("/etc/kubernetes/enc") + str(tree.outside))


def _hostpath_mount_inside(tree: Tree) -> None:
    tree.file("/etc/kubernetes/manifests/kube-apiserver.yaml", APISERVER)
    tree.link("/etc/kubernetes/enc", "/srv/enc")
    tree.file("/srv/enc/enc.yaml", ENCRYPTION)


def _over_the_limit(tree: Tree) -> None:
    # 41 links: the old resolver stopped after 40 and let the system follow the last one out.
    target = tree.up("/chain/c41") + str(tree.outside / "shadow")
    tree.chain("/etc/kubernetes/admin.conf", MAX_SYMLINKS + 1, target)


def _at_the_limit(tree: Tree) -> None:
    tree.file("/srv/admin.conf", KUBECONFIG.format("inside"))
    tree.chain("/etc/kubernetes/admin.conf", MAX_SYMLINKS, "/srv/admin.conf")


def _directory_over_the_limit(tree: Tree) -> None:
    target = tree.up("/chain/c41") + str(tree.outside / "manifests")
    tree.chain("/etc/kubernetes/manifests", MAX_SYMLINKS + 1, target)


def _flag_file_over_the_limit(tree: Tree) -> None:
    tree.file("/etc/kubernetes/manifests/kube-apiserver.yaml", APISERVER)
    target = tree.up("/chain/c41") + str(tree.outside / "enc.yaml")
    tree.chain("/etc/kubernetes/enc/enc.yaml", MAX_SYMLINKS + 1, target)


def _loop(tree: Tree) -> None:
    tree.link("/etc/kubernetes/admin.conf", "/etc/kubernetes/loop")
    tree.link("/etc/kubernetes/loop", "admin.conf")


def _fifo(tree: Tree) -> None:
    os.mkfifo(tree.root / "etc/kubernetes/admin.conf")


ELOOP = "cannot read: more than 40 symbolic links in a chain resolving {} inside the node root"

# id, build, the (kind, name or file marker) of what is read, the errors (file relative to the root, message)
CASES: list[tuple[str, Callable[[Tree], None], set[str], list[tuple[str, str]]]] = [
    ("absolute", _absolute_outside, set(), []),
    ("absolute, the path exists inside", _absolute_inside, {"Config:inside"}, []),
    ("relative, climbing past the root", _relative_outside, set(), []),
    ("a directory, absolute", _directory_absolute, set(), []),
    ("a directory, relative", _directory_relative, set(), []),
    ("a directory then ..", _directory_then_dotdot, set(), []),
    ("through a hostPath mount", _hostpath_mount, {"Pod:kube-apiserver"}, []),
    (
        "through a hostPath mount, inside",
        _hostpath_mount_inside,
        {"Pod:kube-apiserver", "EncryptionConfiguration"},
        [],
    ),
    (
        "41 links",
        _over_the_limit,
        set(),
        [("etc/kubernetes/admin.conf", ELOOP.format("/etc/kubernetes/admin.conf"))],
    ),
    ("40 links", _at_the_limit, {"Config:inside"}, []),
    (
        "41 links to a directory",
        _directory_over_the_limit,
        set(),
        [("etc/kubernetes/manifests", ELOOP.format("/etc/kubernetes/manifests"))],
    ),
    (
        "41 links to a file an apiserver flag names",
        _flag_file_over_the_limit,
        {"Pod:kube-apiserver"},
        [("etc/kubernetes/enc/enc.yaml", ELOOP.format("/etc/kubernetes/enc/enc.yaml"))],
    ),
    (
        "a loop",
        _loop,
        set(),
        [("etc/kubernetes/admin.conf", ELOOP.format("/etc/kubernetes/admin.conf"))],
    ),
    ("a FIFO", _fifo, set(), [("etc/kubernetes/admin.conf", "cannot read: not a regular file")]),
]


def _read(tree: Tree) -> Collected:
    collected = Collected()
    done = threading.Event()

    def run() -> None:
        read_node(str(tree.root), collected)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(20), "reading the node root hung"
    return collected


def _marker(kind: str, name: str, raw: dict[str, object]) -> str:
    """``Config:inside`` (its current-context says where it was written), ``Pod:NAME``, or the kind."""
    if kind == "Config":
        return f"Config:{raw.get('current-context')}"
    return f"{kind}:{name}" if kind == "Pod" else kind


@pytest.mark.parametrize(("build", "read", "errors"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_symlink_chains_stay_inside_the_root(
    tmp_path: Path, build: Callable[[Tree], None], read: set[str], errors: list[tuple[str, str]]
) -> None:
    tree = Tree(tmp_path)
    build(tree)
    collected = _read(tree)
    objects = [o for o in collected.objects if o.ref.kind not in {"NodeFiles"}]
    for obj in objects:
        assert obj.origin.file is not None
        assert obj.origin.file.startswith(str(tree.root) + os.sep), obj.origin.file
        assert obj.ref.name != "escaped"
    found = {_marker(o.ref.kind, o.ref.name, dict(o.raw)) for o in objects}
    assert found == read
    assert [(os.path.relpath(e.file or "", tree.root), e.message) for e in collected.errors] == errors


def test_the_file_read_is_named_where_it_is_in_the_root(tmp_path: Path) -> None:
    tree = Tree(tmp_path)
    _absolute_inside(tree)
    (config,) = [o for o in _read(tree).objects if o.ref.kind == "Config"]
    assert config.origin.file == str(tree.root) + str(tree.outside / "shadow")


def test_resolution_never_leaves_the_root(tmp_path: Path) -> None:
    tree = Tree(tmp_path)
    tree.link("/a", "../../../../../../b")
    tree.link("/b", "/c/../../..//d/./e")
    fs = NodeRoot(str(tree.root))
    assert fs.path("/a/f") == str(tree.root / "d/e/f")
    assert fs.path("/../../x/../y") == str(tree.root / "y")
    _over_the_limit(tree)
    with pytest.raises(OSError, match="more than 40 symbolic links"):
        fs.path("/etc/kubernetes/admin.conf")
