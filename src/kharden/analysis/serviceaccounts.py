"""Which ServiceAccount each workload runs as, and whether its token is mounted.

- A pod runs as ``serviceAccountName``, else the deprecated ``serviceAccount`` (the API server
  copies one to the other), else its namespace's ``default`` ServiceAccount.
- The token is mounted unless ``automountServiceAccountToken: false`` is set on the pod, or on the
  ServiceAccount while the pod does not set it: the pod's value wins.
  https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#opt-out-of-api-credential-automounting
- Static pods (:func:`.staticpods.is_static_pod`: read from a node, mirror pods, control-plane
  static pods of a manifest file) run without a ServiceAccount: "the spec of a static Pod cannot
  refer to other API objects (e.g., ServiceAccount, ConfigMap, Secret)", the ServiceAccount
  admission plugin leaves mirror pods alone, and no token is mounted. They are no workload of any
  ServiceAccount.
  https://kubernetes.io/docs/tasks/configure-pod-container/static-pod/
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import InputError
from ..model import Obj
from .podspec import EffectivePod, Field, FieldReader
from .rbac import Subject
from .staticpods import is_static_pod

__all__ = ["DEFAULT", "ServiceAccounts", "WorkloadAccount"]

DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class WorkloadAccount:
    """A workload, the ServiceAccount it runs as, and where that was decided."""

    pod: EffectivePod
    account: Subject
    field: Field[str]
    """The pod's ``serviceAccountName`` (or legacy ``serviceAccount``); unset means ``default``."""
    account_obj: Obj | None
    """The ServiceAccount object, when the scan has it."""
    account_automount: Field[bool] | None
    """The ServiceAccount's own ``automountServiceAccountToken`` (a pointer into ``account_obj``)."""

    @property
    def uses_default(self) -> bool:
        return self.account.name == DEFAULT

    @property
    def token_mounted(self) -> bool:
        if self.pod.automount_token.is_set:
            return self.pod.automount_token.value is not False
        return self.account_automount is None or self.account_automount.value is not False


class ServiceAccounts:
    """The ServiceAccount of every workload of a scan, and the workloads of every ServiceAccount."""

    def __init__(self, objects: Iterable[Obj], pods: Iterable[EffectivePod]) -> None:
        self.errors: list[InputError] = []
        self.accounts: dict[Subject, tuple[Obj, Field[bool]]] = {}
        for obj in objects:
            if obj.ref.kind != "ServiceAccount" or obj.ref.group != "" or obj.ref.namespace is None:
                continue
            try:
                automount = FieldReader(obj).boolean(obj.raw, "", "automountServiceAccountToken", "account")
            except InputError as e:
                self.errors.append(e)
                continue
            self.accounts.setdefault(
                Subject.service_account(obj.ref.namespace, obj.ref.name), (obj, automount)
            )
        self.workloads: list[WorkloadAccount] = []
        self.by_account: dict[Subject, list[WorkloadAccount]] = {}
        for pod in pods:
            if is_static_pod(pod.obj):
                continue
            namespace = pod.obj.ref.namespace or DEFAULT
            subject = Subject.service_account(namespace, pod.service_account.value or DEFAULT)
            found = self.accounts.get(subject)
            workload = WorkloadAccount(
                pod, subject, pod.service_account, found[0] if found else None, found[1] if found else None
            )
            self.workloads.append(workload)
            self.by_account.setdefault(subject, []).append(workload)
