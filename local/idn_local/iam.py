"""IAM enforced locally: every function calls moto with the credentials of its own template role.

How it fits together (all in this process, where local mode and the tests run moto's server):

- `LocalIam.create_roles` creates each function's role (idn_local.iam_roles: what `sam deploy`
  would create, resolved to local ARNs) in moto's IAM and assumes it (`sts:AssumeRole`).
- `LocalFunction.invoke` runs the handler with its role's identity in a context variable
  (`CURRENT_IDENTITY`); threads a function starts inherit it (`carry_context_into_threads`).
- A botocore signing hook signs every request to this moto server with the caller's identity:
  the function's role credentials, or, outside any function, the local admin's (`local`).
- A moto hook checks every request signed by a function's role against the role's policies (moto's
  own policy evaluation, with the bridges of idn_local.iam_bridges), logs a denial on stderr with
  the function, the action and the resource, and records what each function used.

Everything else - local mode's own plumbing (creating resources, schedules, EventBridge delivery
inside moto), the tenant simulator, the tests' own checks and the operator tools - acts as the
account's administrator and is not checked. The SQS pollers use their function's role, as Lambda's
event source mapping does.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from idn_local import iam_bridges
from idn_local.iam_roles import FunctionRole, managed_policy_document
from idn_local.stack import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from botocore.credentials import Credentials

log = logging.getLogger("idn_local.iam")
ADMIN_KEY = (
    "local"  # what local mode, the simulator and the operator tools sign with (cli_support.EMULATOR_KEY)
)


@dataclass(frozen=True)
class Identity:
    """A function's role session on one moto server."""

    function: str
    role_arn: str
    endpoint: str  # host:port of the moto server the credentials belong to
    credentials: Credentials = field(repr=False)


@dataclass(frozen=True)
class Denial:
    function: str
    action: str
    resource: str


CURRENT_IDENTITY: contextvars.ContextVar[Identity | None] = contextvars.ContextVar(
    "idn_local_identity", default=None
)


class _Registry:
    """Process-wide: which moto servers enforce, whose keys are whose, what was used and denied."""

    def __init__(self) -> None:
        self.endpoints: set[str] = set()
        self.sessions: dict[str, str] = {}  # access key id -> function
        # (moto host:port, function) -> action -> resources
        self.used: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self.denials: list[Denial] = []
        self.lock = threading.Lock()


REGISTRY = _Registry()


def used_actions(endpoint_url: str | None = None) -> dict[str, dict[str, set[str]]]:
    """Per function, each action it was allowed, with the resources: recorded since the process
    began, on every moto server or only on `endpoint_url`'s (one local stack's)."""
    wanted = urlsplit(endpoint_url).netloc if endpoint_url else None
    found: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    with REGISTRY.lock:
        for (endpoint, function), actions in REGISTRY.used.items():
            if wanted is None or endpoint == wanted:
                for action, resources in actions.items():
                    found[function][action].update(resources)
    return {function: dict(actions) for function, actions in found.items()}


def denials() -> list[Denial]:
    with REGISTRY.lock:
        return list(REGISTRY.denials)


@contextmanager
def running_as(identity: Identity | None) -> Iterator[None]:
    """Run the block with `identity`'s credentials (None: no function, i.e. the admin)."""
    token = CURRENT_IDENTITY.set(identity)
    try:
        yield
    finally:
        CURRENT_IDENTITY.reset(token)


