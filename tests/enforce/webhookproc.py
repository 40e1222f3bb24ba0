"""A running ``kharden admission webhook`` for the tests: its own process, HTTPS on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx2 as httpx

READY_LINE = "admission webhook listening on https://"


class Webhook:
    def __init__(self, cert: Path, key: str | Path, ca: Path, *args: str) -> None:
        self.ca = ca
        command = [sys.executable, "-m", "kharden", "admission", "webhook", "--tls-cert", str(cert)]
        command += ["--tls-key", str(key), "--host", "127.0.0.1", "--port", "0", *args]
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: list[str] = []
        self.port: int | None = None
        self._found = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._found.wait(30) or self.port is None:
            self.stop()
            raise AssertionError("the webhook did not start:\n" + self.logs)

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            if READY_LINE in line and self.port is None:
                self.port = int(line.rsplit(":", 1)[1].split("/", 1)[0])
                self._found.set()
        self._found.set()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def logs(self) -> str:
        return "".join(self.lines)

    def client(self, *cas: Path) -> httpx.Client:
        """A client that trusts ``cas`` (default: the CA of the webhook's first certificate)."""
        context = ssl.create_default_context(cafile=str((cas or (self.ca,))[0]))
        for ca in cas[1:]:
            context.load_verify_locations(cafile=str(ca))
        return httpx.Client(base_url=self.url, verify=context, trust_env=False, timeout=10)

    def review(self, obj: dict[str, Any] | None, **request: Any) -> dict[str, Any]:
        """Send one AdmissionReview about ``obj``; the ``response`` part of the answer."""
        with self.client() as client:
            answer = client.post("/validate", json=admission_review(obj, **request))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["apiVersion"] == "admission.k8s.io/v1"
        assert body["kind"] == "AdmissionReview"
        return dict(body["response"])

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._reader.join(5)
        return self.process.returncode

    def __enter__(self) -> Webhook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for_log(self, text: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.logs:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not logged:\n{self.logs}")
            time.sleep(0.05)


_RESOURCES = {
    "Pod": ("", "v1", "pods"),
    "Deployment": ("apps", "v1", "deployments"),
    "CronJob": ("batch", "v1", "cronjobs"),
    "Service": ("", "v1", "services"),
    "Namespace": ("", "v1", "namespaces"),
    "RoleBinding": ("rbac.authorization.k8s.io", "v1", "rolebindings"),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io", "v1", "clusterrolebindings"),
    "Secret": ("", "v1", "secrets"),
    "ConfigMap": ("", "v1", "configmaps"),
}


def admission_review(
    obj: dict[str, Any] | None,
    *,
    operation: str = "CREATE",
    old: dict[str, Any] | None = None,
    dry_run: bool = False,
    kind: str | None = None,
) -> dict[str, Any]:
    """An AdmissionReview as the API server sends it."""
    kind = kind or (obj or old or {})["kind"]
    group, version, resource = _RESOURCES[kind]
    metadata = (obj or old or {}).get("metadata", {})
    metadata = metadata if isinstance(metadata, dict) else {}
    request: dict[str, Any] = {
        "uid": str(uuid.uuid4()),
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "name": metadata.get("name", ""),
        "operation": operation,
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": obj,
        "oldObject": old,
        "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    }
    if isinstance(metadata.get("namespace"), str):
        request["namespace"] = metadata["namespace"]
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
