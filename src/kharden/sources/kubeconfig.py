"""Which cluster to read and with which credentials, resolved as kubectl resolves them.

The order is client-go's (``clientcmd`` loading rules):

1. ``--kubeconfig FILE``: that file alone (it must exist);
2. ``KUBECONFIG``: the files it lists (separated by ``os.pathsep``), merged; missing files are
   skipped; for each cluster, user and context name, and for ``current-context``, the first
   file that sets it wins;
3. ``~/.kube/config``;
4. in a pod, when no kubeconfig file exists: the pod's service account (its token file, read
   again when it rotates, and CA) and ``KUBERNETES_SERVICE_HOST``/``PORT``.

Relative file paths in a kubeconfig (certificate-authority, client-certificate, client-key,
tokenFile, an exec command with a ``/``) are relative to the file that names them.
``--context`` picks another context than ``current-context``.

https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightkube.config.kubeconfig import KubeConfig, SingleConfig
from lightkube.config.models import Cluster, User
from lightkube.core.exceptions import ConfigError as LightkubeConfigError

from .._display import without_userinfo
from .._files import read_yaml
from ..errors import ClusterError, InputError
from .credentials import inline_files, read_credential_file

__all__ = ["SERVICE_ACCOUNT_DIR", "Target", "resolve"]

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
IN_CLUSTER = "in-cluster"
MAX_KUBECONFIG_BYTES = 16 * 1024 * 1024

_BODIES = {"clusters": "cluster", "contexts": "context", "users": "user"}
# Fields holding file paths, per section of the kubeconfig.
_PATH_FIELDS = {
    "clusters": ("cluster", ("certificate-authority",)),
    "users": ("user", ("client-certificate", "client-key", "tokenFile")),
}


@dataclass(frozen=True)
class Target:
    """A cluster to read: the context's name, the server URL and lightkube's connection config.

    ``server`` is for messages and reports: a user and password written in the URL are replaced by
    ``***`` (the connection uses ``config``).
    """

    context: str
    server: str
    config: SingleConfig
    proxy: str | None = None


def resolve(
    kubeconfig: str | None = None,
    context: str | None = None,
    *,
    service_account_dir: str | None = None,
) -> Target:
    """The cluster and credentials to use; :class:`ClusterError` names what is missing or wrong."""
    env = os.environ
    service_account_dir = service_account_dir or SERVICE_ACCOUNT_DIR
    if kubeconfig is not None:
        if not os.path.exists(kubeconfig):
            raise ClusterError(f"kubeconfig {kubeconfig}: no such file")
        files = [kubeconfig]
    elif env.get("KUBECONFIG"):
        files = [f for f in env["KUBECONFIG"].split(os.pathsep) if f and os.path.exists(f)]
        if not files:
            raise ClusterError(f"none of the files in KUBECONFIG exists ({env['KUBECONFIG']})")
    else:
        default = os.path.join(env.get("HOME") or str(Path.home()), ".kube", "config")
        files = [default] if os.path.isfile(default) else []
    if not files:
        if env.get("KUBERNETES_SERVICE_HOST") and os.path.isdir(service_account_dir):
            if context is not None:
                raise ClusterError(
                    f"--context {context!r}: there is no kubeconfig, only the pod's service account"
                )
            return _in_cluster(service_account_dir)
        raise ClusterError(
            "no kubeconfig: give --kubeconfig FILE, set KUBECONFIG, or create ~/.kube/config"
            " (in a pod, kharden uses its service account)"
        )
    return _from_files(files, context)


def _from_files(files: list[str], context: str | None) -> Target:
    merged: dict[str, Any] = {"clusters": [], "contexts": [], "users": []}
    seen: dict[str, set[str]] = {section: set() for section in merged}
    for file in files:
        conf = _load(file)
        if merged.get("current-context") is None and isinstance(conf.get("current-context"), str):
            merged["current-context"] = conf["current-context"] or None
        for section in ("clusters", "contexts", "users"):
            entries = conf.get(section) or []
            if not isinstance(entries, list):
                raise ClusterError(f"kubeconfig {file}: {section} must be a list")
            for entry in entries:
                if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
                    raise ClusterError(f"kubeconfig {file}: every entry of {section} needs a name")
                body = entry.get(_BODIES[section])
                if body is not None and not isinstance(body, Mapping):
                    what = f"{section} entry {entry['name']!r}: {_BODIES[section]}"
                    raise ClusterError(f"kubeconfig {file}: {what} must be a mapping")
                if entry["name"] in seen[section]:
                    continue
                seen[section].add(entry["name"])
                merged[section].append(_absolute_paths(section, entry, Path(file).parent))
    name = context or merged.get("current-context")
    if not name:
        raise ClusterError(f"kubeconfig {', '.join(files)}: no current-context; choose one with --context")
    contexts = {c["name"]: c.get("context") or {} for c in merged["contexts"]}
    if name not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        raise ClusterError(f"kubeconfig: no context {name!r} (contexts: {known})")
    cluster_name = contexts[name].get("cluster")
    clusters = {c["name"]: c.get("cluster") or {} for c in merged["clusters"]}
    if not isinstance(cluster_name, str) or cluster_name not in clusters:
        raise ClusterError(
            f"kubeconfig: context {name!r} names cluster {cluster_name!r}, which is not defined"
        )
    user_name = contexts[name].get("user")
    if user_name and (
        not isinstance(user_name, str) or user_name not in {u["name"] for u in merged["users"]}
    ):
        raise ClusterError(f"kubeconfig: context {name!r} names user {user_name!r}, not defined")
    cluster = clusters[cluster_name]
    try:
        single = KubeConfig.from_dict(merged).get(name)
    except (LightkubeConfigError, TypeError, ValueError, KeyError) as e:
        raise ClusterError(f"kubeconfig: context {name!r}: {e}") from e
    if single is None:  # pragma: no cover - get() with a name never returns None
        raise ClusterError(f"kubeconfig: no context {name!r}")
    if single.user is None:
        single = single._replace(user=User())
    if single.user is not None and single.user.auth_provider is not None:
        raise ClusterError(
            f"kubeconfig: user {user_name!r} uses an auth-provider, which kubectl no longer supports either;"
            " use an exec credential plugin (client.authentication.k8s.io)"
        )
    proxy = cluster.get("proxy-url")
    single = inline_files(single, f"kubeconfig: context {name!r}")
    return Target(
        name, without_userinfo(single.cluster.server), single, proxy if isinstance(proxy, str) else None
    )


def _load(file: str) -> dict[str, Any]:
    """The first document of a kubeconfig file, through the guarded loader (bounded, no alias bomb)."""
    try:
        documents = read_yaml(file, MAX_KUBECONFIG_BYTES, "kubeconfig")
    except InputError as e:
        raise ClusterError(f"kubeconfig {e}") from e
    if not documents:
        return {}
    conf = documents[0].data
    if not isinstance(conf, dict):
        raise ClusterError(f"kubeconfig {file}: not a kubeconfig (a mapping with clusters, contexts, users)")
    return conf


def _absolute_paths(section: str, entry: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """``entry`` with the relative file paths it names made relative to ``base``."""
    result = dict(entry)
    if section not in _PATH_FIELDS:
        return result
    key, fields = _PATH_FIELDS[section]
    body = dict(entry.get(key) or {})
    for name in fields:
        value = body.get(name)
        if isinstance(value, str) and value and not os.path.isabs(value):
            body[name] = str(base / value)
    exec_spec = body.get("exec") if section == "users" else None
    command = exec_spec.get("command") if isinstance(exec_spec, Mapping) else None
    if isinstance(command, str) and "/" in command and not os.path.isabs(command):
        body["exec"] = {**body["exec"], "command": str(base / command)}
    result[key] = body
    return result


def _in_cluster(directory: str) -> Target:
    """The pod's service account, as client-go's InClusterConfig reads it (its files bounded)."""
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST", ""), os.environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise ClusterError(
            "in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set"
        )
    where = "in-cluster configuration:"
    token = read_credential_file(os.path.join(directory, "token"), where).decode("utf-8", "replace").strip()
    ca = read_credential_file(os.path.join(directory, "ca.crt"), where)
    server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    cluster = Cluster(server=server, certificate_auth_data=base64.b64encode(ca).decode("ascii"))
    single = KubeConfig.from_one(cluster=cluster, user=User(token=token)).get()
    if single is None:  # pragma: no cover - from_one always sets a context
        raise ClusterError("in-cluster configuration: no context")
    return Target(IN_CLUSTER, without_userinfo(server), single)