class LocalIam:
    """The roles of one local stack, in one moto server."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self.endpoint = urlsplit(endpoint_url).netloc
        self.role_names: dict[str, str] = {}  # function -> role name in moto
        install_hooks()

    def _iam(self) -> Any:
        import boto3

        return boto3.client("iam", endpoint_url=self.endpoint_url, region_name=REGION)

    def create_roles(self, roles: dict[str, FunctionRole], prefix: str) -> dict[str, Identity]:
        """Create each role with its policies (AWS managed ones inlined from moto's copy), assume it."""
        import boto3

        iam = self._iam()
        sts = boto3.client("sts", endpoint_url=self.endpoint_url, region_name=REGION)
        # The trust policy: in AWS, Lambda's service principal assumes the role; here local mode does.
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        identities = {}
        for function, role in roles.items():
            name = f"{prefix}-{role.role}"[:64]
            arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
            self.role_names[function] = name
            self._put_policies(name, role)
            issued = sts.assume_role(RoleArn=arn, RoleSessionName=function, DurationSeconds=43200)
            from botocore.credentials import Credentials

            keys = issued["Credentials"]
            identities[function] = Identity(
                function=function,
                role_arn=arn,
                endpoint=self.endpoint,
                credentials=Credentials(keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"]),
            )
            with REGISTRY.lock:
                REGISTRY.sessions[keys["AccessKeyId"]] = function
        with REGISTRY.lock:
            REGISTRY.endpoints.add(self.endpoint)
        log.info(
            "IAM enforced: %d functions run with their template roles; local mode's own plumbing, "
            "the tenant simulator and operator tools act as the account's admin (unchecked); "
            "the SQS pollers use their function's role, as Lambda's event source mapping does",
            len(identities),
        )
        return identities

    def _put_policies(self, name: str, role: FunctionRole) -> None:
        iam = self._iam()
        documents = dict(role.policies)
        for managed in role.managed_policy_arns:
            documents[f"aws-managed-{managed.rsplit('/', 1)[-1]}"] = managed_policy_document(managed)
        for stale in set(iam.list_role_policies(RoleName=name)["PolicyNames"]) - set(documents):
            iam.delete_role_policy(RoleName=name, PolicyName=stale)
        for policy_name, document in documents.items():
            # SAM writes no Version (IAM then assumes 2008-10-17, with the same meaning for these
            # statements); moto refuses a document without one.
            versioned = {"Version": "2012-10-17", **document}
            iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(versioned))

    def apply(self, roles: dict[str, FunctionRole]) -> None:
        """Replace the policies of running functions' roles (sessions see the change at once)."""
        for function, role in roles.items():
            self._put_policies(self.role_names[function], role)

    def close(self) -> None:
        with REGISTRY.lock:
            REGISTRY.endpoints.discard(self.endpoint)


# -- the hooks ---------------------------------------------------------------------------------------
_installed = threading.Lock()
_state = {"installed": False}


def install_hooks() -> None:
    """botocore signing, moto authorization and thread start: patched once per process."""
    with _installed:
        if _state["installed"]:
            return
        _hook_signing()
        _hook_moto()
        carry_context_into_threads()
        _state["installed"] = True


def _hook_signing() -> None:
    from botocore.signers import RequestSigner

    sign = RequestSigner.sign

    def sign_as_caller(self: Any, operation_name: str, request: Any, *args: Any, **kwargs: Any) -> Any:
        endpoint = urlsplit(request.url).netloc
        if endpoint in REGISTRY.endpoints:
            from botocore.credentials import Credentials

            identity = CURRENT_IDENTITY.get()
            credentials = (
                identity.credentials
                if identity is not None and identity.endpoint == endpoint
                else Credentials(ADMIN_KEY, ADMIN_KEY)
            )
            request.context.setdefault("signing", {})["request_credentials"] = credentials
        return sign(self, operation_name, request, *args, **kwargs)

    RequestSigner.sign = sign_as_caller  # type: ignore[method-assign]


def carry_context_into_threads() -> None:
    """A thread started inside a function runs in a copy of its context (its role, its log keys),
    as Python 3.14's `thread_inherit_context` does; other threads are left as they are."""
    start = threading.Thread.start

    def start_in_context(self: threading.Thread) -> None:
        if CURRENT_IDENTITY.get() is not None:
            context = contextvars.copy_context()
            run = self.run
            self.run = lambda: context.run(run)  # type: ignore[method-assign]
        start(self)

    threading.Thread.start = start_in_context  # type: ignore[method-assign]


def _hook_moto() -> None:
    from moto.core.authorization import ActionAuthenticatorMixin

    original = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        function = _session_function(self.headers)
        if function is None:  # not a function's role: the admin, or a server that does not enforce
            original(self, iam_request_cls, resource)
            return
        _check(self, iam_request_cls, resource, function)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize  # type: ignore[method-assign]


def _session_function(headers: Any) -> str | None:
    authorization = str(headers.get("Authorization") or "")
    key = authorization.partition("Credential=")[2].partition("/")[0]
    with REGISTRY.lock:
        return REGISTRY.sessions.get(key) if key else None


def _check(response: Any, iam_request_cls: type, resource: str, function: str) -> None:
    """moto's check of the request, with the bridges: the action AWS checks, the resource AWS
    checks (DynamoDB tables, secrets), and action-only evaluation where moto has no resource."""
    from urllib.parse import urlparse

    parsed = urlparse(response.uri)
    path = response.raw_path + (f"?{parsed.query}" if parsed.query else "")
    request = iam_request_cls(
        account_id=response.current_account,
        method=response.method,
        path=path,
        data=response.data,
        body=response.raw_body,
        headers=response.headers,
        action=response._get_action(),
    )
    request.check_signature()
    action = iam_bridges.iam_action(request._action)
    for target in _targets(response, action, resource):
        if not _permitted(request, action, target):
            _deny(response, request, function, action, target)
    endpoint = str(response.headers.get("Host", ""))
    with REGISTRY.lock:
        for target in _targets(response, action, resource):
            REGISTRY.used[(endpoint, function)][action].add(target)


def _targets(response: Any, action: str, resource: str) -> list[str]:
    service = action.partition(":")[0]
    if service == "dynamodb":
        body = _json_body(response)
        tables = iam_bridges.dynamodb_tables(body)
        account, region = response.current_account, response.region
        return [iam_bridges.dynamodb_table_arn(t, account, region) for t in tables] or [resource]
    if service == "secretsmanager":
        secret = iam_bridges.secret_id(_json_body(response))
        return [_secret_arn(secret, response.current_account, response.region)] if secret else [resource]
    return [resource]


def _json_body(response: Any) -> dict[str, Any]:
    try:
        body = json.loads(response.raw_body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _secret_arn(secret: str, account: str, region: str) -> str:
    """The ARN of a secret named by name or ARN (moto's ARNs carry a random suffix)."""
    from moto.secretsmanager.models import secretsmanager_backends

    try:
        return str(secretsmanager_backends[account][region].describe_secret(secret).arn)
    except Exception:  # no such secret: AWS would check the ARN the name implies
        return (
            secret
            if secret.startswith("arn:")
            else f"arn:aws:secretsmanager:{region}:{account}:secret:{secret}"
        )


def _permitted(request: Any, action: str, resource: str) -> bool:
    """moto's policy evaluation; for action-only services every statement's Resource counts as `*`."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    allowed = False
    for policy in request._access_key.collect_policies():
        document = _document(policy)
        if iam_bridges.action_only(action):
            document = _any_resource(document)
        result = IAMPolicy(json.dumps(document)).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return False
        allowed = allowed or result == PermissionResult.PERMITTED
    return allowed


def _document(policy: Any) -> dict[str, Any]:
    if isinstance(policy, str):
        return dict(json.loads(policy))
    if isinstance(policy, dict):
        return dict(json.loads(policy["policy_document"]))
    default = next(v for v in policy.versions if v.is_default)
    return dict(json.loads(default.document))


def _any_resource(document: dict[str, Any]) -> dict[str, Any]:
    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    return {**document, "Statement": [{**s, "Resource": "*"} for s in statements if "Resource" in s]}


def _deny(response: Any, request: Any, function: str, action: str, resource: str) -> None:
    """Log, record and refuse: the message names the role, the action and the resource, as AWS's does."""
    with REGISTRY.lock:
        REGISTRY.denials.append(Denial(function, action, resource))
    log.error(
        "IAM DENIED: %s may not %s on %s - grant it in the function's Policies in template.yaml",
        function,
        action,
        resource,
    )
    message = (
        f"User: {request._access_key.arn} is not authorized to perform: {action} on resource: {resource} "
        "because no identity-based policy allows the action (local mode: IAM enforced)"
    )
    if action.startswith("s3:"):
        from moto.s3.exceptions import S3ClientError

        raise S3ClientError("AccessDenied", message)
    from moto.core.exceptions import AccessDeniedError, JsonRESTError

    if response.headers.get("X-Amz-Target"):  # JSON protocols: a JSON error boto3 can read
        error = JsonRESTError("AccessDeniedException", message)
        error.code = 403
        raise error
    raise AccessDeniedError(user_arn=request._access_key.arn, action=f"{action} on resource: {resource}")
