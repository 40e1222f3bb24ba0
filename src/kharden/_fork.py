"""Work done by a forked child while this process goes on, its result handed over through memory.

The ``kharden`` command uses two such children on two CPUs or more: one parses a share of the files while
the rules are imported (``sources/_ahead.py``), one counts the attack paths while the rules run
(``paths/findings.py``). Each writes its result, pickled, to an anonymous memory file and exits; this
process reads it when it needs it, or does the work itself when the child failed. Only the command forks
(:data:`enabled`, set by ``cli.run``): a program that imports kharden may hold threads, which a fork does
not take along.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import IO

__all__ = ["Child", "can_fork", "cpus", "enabled"]

enabled = False
"""This process is the ``kharden`` command, which may fork (``cli.run``)."""


def cpus() -> int:
    """The CPUs this process may run on (its affinity where the platform tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def can_fork() -> bool:
    """Whether a child may work beside this process: the command, on Linux (fork, memfd), two CPUs or more,
    and no thread running beside this one (a scan of a live cluster reads with threads: one that held a
    lock at the fork would hold it in the child forever)."""
    if not (enabled and sys.platform.startswith("linux") and cpus() >= 2):
        return False
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1


class Child:
    """A forked child that runs ``work`` on a writable memory file, then exits."""

    def __init__(self, work: Callable[[IO[bytes]], None]) -> None:
        self.fd = os.memfd_create("kharden", os.MFD_CLOEXEC)
        self.pid = os.fork()
        if self.pid == 0:
            _run(work, self.fd)  # never returns
        self._status: int | None = None

    def wait(self) -> bool:
        """Wait for the child to end; whether it ended well."""
        if self._status is None:
            try:
                self._status = os.waitpid(self.pid, 0)[1]
            except ChildProcessError:
                self._status = -1
        return self._status >= 0 and os.WIFEXITED(self._status) and os.WEXITSTATUS(self._status) == 0

    def output(self) -> IO[bytes] | None:
        """What the child wrote, from its start, once it has ended well; ``None`` if it failed. The stream
        must be closed before :meth:`close`."""
        if not self.wait():
            return None
        stream = os.fdopen(self.fd, "rb", closefd=False)
        stream.seek(0)  # the child's writes moved the offset it shares with this process
        return stream

    def close(self) -> None:
        """Wait for the child and free its memory file."""
        self.wait()
        os.close(self.fd)


def _run(work: Callable[[IO[bytes]], None], fd: int) -> None:
    code = 1
    try:
        import gc  # noqa: PLC0415 - the child's alone
        import signal  # noqa: PLC0415

        gc.disable()  # as in the command: what is built holds no cycles
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        # Nothing to read or say: and a reader of the parent's output waits for no child to close it.
        quiet = os.open(os.devnull, os.O_RDWR)
        for standard in (0, 1, 2):
            os.dup2(quiet, standard)
        with os.fdopen(fd, "wb", closefd=False) as out:
            work(out)
        code = 0
    finally:
        os._exit(code)  # no atexit handler, no flush of what the parent had buffered
