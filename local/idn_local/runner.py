"""Local mode: the SAM application, moto's server and (by default) the tenant simulator, wired from
template.yaml and started on this machine with no AWS account.

    runner = LocalRunner(LocalOptions(port=0)).start()
    ... runner.api_url, runner.tenant_url, runner.inbound ...
    runner.stop()
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import SecretStr

from idn_local.functions import LocalFunction, load_functions
from idn_local.gateway_server import AdminActionRefused, ApiGateway, routes_for
from idn_local.iam import LocalIam
from idn_local.iam_roles import function_roles
from idn_local.resources import LocalResources, _boto, events_client
from idn_local.sources import ScheduleTimer, SqsPoller
from idn_local.stack import ACCOUNT_ID, REGION, Stack, load_template
from idn_triggers.event_buses import PartnerBuses, Route, rule_name
from idn_triggers.observability import keep_sdk_logs_free_of_secrets
from idn_triggers.sailpoint_api import SailPointClient
from idn_triggers.subscriptions import EventBridgeTarget
from idn_triggers.tokens import ClientCredentials, ClientCredentialsTokenProvider, TokenUnavailable

if TYPE_CHECKING:  # imported when started: moto and the simulator are slow to import
    from moto.server import ThreadedMotoServer

    from idn_simulator import TenantSimulator

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("idn_local")
LOOPBACK = ("127.0.0.1", "localhost", "::1")  # plain http only to a simulator on this machine


class LocalModeError(Exception):
    """Bad configuration or an environment problem; the message is the whole explanation."""


@dataclass(frozen=True)
class InboundAuth:
    """The credential SailPoint presents to the receiver: `none`, `basic:USER:PASS` or `bearer:TOKEN`."""

    type: str
    user: str | None = None
    secret: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, text: str | None) -> InboundAuth:
        if text is None:
            return cls("BEARER_TOKEN", secret=secrets.token_urlsafe(32))
        kind, _, rest = text.partition(":")
        if kind == "none" and not rest:
            return cls("NO_AUTH")
        if kind == "bearer" and rest:
            return cls("BEARER_TOKEN", secret=rest)
        user, _, password = rest.partition(":")
        if kind == "basic" and user and password:
            return cls("BASIC_AUTH", user=user, secret=password)
        raise LocalModeError("--auth must be none, basic:USER:PASSWORD or bearer:TOKEN")

    def secret_value(self) -> dict[str, str]:
        if self.type == "BEARER_TOKEN":
            return {"bearerToken": str(self.secret)}
        return {"userName": str(self.user), "password": str(self.secret)}


@dataclass
class LocalOptions:
    host: str = "127.0.0.1"
    port: int = 3000
    tenant_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    auth: InboundAuth = field(default_factory=lambda: InboundAuth.parse(None))
    simulator_port: int = 0
    template: Path = ROOT / "template.yaml"
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    token_lifetime: int = 749
    schedule_periods: dict[str, float] = field(default_factory=dict)  # function name -> seconds, for tests
    enforce_iam: bool = True  # each function runs with its template role, checked by moto (idn_local.iam)


class LocalRunner:
    """Starts everything in order and stops it in reverse; usable as a context manager."""

    def __init__(self, options: LocalOptions) -> None:
        self.options = options
        self.moto: ThreadedMotoServer | None = None
        self.simulator: TenantSimulator | None = None
        self.api: ApiGateway | None = None
        self.functions: dict[str, LocalFunction] = {}
        self.pollers: list[SqsPoller] = []
        self.timers: list[ScheduleTimer] = []
        self.stack: Stack | None = None
        self.iam: LocalIam | None = None
        self.tenant: SailPointClient | None = None
        self._saved_environ: dict[str, str] | None = None
        self.client_id = options.client_id or "local-client"
        self.client_secret = options.client_secret or secrets.token_urlsafe(24)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> LocalRunner:
        self._saved_environ = dict(os.environ)  # functions read the environment; give it back on stop
        keep_sdk_logs_free_of_secrets()  # local mode writes secrets too (credentials, client secret)
        try:
            self._bind_api()  # first: a busy port fails fast, and the stack needs the webhook URL
            self._start_aws()
            self._start_tenant()
            self._start_stack()
            self._start_api()
            self._start_event_sources()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        sources: list[ScheduleTimer | SqsPoller] = [*self.timers, *self.pollers]
        for source in sources:
            source.stop()
        self.timers, self.pollers = [], []
        if self.api is not None:
            self.api.stop()
            self.api = None
        if self.simulator is not None:
            self.simulator.stop()
            self.simulator = None
        if self.iam is not None:
            self.iam.close()
            self.iam = None
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
        if self._saved_environ is not None:
            os.environ.clear()
            os.environ.update(self._saved_environ)
            self._saved_environ = None

    def __enter__(self) -> LocalRunner:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- pieces ---------------------------------------------------------------------------
    def _start_aws(self) -> None:
        from idn_local import moto_bridges
        from idn_local.moto_server import LocalMotoServer

        moto_bridges.apply()  # partner event buses: see moto_bridges for what differs from AWS
        self.moto = LocalMotoServer(ip_address="127.0.0.1", port=0, verbose=False)  # no CORS, no browsers
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        # Everything boto3 does in this process goes to moto with throw-away credentials:
        # local mode must never touch a real AWS account, whatever the user's shell holds.
        for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            os.environ.pop(variable, None)
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": f"http://{host}:{port}",
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "POWERTOOLS_TRACE_DISABLED": "true",
            }
        )
        log.info("AWS services (moto) on %s", self.aws_endpoint)

    def _start_tenant(self) -> None:
        if self.options.tenant_url:
            if not (self.options.client_id and self.options.client_secret):
                raise LocalModeError(
                    "--tenant-url needs --client-id and the secret in SAILPOINT_CLIENT_SECRET "
                    "(or --client-secret-file)"
                )
            parts = urlsplit(self.options.tenant_url)
            if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
                raise LocalModeError(
                    "--tenant-url must be https:// (the client secret would travel in clear)"
                )
            self.tenant = self.sailpoint_client(self.options.tenant_url)
            try:
                self.tenant.tokens.token()  # fail now, in one line, if the tenant is wrong or unreachable
            except TokenUnavailable as error:
                raise LocalModeError(f"tenant {self.options.tenant_url}: {error}") from None
            log.info("SailPoint tenant %s", self.options.tenant_url)
            return
        from idn_simulator import SimulatorConfig, TenantSimulator

        config = SimulatorConfig(
            client_id=self.client_id,
            client_secret=self.client_secret,
            host="127.0.0.1",
            port=self.options.simulator_port,
            token_lifetime=self.options.token_lifetime,
            aws_endpoint_url=self.aws_endpoint,  # EVENTBRIDGE subscriptions deliver into moto
        )
        self.simulator = TenantSimulator(config).start()
        self.tenant = self.sailpoint_client(self.simulator.url)
        log.info("SailPoint tenant simulator on %s", self.simulator.url)

    def _start_stack(self) -> None:
        assert self.tenant is not None
        assert self.api is not None
        wired = {  # what local mode knows, for the parameters the template declares
            "InboundAuthType": self.options.auth.type,
            "TenantApiUrl": self.tenant.base_url,
            "SailPointClientId": self.client_id,
            "SailPointClientSecret": self.client_secret,
            "PublicWebhookBaseUrl": f"{self.api.url}/triggers/",
            "InboundSecretCacheSeconds": "2",  # local rotations need not wait a minute
            "WorkerBatchingWindowSeconds": "0",  # local mode answers at once; AWS gathers for 1 s by default
            "Transport": "BOTH",  # both paths locally (moto has partner buses); AWS defaults to HTTP
        }
        if self.options.auth.type == "NO_AUTH":
            wired["AllowUnauthenticated"] = "true"
        if self.tenant.base_url.startswith("http://"):
            wired["AllowHttpCallbacks"] = "true"  # the simulator speaks plain HTTP
        declared = load_template(self.options.template).get("Parameters", {})
        overrides = {key: value for key, value in wired.items() if key in declared}
        overrides.update(self.options.parameter_overrides)
        self.stack = Stack(self.options.template, overrides)
        LocalResources(self.stack, self.aws_endpoint).provision()
        self._store_inbound_credential()
        identities = None
        if self.options.enforce_iam:
            self.iam = LocalIam(self.aws_endpoint)
            identities = self.iam.create_roles(function_roles(self.stack), prefix=self.stack.stack_name)
        else:
            log.warning("IAM NOT ENFORCED (--no-iam): every function may call anything in moto")
        self.functions = load_functions(self.stack, {}, identities)

    def _store_inbound_credential(self) -> None:
        """Put the chosen credential in the secret the receiver reads (CloudFormation generated one)."""
        assert self.stack is not None
        receivers = [f for f in self.stack.functions() if "INBOUND_SECRET_ID" in f.environment]
        if not receivers or self.options.auth.type == "NO_AUTH":
            return
        secret_id = self.stack.resolve(receivers[0].environment["INBOUND_SECRET_ID"])
        if secret_id is None:  # Transport=EVENTBRIDGE: no inbound credential
            return
        _boto("secretsmanager", self.aws_endpoint).put_secret_value(
            SecretId=secret_id, SecretString=json.dumps(self.options.auth.secret_value())
        )

    def _bind_api(self) -> None:
        try:
            self.api = ApiGateway((self.options.host, self.options.port), [], "v1")
        except OSError as error:
            raise LocalModeError(
                f"cannot listen on {self.options.host}:{self.options.port}: {error.strerror}"
            ) from None
        self.api.admin_actions["rotate-inbound-credential"] = self.rotate_inbound_credential
        self.api.admin_actions["revoke-previous-credential"] = self.revoke_previous_credential

    def _start_api(self) -> None:
        assert self.stack is not None and self.api is not None
        self.api.routes = routes_for(self.functions)
        self.api.stage = self.stack.parameters.get("StageName", "v1")
        self.api.start()
        log.info("Receiver API on %s (POST /triggers/{triggerId})", self.api.url)

    @property
    def admin_token(self) -> str:
        """What `/_local/...` actions require as `Authorization: Bearer ...` (in the CLI env file)."""
        assert self.api is not None
        return self.api.admin_token

    def _rotation(self) -> tuple[str, str]:
        """The rotation function's name and the inbound secret's id, as the RotationSchedule wires them."""
        assert self.stack is not None
        schedules = [
            r["Properties"]
            for r in self.stack.resources.values()
            if r["Type"] == "AWS::SecretsManager::RotationSchedule"
        ]
        if not schedules or self.options.auth.type == "NO_AUTH":
            raise AdminActionRefused(
                "nothing to rotate: the template has no rotation schedule or auth is none"
            )
        return schedules[0]["RotationLambdaARN"]["Fn::GetAtt"][0], str(
            self.stack.resolve(schedules[0]["SecretId"])
        )

    def revoke_previous_credential(self) -> dict[str, bool]:
        """Invoke the rotation function as an operator does in AWS: the replaced credential ends now."""
        from idn_triggers.rotation import RotationError

        function_name, secret_id = self._rotation()
        try:
            result = self.functions[function_name].invoke({"action": "revokePrevious", "SecretId": secret_id})
        except RotationError as error:
            raise AdminActionRefused(str(error)) from None
        log.info("previous inbound credential revoked: %s", bool(result and result.get("revoked")))
        return {"revoked": bool(result and result.get("revoked"))}

    def rotate_inbound_credential(self) -> dict[str, str]:
        """Run the template's rotation function through Secrets Manager's four steps, as a
        RotationSchedule would; returns the new version id."""
        function_name, secret_id = self._rotation()
        version = str(uuid.uuid4())
        for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
            self.functions[function_name].invoke(
                {"Step": step, "SecretId": secret_id, "ClientRequestToken": version}
            )
        log.info("inbound credential rotated (version %s)", version)
        return {"versionId": version}

    def _start_event_sources(self) -> None:
        """SQS pollers and schedule timers for the functions' SQS and Schedule events."""
        assert self.stack is not None
        for function in self.functions.values():
            for event in function.spec.events:
                if event.type == "SQS":
                    self.pollers.append(
                        SqsPoller(function, self.stack.resolve(event.properties), self.aws_endpoint)
                    )
                elif event.type in ("Schedule", "ScheduleV2"):
                    period = self.options.schedule_periods.get(function.name)
                    self.timers.append(ScheduleTimer(function, self.stack.resolve(event.properties), period))
        sources: list[SqsPoller | ScheduleTimer] = [*self.pollers, *self.timers]
        for source in sources:
            source.start()
        for poller in self.pollers:
            log.info("SQS poller: %s <- %s", poller.function.name, poller.queue_url)
        for timer in self.timers:
            log.info("Schedule: %s every %.0f s", timer.function.name, timer.period)

    # -- what callers need ----------------------------------------------------------------
    @property
    def aws_endpoint(self) -> str:
        assert self.moto is not None
        host, port = self.moto.get_host_and_port()
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        assert self.api is not None
        return self.api.url

    def sailpoint_client(self, base_url: str) -> SailPointClient:
        """The library's SailPoint client (what the functions use) for this run's API client."""
        credentials = ClientCredentials(client_id=self.client_id, client_secret=SecretStr(self.client_secret))
        return SailPointClient(base_url, ClientCredentialsTokenProvider(base_url, lambda: credentials))

    @property
    def tenant_url(self) -> str:
        assert self.tenant is not None
        return self.tenant.base_url

    def webhook_url(self, trigger_id: str) -> str:
        return f"{self.api_url}/triggers/{trigger_id}"

    @property
    def event_bridge_on(self) -> bool:
        return self.stack is not None and "EventsDeadLetterQueue" in self.stack.resources

    def event_bridge_target(self, source_wait_seconds: float = 10.0) -> EventBridgeTarget:
        """Where this stack's EVENTBRIDGE subscriptions deliver (moto's account and region) and how
        their partner buses are wired: what the subscriptions custom resource gets from the template."""
        assert self.stack is not None
        if not self.event_bridge_on:
            raise LocalModeError("EventBridge is off: start local mode with Transport=EVENTBRIDGE or BOTH")
        enabled = str(self.stack.parameters.get("EnabledTriggers", "*")).split(",")
        route = Route(
            work_queue_arn=self.stack.attributes[("WorkQueue", "Arn")],
            dead_letter_queue_arn=self.stack.attributes[("EventsDeadLetterQueue", "Arn")],
            rule_name=rule_name(self.stack.stack_name),
            enabled_triggers=tuple(t.strip() for t in enabled if t.strip()) or ("*",),
        )
        buses = PartnerBuses(events_client(self.aws_endpoint), poll_seconds=0.1)
        return EventBridgeTarget(ACCOUNT_ID, REGION, buses, route, source_wait_seconds)
