"""Command lines as Kubernetes components parse them (spf13/pflag, and Go's ``flag`` for etcd).

Shared by the node source (which must know the files a component's flags point to) and the
control-plane analysis (which judges the flags). The parsing rules are pflag's:

- ``--flag=value`` and ``--flag value``; a single dash (``-flag``) is accepted too, as Go's
  ``flag`` package (etcd) does; ``--`` ends the flags;
- a boolean flag takes no separate value: ``--profiling false`` sets profiling to true and leaves
  ``false`` as a positional argument; ``--profiling=false`` is how a boolean is turned off;
- a non-boolean flag takes the next argument as its value whatever it looks like;
- a repeated flag: the last value wins for scalars; list flags (``--enable-admission-plugins``)
  append each occurrence's comma-separated items (pflag's stringSlice).

kharden does not know every flag of every component. A flag it does not know takes the next
argument as its value only when that argument does not start with ``-``.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "BOOLEAN_FLAGS",
    "K3S_BOOLEAN_FLAGS",
    "K3S_ENCRYPTION_CONFIG",
    "Arg",
    "component_args",
    "parse_args",
    "split_words",
]

# Boolean flags of kube-apiserver, etcd, kube-scheduler, kube-controller-manager and the kubelet
# (``--help`` of Kubernetes 1.33 and etcd 3.5). A flag not listed takes a value.
BOOLEAN_FLAGS = frozenset(
    {
        # shared (component-base, klog)
        "profiling", "contention-profiling", "logtostderr", "alsologtostderr", "add-dir-header",
        "one-output", "skip-headers", "skip-log-headers", "help", "version", "leader-elect",
        "enable-logs-handler", "permit-port-sharing", "permit-address-sharing",
        # kube-apiserver
        "anonymous-auth", "allow-privileged", "enable-bootstrap-token-auth", "enable-aggregator-routing",
        "enable-priority-and-fairness", "encryption-provider-config-automatic-reload",
        "enable-garbage-collector",
        "service-account-lookup", "audit-log-compress", "kubelet-https", "watch-cache",
        "insecure-skip-tls-verify",
        "enable-swagger-ui", "storage-media-type-any", "authentication-token-webhook",
        "service-account-extend-token-expiration",
        "aggregator-reject-forwarding-redirect", "audit-log-truncate-enabled",
        "audit-webhook-truncate-enabled",
        # etcd
        "client-cert-auth", "peer-client-cert-auth", "auto-tls", "peer-auto-tls", "enable-pprof", "debug",
        "strict-reconfig-check", "force-new-cluster", "enable-v2", "enable-grpc-gateway", "log-rotation",
        "experimental-initial-corrupt-check", "experimental-enable-distributed-tracing",
        "unsafe-no-fsync", "socket-reuse-port", "socket-reuse-address", "pre-vote",
        # kube-scheduler, kube-controller-manager
        "use-service-account-credentials", "allocate-node-cidrs", "configure-cloud-routes",
        "enable-dynamic-provisioning", "enable-hostpath-provisioner", "enable-taint-manager",
        "authentication-skip-lookup", "authentication-tolerate-lookup-failure",
        # kubelet
        "fail-swap-on", "protect-kernel-defaults", "rotate-certificates", "rotate-server-certificates",
        "serialize-image-pulls", "make-iptables-util-chains", "register-node", "register-schedulable",
        "enable-server", "enable-debugging-handlers", "cgroups-per-qos", "kernel-memcg-notification",
        "exit-on-lock-contention", "enable-controller-attach-detach", "keep-terminated-pod-volumes",
        "cpu-cfs-quota", "enable-load-reader", "experimental-check-node-capabilities-before-mount",
        "runonce", "seccomp-default", "local-storage-capacity-isolation",
    }
)  # fmt: skip


# Boolean flags of `k3s server` / `rke2 server` (and their agents): they never take the next word.
K3S_BOOLEAN_FLAGS = frozenset(
    {
        "cluster-init", "cluster-reset", "secrets-encryption", "disable-network-policy",
        "disable-helm-controller", "disable-kube-proxy", "disable-cloud-controller", "disable-scheduler",
        "disable-apiserver", "disable-controller-manager", "disable-etcd", "disable-apiserver-lb",
        "embedded-registry", "supervisor-metrics", "protect-kernel-defaults", "selinux", "rootless",
        "prefer-bundled-bin", "docker", "flannel-ipv6-masq", "flannel-external-ip", "enable-pprof",
        "debug", "etcd-expose-metrics", "etcd-disable-snapshots", "etcd-s3", "etcd-s3-insecure",
        "etcd-s3-skip-ssl-verify", "disable-default-registry-endpoint", "with-node-id", "help", "version",
    }
)  # fmt: skip
# The EncryptionConfiguration k3s and RKE2 write and pass to kube-apiserver with secrets-encryption.
K3S_ENCRYPTION_CONFIG = "/var/lib/rancher/{}/server/cred/encryption-config.json"


@dataclass(frozen=True, slots=True)
class Arg:
    """One flag as written: ``--name=value``, ``--name value`` or a bare boolean ``--name``.

    ``index`` is the position of the flag's token in the argument list (for ``--name value``
    that of ``--name``); ``value`` is ``None`` for a bare flag.
    """

    name: str
    value: str | None
    index: int

    @property
    def text(self) -> str:
        """The flag as it would be written, ``--name=value``."""
        return f"--{self.name}" if self.value is None else f"--{self.name}={self.value}"


def parse_args(args: Sequence[str], booleans: frozenset[str] = BOOLEAN_FLAGS) -> list[Arg]:
    """The flags of ``args`` (positional arguments are skipped), in order."""
    parsed: list[Arg] = []
    index = 0
    while index < len(args):
        word = args[index]
        if word == "--":
            break
        if not word.startswith("-") or word == "-":
            index += 1
            continue
        body = word[2:] if word.startswith("--") else word[1:]
        name, equals, value = body.partition("=")
        if equals:
            parsed.append(Arg(name, value, index))
            index += 1
            continue
        following = args[index + 1] if index + 1 < len(args) else None
        takes_value = name not in booleans and following is not None
        if takes_value and following is not None and following.startswith("-") and not _known(name):
            takes_value = False
        parsed.append(Arg(name, following if takes_value else None, index))
        index += 2 if takes_value else 1
    return parsed


def _known(name: str) -> bool:
    """Flags kharden knows take a value (so ``--flag -1`` gives it ``-1``, as pflag does)."""
    return name in _VALUE_FLAGS


# Flags whose value may start with '-' and that kharden reads: pflag gives them the next argument.
_VALUE_FLAGS = frozenset(
    {
        "insecure-port", "read-only-port", "audit-log-maxage", "audit-log-maxbackup", "audit-log-maxsize",
        "secure-port", "port",
    }
)  # fmt: skip

# Program names of the components, as the first word of a command or after a wrapper.
_PROGRAMS = {
    "kube-apiserver": "kube-apiserver",
    "apiserver": "kube-apiserver",
    "etcd": "etcd",
    "kube-scheduler": "kube-scheduler",
    "scheduler": "kube-scheduler",
    "kube-controller-manager": "kube-controller-manager",
    "controller-manager": "kube-controller-manager",
    "kubelet": "kubelet",
}


def component_args(command: Sequence[str], args: Sequence[str]) -> tuple[str, list[str], int] | None:
    """``(component, argv after the program, offset)`` of a container's command and args.

    The argv is what the container runs: ``command`` followed by ``args``. The component is the
    first word whose base name is a component's program (``/usr/local/bin/kube-apiserver``,
    ``hyperkube apiserver``). A shell wrapper (``sh -c "exec kube-apiserver ..."``) is split into
    words. ``offset`` is the index in ``command + args`` of the first word after the program, or
    ``-1`` when the words come from a shell string (they then have no list index of their own).
    """
    argv = [*command, *args]
    for position, word in enumerate(argv):
        name = word.rsplit("/", 1)[-1]
        if name in _PROGRAMS and (name not in {"apiserver", "scheduler", "controller-manager"} or position):
            return _PROGRAMS[name], argv[position + 1 :], position + 1
        if name in {"sh", "bash", "ash", "dash"} and position + 2 < len(argv) and argv[position + 1] == "-c":
            words = split_words(argv[position + 2])
            found = component_args(words, [])
            if found is not None:
                return found[0], found[1], -1
            return None
    return None


def split_words(text: str) -> list[str]:
    """Shell words of ``text`` (quotes honoured); unbalanced quotes fall back to whitespace."""
    try:
        return shlex.split(text, comments=False)
    except ValueError:
        return text.split()
