"""Images are pinned by digest only from what the user gives: --digests FILE or an image scan report."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import IMAGE_REPORTS
from fix.helpers import fix, fix_write
from kharden.errors import InputError

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
    - name: web
      image: nginx:1.25.4   # the release
    - name: logs
      image: "fluent/fluent-bit:3.0"
    - name: cache
      image: redis
"""
NGINX = "sha256:" + "ab" * 32
RULES = ("image.not-pinned", "image.mutable-tag")


@pytest.fixture
def pod(tmp_path: Path) -> Path:
    path = tmp_path / "web.yaml"
    path.write_text(POD, encoding="utf-8")
    return path


def test_pinned_from_a_digests_file_and_a_scan_report(pod: Path, tmp_path: Path) -> None:
    digests = tmp_path / "digests.yaml"
    digests.write_text(f"docker.io/library/nginx:1.25.4: {NGINX}\n", encoding="utf-8")
    result = fix_write(
        [str(pod)],
        rules=RULES,
        digests=(str(digests),),
        image_reports=(str(IMAGE_REPORTS / "trivy-fluent-bit-3.0.json"),),
    )
    assert result.errors == []
    assert pod.read_text(encoding="utf-8") == POD.replace(
        "nginx:1.25.4   #", f"nginx:1.25.4@{NGINX}   #"
    ).replace(
        '"fluent/fluent-bit:3.0"',
        '"fluent/fluent-bit:3.0@sha256:791d7c3fb9a45b83a4088b56032d9d873664dd9e9a14e548c714ecc0b475b457"',
    )
    # redis (no tag, no digest given) is left as it is, and said so.
    assert {(s.rule, s.reason) for _, s in result.skipped} == {
        ("image.not-pinned", "no digest known for the image: give --digests FILE or --image-report FILE"),
        ("image.mutable-tag", "no digest known for the image: give --digests FILE or --image-report FILE"),
    }


def test_nothing_is_guessed_without_digests(pod: Path) -> None:
    result = fix([str(pod)], rules=RULES)
    assert [f for f in result.files if f.before != f.after] == []


def test_a_bad_digests_file_is_an_input_error(pod: Path, tmp_path: Path) -> None:
    digests = tmp_path / "digests.yaml"
    digests.write_text("nginx:1.25.4: latest\n", encoding="utf-8")
    with pytest.raises(InputError, match="not an image and a digest"):
        fix([str(pod)], rules=RULES, digests=(str(digests),))
