"""encryption.plaintext-secret-env: secret-looking names with literal values, never printing the value."""

from __future__ import annotations

import json

import pytest

from conftest import MINIMAL_POD, fired, mutate, scan_objects
from kharden.report import json as json_report
from kharden.report import text as text_report
from kharden.rules.encryption import looks_secret

ENV = "/spec/containers/0/env"


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("DB_PASSWORD", True),
        ("MYSQL_ROOT_PASSWORD", True),
        ("PASSWORD", True),
        ("DB_PASS", True),
        ("DB_PWD", True),
        ("DBPASSWORD", True),
        ("API_KEY", True),
        ("APIKEY", True),
        ("apiKey", True),
        ("ENCRYPTION_KEY", True),
        ("SECRET_KEY_BASE", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("JWT_SECRET", True),
        ("JWT_SECRET_B64", True),
        ("CLIENT_SECRET", True),
        ("GITHUB_TOKEN", True),
        ("accessToken", True),
        ("DB_CREDENTIALS", True),
        ("SMTP_PASSWORD_2", True),
        ("KEY", True),
        ("TOKEN_TTL", False),
        ("TOKEN_URL", False),
        ("CACHE_KEY_PREFIX", False),
        ("CACHE_KEY", False),
        ("SORT_KEY", False),
        ("PUBLIC_KEY", False),
        ("AWS_ACCESS_KEY_ID", False),
        ("SECRET_NAME", False),
        ("PASSWORD_FILE", False),
        ("CREDENTIALS_PATH", False),
        ("PWD", False),
        ("MONKEY", False),
        ("KEYCLOAK_URL", False),
        ("BYPASS_CACHE", False),
        ("LOG_LEVEL", False),
    ],
)
def test_looks_secret(name: str, secret: bool) -> None:
    assert looks_secret(name) is secret


@pytest.mark.parametrize(
    ("variable", "fires"),
    [
        ({"name": "DB_PASSWORD", "value": "hunter2"}, True),
        ({"name": "API_TOKEN", "value": 12345}, True),
        ({"name": "DB_PASSWORD", "value": ""}, False),
        ({"name": "DB_PASSWORD", "value": "$(VAULT_DB_PASSWORD)"}, False),
        ({"name": "REGISTRY_CREDENTIALS", "value": "$(REGISTRY_USER):$(REGISTRY_PASSWORD)"}, False),
        ({"name": "DB_PASSWORD", "value": "prefix-$(SUFFIX)"}, True),
        ({"name": "DB_PASSWORD", "value": "$$(NOT_A_REFERENCE)"}, True),
        ({"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}, False),
        ({"name": "TOKEN_TTL", "value": "3600"}, False),
        ({"name": "CACHE_KEY_PREFIX", "value": "shop:"}, False),
    ],
)
def test_plaintext_secret_env(variable: dict[str, object], fires: bool) -> None:
    pod = mutate(MINIMAL_POD, (ENV + "/-", variable))
    path = ENV + "/2/value"
    assert fired("encryption.plaintext-secret-env", pod) == ([(path, "app")] if fires else [])


def test_init_container_env() -> None:
    pod = mutate(MINIMAL_POD, ("/spec/initContainers/0/env", [{"name": "ADMIN_PASSWORD", "value": "x1"}]))
    assert fired("encryption.plaintext-secret-env", pod) == [("/spec/initContainers/0/env/0/value", "init")]


def test_value_never_printed() -> None:
    secret = "s3cr3t-Value-That-Must-Not-Leak"
    pod = mutate(MINIMAL_POD, (ENV + "/-", {"name": "STRIPE_API_KEY", "value": secret}))
    report = scan_objects(pod)
    assert [f.rule for f in report.findings if f.section == "encryption"] == [
        "encryption.plaintext-secret-env"
    ]
    rendered = (
        json_report.render(report) + text_report.render(report, color=True) + text_report.render(report)
    )
    assert "STRIPE_API_KEY" in rendered
    assert secret not in rendered
    assert secret not in json.dumps(json.loads(json_report.render(report)))
