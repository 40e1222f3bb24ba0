"""Paths under a node root, resolved as if the root were ``/``: nothing outside it is ever opened.

A node root (``--node-root DIR``, a copy of a node's disk) is written by whoever controls the node,
and its symlinks are meant for that node: ``/etc/kubernetes/admin.conf -> /etc/shadow`` means the
root's ``etc/shadow``, never the scanning machine's. Handing such a path to the operating system
would follow the link out of the root. So every component of every path is resolved here, one at
a time, from an open directory: ``lstat`` and ``readlink`` at that directory, an absolute target
starting again at the root, ``..`` never climbing above it, and each directory and the final file
opened with ``O_NOFOLLOW`` relative to its parent (a component swapped for a symlink meanwhile
makes the open fail; it is never followed). These are the semantics of Linux's ``openat2`` with
``RESOLVE_IN_ROOT``, without needing it. A chain of more than :data:`MAX_SYMLINKS` links (the
kernel's own limit) is an error naming the path, never a read.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections import deque

__all__ = ["MAX_SYMLINKS", "BlockedError", "NodeRoot"]

MAX_SYMLINKS = 40
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# Directories are walked through with O_PATH where there is one: like the kernel's own lookup, it needs
# search permission on the way, not read permission on each directory.
_WALK = getattr(os, "O_PATH", os.O_RDONLY) | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC
_DIRECTORY = _WALK | getattr(os, "O_NOFOLLOW", 0)
_LIST = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC
_FILE = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | os.O_RDONLY | _CLOEXEC


class BlockedError(PermissionError):
    """What this process may not read: ``filename`` is the directory it may not enter or list (when
    ``directory``), or the file it may not read."""

    def __init__(self, error: OSError, path: str, *, directory: bool) -> None:
        super().__init__(error.errno, error.strerror, path)
        self.directory = directory


def _components(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


class NodeRoot:
    """Resolve and open node paths (``/etc/kubernetes/admin.conf``) under ``root``.

    Methods raise ``OSError``: ``ENOENT``/``ENOTDIR`` for what is not there, ``ELOOP`` for a chain of
    links too long (its message names the node path), ``EACCES`` and the rest as the system says.
    """

    def __init__(self, root: str) -> None:
        if os.open not in os.supports_dir_fd or os.readlink not in os.supports_dir_fd:
            raise OSError(errno.ENOSYS, "reading a node root needs openat() and readlinkat()")
        self.root = root

    def path(self, node_path: str) -> str:
        """Where ``node_path`` is under the root, its links resolved inside the root (for messages and
        findings); components that do not exist are joined as written."""
        names, rest, fd = self._walk(node_path, keep_open=False)
        assert fd is None
        return os.path.join(self.root, *names, *rest)

    def open_file(self, node_path: str) -> tuple[int, str]:
        """An open descriptor of the regular file at ``node_path`` and where it is under the root.

        Anything but a regular file (a FIFO, a device, a socket) is ``EINVAL``: node configuration is
        in files, and a FIFO would block.
        """
        names, _, fd = self._walk(node_path, keep_open=True, last="file")
        assert fd is not None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OSError(errno.EINVAL, "not a regular file")
        return fd, os.path.join(self.root, *names)

    def list_directory(self, node_path: str) -> list[str]:
        """The names in the directory at ``node_path``."""
        _, _, fd = self._walk(node_path, keep_open=True, last="directory")
        assert fd is not None
        try:
            return os.listdir(fd)
        finally:
            os.close(fd)

    def is_file(self, node_path: str) -> bool:
        try:
            fd, _ = self.open_file(node_path)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise
            return False
        os.close(fd)
        return True

    def is_directory(self, node_path: str) -> bool:
        try:
            _, _, fd = self._walk(node_path, keep_open=True, last="path")
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise
            return False
        assert fd is not None
        os.close(fd)
        return True

    def _walk(
        self, node_path: str, *, keep_open: bool, last: str = "directory"
    ) -> tuple[list[str], list[str], int | None]:
        """Resolve ``node_path`` from the root: ``(resolved names, names left unresolved, fd)``.

        With ``keep_open`` the final component is opened (as ``last``: a ``file`` to read, a
        ``directory`` to list, a directory's ``path``) and every component must exist; without,
        components that do not exist are kept as written (``..`` after them undoing them) and
        returned second.
        """
        walk = _Walk(self.root, node_path)
        try:
            while walk.parts:
                part = walk.parts.popleft()
                if part == "..":
                    walk.up()
                    continue
                if walk.missing:
                    walk.missing.append(part)
                    continue
                try:
                    status = os.stat(part, dir_fd=walk.directory, follow_symlinks=False)
                except PermissionError as e:
                    raise BlockedError(e, walk.here(), directory=True) from None
                except OSError as e:
                    if keep_open or e.errno not in (errno.ENOENT, errno.ENOTDIR):
                        raise
                    walk.missing.append(part)
                    continue
                if stat.S_ISLNK(status.st_mode):
                    walk.follow(os.readlink(part, dir_fd=walk.directory))
                    continue
                final = not walk.parts
                if final and not keep_open:
                    walk.names.append(part)
                elif final and last == "file":
                    walk.names.append(part)
                    try:
                        fd = os.open(part, _FILE, dir_fd=walk.directory)
                    except PermissionError as e:
                        raise BlockedError(e, walk.here(), directory=False) from None
                    return walk.names, [], fd
                elif stat.S_ISDIR(status.st_mode):
                    walk.enter(part)
                else:
                    raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            if not keep_open:
                return walk.names, walk.missing, None
            if last == "file":
                raise OSError(errno.EISDIR, os.strerror(errno.EISDIR))
            if last == "path":
                return walk.names, [], os.dup(walk.directory)
            try:
                return walk.names, [], os.open(".", _LIST, dir_fd=walk.directory)
            except PermissionError as e:
                raise BlockedError(e, walk.here(), directory=True) from None
        finally:
            walk.close()


class _Walk:
    """The state of one resolution: the open directories from the root down, their names, the links
    followed so far and the components still to resolve."""

    def __init__(self, root: str, node_path: str) -> None:
        self.root = root
        self.node_path = node_path
        self.parts = deque(_components(node_path))
        self.stack = [os.open(root, _WALK)]
        self.names: list[str] = []
        self.missing: list[str] = []
        self.hops = 0

    @property
    def directory(self) -> int:
        return self.stack[-1]

    def up(self) -> None:
        """``..``: undo a missing component, else leave the current directory (never the root)."""
        if self.missing:
            self.missing.pop()
        elif len(self.stack) > 1:
            os.close(self.stack.pop())
            self.names.pop()

    def here(self) -> str:
        """The directory reached, or the file named last, under the root."""
        return os.path.join(self.root, *self.names)

    def enter(self, name: str) -> None:
        self.names.append(name)
        try:
            self.stack.append(os.open(name, _DIRECTORY, dir_fd=self.directory))
        except PermissionError as e:
            raise BlockedError(e, self.here(), directory=True) from None

    def follow(self, target: str) -> None:
        """Resolve a link's target next; an absolute one from the root (the node's root is ours)."""
        self.hops += 1
        if self.hops > MAX_SYMLINKS:
            raise OSError(
                errno.ELOOP,
                f"more than {MAX_SYMLINKS} symbolic links in a chain resolving {self.node_path}"
                " inside the node root",
            )
        if target.startswith("/"):
            while len(self.stack) > 1:
                os.close(self.stack.pop())
            self.names.clear()
        self.parts.extendleft(reversed(_components(target)))

    def close(self) -> None:
        for fd in self.stack:
            os.close(fd)


def display(root: str, node_path: str) -> str:
    """``node_path`` joined under ``root`` as written (for a path that could not be resolved)."""
    return os.path.join(root, *[p for p in posixpath.normpath("/" + node_path).split("/") if p])
