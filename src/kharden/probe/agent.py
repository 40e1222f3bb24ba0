"""The program the probe pods run: ``python3 -c <this file> '<json>'``. Standard library only.

It is shipped inside the pod spec (no image of kharden's own is needed: any image with
``python3`` will do, ``--image``) and talks to kharden only through its output, the pod's log:
one JSON object per line.

- ``{"mode": "listen", "ports": [5432], "token": "..."}``: accept TCP connections on each port
  (IPv4 and IPv6), answer each with the token and close; print ``{"event": "listening", ...}``
  once every port is bound, then run until the pod is deleted.
- ``{"mode": "probe", "delay": 2, "timeout": 3, "targets": [{"id": "p1", "host": "10.1.2.3",
  "port": 5432, "token": "..."}]}``: wait ``delay`` seconds (network plugins program the policies
  of a new pod asynchronously), connect to every target at once, and print one line per target:
  ``{"id": "p1", "result": "connected" | "refused" | "timeout" | "unreachable" | "error",
  "detail": "...", "ms": 12}``, then ``{"event": "done"}``. A target with a token counts as
  connected only when the listener answered with it: something else on that address is
  ``"other"``. Nothing is sent to a target, and nothing read from one without a token (the
  metadata API is only connected to, never asked).
"""

from __future__ import annotations

import errno
import json
import socket
import sys
import threading
import time
from typing import Any

BLOCKED = ("refused", "timeout", "unreachable")


def _print(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")
    sys.stdout.flush()


def connect(target: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Try one target; the result names what happened, never raises."""
    host, port, token = str(target["host"]), int(target["port"]), target.get("token")
    started = time.monotonic()
    result: dict[str, Any] = {"id": target["id"]}
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            result["result"] = "connected"
            if token:
                answer = _read_line(conn, timeout)
                if answer != token:
                    result["result"] = "other"
                    result["detail"] = "something else answered on this address" if answer else "no answer"
    except ConnectionRefusedError:
        result["result"] = "refused"
    except TimeoutError:  # socket.timeout: Python before 3.10 in the image
        result["result"] = "timeout"
    except OSError as e:
        code = e.errno
        unreachable = (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES, errno.EPERM)
        result["result"] = "unreachable" if code in unreachable else "error"
        result["detail"] = e.strerror or type(e).__name__
    result["ms"] = int((time.monotonic() - started) * 1000)
    return result


def _read_line(conn: socket.socket, timeout: float) -> str:
    conn.settimeout(timeout)
    data = b""
    try:
        while b"\n" not in data and len(data) < 256:
            chunk = conn.recv(256)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data.split(b"\n", 1)[0].decode("utf-8", "replace").strip()


def probe(spec: dict[str, Any]) -> None:
    time.sleep(float(spec.get("delay", 0)))
    timeout = float(spec.get("timeout", 3))
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def run(target: dict[str, Any]) -> None:
        found = connect(target, timeout)
        with lock:
            results.append(found)
            _print(found)

    threads = [threading.Thread(target=run, args=(t,), daemon=True) for t in spec.get("targets", [])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout * 3 + 5)
    _print({"event": "done", "results": len(results)})


def listen(spec: dict[str, Any]) -> None:
    token = (str(spec.get("token", "")) + "\n").encode()
    sockets = []
    for port in spec.get("ports", []):
        sockets.append(_bind(int(port)))
    _print({"event": "listening", "ports": spec.get("ports", [])})

    def serve(server: socket.socket) -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            try:
                conn.sendall(token)
            except OSError:
                pass
            finally:
                conn.close()

    threads = [threading.Thread(target=serve, args=(s,), daemon=True) for s in sockets]
    for thread in threads:
        thread.start()
    deadline = float(spec.get("lifetime", 3600))
    time.sleep(deadline)


def _bind(port: int) -> socket.socket:
    """A socket on every address of the pod: IPv6 and IPv4 when the pod has IPv6, else IPv4."""
    try:
        server = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("::", port))
    except OSError:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("0.0.0.0", port))  # noqa: S104 - a listener pod answers whoever the policies let in
    server.listen(64)
    return server


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: agent '<json spec>'\n")
        return 2
    spec = json.loads(argv[0])
    if spec.get("mode") == "listen":
        listen(spec)
    else:
        probe(spec)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
