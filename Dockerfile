# syntax=docker/dockerfile:1
# kharden as a minimal, non-root image that runs with a read-only root filesystem.
#
#   docker build -t ghcr.io/kharden/kharden:0.1.0 .
#   docker run --rm --read-only --tmpfs /tmp -v ~/.kube:/kube:ro -e KUBECONFIG=/kube/config \
#       ghcr.io/kharden/kharden:0.1.0 scan --cluster
#
# Pin the base by digest in release builds: --build-arg PYTHON_IMAGE=python:3.12.8-slim-bookworm@sha256:...
ARG PYTHON_IMAGE=python:3.12.8-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG KUBECTL_VERSION=v1.32.4
ARG TARGETARCH=amd64
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN python -m venv /opt/kharden \
 && /opt/kharden/bin/pip install . \
 && /opt/kharden/bin/python -m compileall -q /opt/kharden
# kubectl for the in-cluster publish step (deploy/), verified against its published checksum.
RUN python - <<PY
import hashlib, urllib.request
base = "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/${TARGETARCH}/kubectl"
binary = urllib.request.urlopen(base, timeout=60).read()
expected = urllib.request.urlopen(base + ".sha256", timeout=60).read().decode().split()[0]
assert hashlib.sha256(binary).hexdigest() == expected, "kubectl checksum mismatch"
open("/kubectl", "wb").write(binary)
PY
RUN chmod 0755 /kubectl

FROM ${PYTHON_IMAGE}
COPY --from=build /opt/kharden /opt/kharden
COPY --from=build /kubectl /usr/local/bin/kubectl
# Nothing is written at run time but to /tmp (kubeconfig data, kubectl's cache): mount it as a tmpfs
# or an emptyDir and keep the root filesystem read-only.
ENV PATH=/opt/kharden/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    KUBECACHEDIR=/tmp/.kube/cache
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["kharden"]
CMD ["scan", "--cluster"]
