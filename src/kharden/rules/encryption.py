"""Checklist section E: encryption and secrets."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..analysis.podspec import EffectivePod
from ..model import Hit, Severity
from ._podcheck import who
from ._ruleset import RuleSet

rules = RuleSet("encryption")

# Words that make a variable a secret when its name ends with them (after qualifiers such as _B64).
SECRET_WORDS = frozenset(
    {"password", "passwd", "pass", "passphrase", "secret", "token", "credential", "credentials", "apikey"}
)
# The same words glued to a prefix, as in DBPASSWORD or APITOKEN (but not 'monkey').
SECRET_SUFFIXES = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "credentials",
    "credential",
)
# 'key' is a secret (API_KEY, SIGNING_KEY) unless it names a key of data (CACHE_KEY, SORT_KEY).
DATA_KEY_WORDS = frozenset(
    {
        "cache", "sort", "partition", "routing", "primary", "foreign", "public", "lock", "hash", "range",
        "object", "s3", "label", "metric", "index", "lookup", "idempotency", "dedup", "shard", "tenant",
        "queue", "topic", "stream", "config", "feature", "field", "column", "table", "map", "header",
        "param", "query", "cursor", "group", "node", "item", "row", "file", "bucket", "prefix", "id",
    }
)  # fmt: skip
# Words after the secret that only say how it is written: SECRET_KEY_BASE, API_TOKEN_B64, DB_PASSWORD_2.
QUALIFIERS = frozenset(
    {"b64", "base64", "hex", "raw", "value", "base", "plain", "plaintext", "str", "string"}
)
_WORD = re.compile(r"[A-Z]+[0-9]*(?![a-z])|[A-Z]?[a-z]+[0-9]*|[0-9]+")


def name_words(name: str) -> list[str]:
    """``DB_PASSWORD`` and ``dbPassword`` are ``['db', 'password']``."""
    return [w.lower() for w in _WORD.findall(name)]


def looks_secret(name: str) -> bool:
    """Whether an environment variable's name says it holds a secret.

    The secret word must end the name (``TOKEN_TTL`` and ``CACHE_KEY_PREFIX`` are settings about secrets,
    not secrets), qualifiers and numbers aside.
    """
    words = name_words(name)
    while words and (words[-1] in QUALIFIERS or words[-1].isdigit()):
        words.pop()
    if not words:
        return False
    last = words[-1]
    if last == "pwd":
        return len(words) > 1  # PWD alone is the shell's working directory
    if last == "key":
        return len(words) == 1 or words[-2] not in DATA_KEY_WORDS
    if last in SECRET_WORDS:
        return True
    return last.endswith(SECRET_SUFFIXES)


@rules.pod(
    "encryption.plaintext-secret-env",
    Severity.HIGH,
    title="Secret in a plain environment variable",
    remediation=(
        "move the value into a Secret and use env[].valueFrom.secretKeyRef (or mount the Secret as a file)"
    ),
    references=(
        "https://kubernetes.io/docs/concepts/configuration/secret/#using-secrets-as-environment-variables",
    ),
)
def plaintext_secret_env(pod: EffectivePod) -> Iterator[Hit]:
    """Fires when a container environment variable whose name says it holds a secret (ends with password,
    token, secret, key, credential, ...) has a literal value instead of a secretKeyRef; the value is
    never shown.

    A literal value lives in the manifest, its Git history, every rendered copy, the object in etcd
    (unencrypted, unlike Secrets when encryption at rest is on) and the output of ``kubectl get -o
    yaml`` for anyone who may read the workload.

    Reads: env[*].name and env[*].value of every container, initContainer and ephemeralContainer (not
    envFrom, and not values that only reference another variable as $(NAME)).
    """
    for container in pod.containers:
        for variable in container.env:
            if variable.literal and looks_secret(variable.name):
                yield container.hit(
                    variable.path,
                    f"{who([container])} sets {variable.name!r} to a literal value in the manifest",
                )
