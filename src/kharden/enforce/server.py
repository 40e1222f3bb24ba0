"""Serving the webhook over HTTPS with uvicorn, and reloading the certificate when its files change.

cert-manager (or any rotation) replaces the files of the mounted Secret; every second the server
compares the files' identity (inode, size, modification time), loads a changed pair into a fresh TLS
context first (a half-written or mismatched pair is refused and the old certificate kept), then into
the context uvicorn serves with: connections opened afterwards get the new certificate, open ones keep
theirs. TLS 1.2 is the minimum.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Callable

from .webhook import Metrics, WebhookApp

__all__ = ["CertificateReloader", "serve"]

LOG = logging.getLogger("kharden.webhook")


class CertificateReloader:
    """Keeps ``context`` serving the certificate and key currently in the files."""

    def __init__(self, context: ssl.SSLContext, cert: str, key: str, metrics: Metrics) -> None:
        self.context = context
        self.cert = cert
        self.key = key
        self.metrics = metrics
        self.loaded = self._identity()

    def _identity(self) -> tuple[tuple[int, int, int], ...] | None:
        try:
            found = [os.stat(path) for path in (self.cert, self.key)]
        except OSError:
            return None
        return tuple((s.st_ino, s.st_size, s.st_mtime_ns) for s in found)

    def check(self) -> bool:
        """Reload when the files changed; whether a new certificate is now served."""
        identity = self._identity()
        if identity is None or identity == self.loaded:
            return False
        try:
            trial = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            trial.load_cert_chain(self.cert, self.key)
            self.context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as e:
            # Often a rotation caught half-way (the certificate written, not yet the key): tried again later.
            self.metrics.reloads.labels("failed").inc()
            LOG.warning("certificate %s not reloaded (kept the one served): %s", self.cert, e)
            return False
        self.loaded = identity
        self.metrics.reloads.labels("reloaded").inc()
        LOG.info("certificate %s reloaded", self.cert)
        return True

    async def watch(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.check()


def serve(
    app: WebhookApp,
    *,
    host: str,
    port: int,
    cert: str,
    key: str,
    reload_interval: float = 1.0,
    on_listening: Callable[[str, int], None] | None = None,
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM (graceful: requests in flight are answered)."""
    import uvicorn  # noqa: PLC0415

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=cert,
        ssl_keyfile=key,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    config.load()
    assert config.ssl is not None
    config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
    reloader = CertificateReloader(config.ssl, cert, key, app.metrics)
    server = uvicorn.Server(config)

    async def main() -> None:
        watcher = asyncio.create_task(reloader.watch(reload_interval))
        announcer = asyncio.create_task(_announce(server, on_listening))
        try:
            await server.serve()
        finally:
            watcher.cancel()
            announcer.cancel()

    asyncio.run(main())


async def _announce(server: object, on_listening: Callable[[str, int], None] | None) -> None:
    while not getattr(server, "started", False):
        await asyncio.sleep(0.02)
    for listener in getattr(server, "servers", []):
        for sock in listener.sockets:
            host, port = sock.getsockname()[:2]
            LOG.info("serving AdmissionReviews on https://%s:%d/validate", host, port)
            if on_listening is not None:
                on_listening(host, port)
