"""The simulated tenant: catalogue, subscriptions, invocations, tokens, limits, faults, counters.

Independent of HTTP: ``server.py`` maps requests onto these methods, and the Python API of
``TenantSimulator`` calls them directly.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests

from jayway_filter import FilterError, matches

from .api_errors import bad_request, not_found
from .config import SimulatorConfig
from .eventbridge import EventBridgeUnavailable, PartnerEvents, envelope_detail, source_name
from .faults import Faults
from .invocations import DeliveryAttempt, InvocationRecord, Invocations, SimulatorClock, utcnow
from .oauth import IssuedTokens, RateLimiter
from .subscription_records import Subscription, apply_patch, build_subscription, check_limits
from .tenant_triggers import TenantTriggers

log = logging.getLogger("idn_simulator")

TEST = "TEST"
REAL_TIME = "REAL_TIME"


@dataclass(frozen=True, slots=True)
class SimulatorStats:
    """Counters since start (or the last reset)."""

    requests: int = 0  # API requests, token endpoint and /_sim excluded
    token_requests: int = 0  # POST /oauth/token, successful or not
    tokens_issued: int = 0
    completions: int = 0  # POST .../complete requests received, whatever the answer
    completions_accepted: int = 0
    rate_limited: int = 0  # 429 answers from the rate limit (injected faults excluded)
    deliveries: int = 0  # POSTs sent to subscription URLs


class Counters:
    """Thread-safe counters behind ``SimulatorStats``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(SimulatorStats.__dataclass_fields__, 0)

    def bump(self, name: str) -> None:
        with self._lock:
            self._values[name] += 1

    def snapshot(self) -> SimulatorStats:
        with self._lock:
            return SimulatorStats(**self._values)

    def clear(self) -> None:
        with self._lock:
            self._values = dict.fromkeys(self._values, 0)


class Tenant:
    """One simulated ISC tenant."""

    def __init__(self, config: SimulatorConfig, catalogue: TenantTriggers | None = None) -> None:
        self.config = config
        self.catalogue = catalogue or TenantTriggers.load()
        self.tokens = IssuedTokens(config.client_id, config.client_secret, config.token_lifetime)
        self.limiter = RateLimiter(config.rate_limit_per_10s)
        # /v1 path prefixes answered with X-Deprecated: true too (legacy paths always are)
        self.deprecated_paths: set[str] = set()
        self.faults = Faults()
        self.counters = Counters()
        self.clock = SimulatorClock()
        self.invocations = Invocations(
            self.catalogue,
            self.clock.now,
            success_retention=timedelta(hours=config.success_retention_hours),
            failure_retention=timedelta(hours=config.failure_retention_hours),
        )
        self.base_url = ""  # set by the server once it listens; callback URLs start with it
        self._lock = threading.Lock()
        self._subscriptions: dict[str, Subscription] = {}
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sim-delivery")
        self.partner_events = PartnerEvents(config)

    # Subscriptions -----------------------------------------------------------------------------

    def subscriptions(self) -> list[Subscription]:
        with self._lock:
            return list(self._subscriptions.values())

    def create_subscription(self, body: Any) -> Subscription:
        new = build_subscription(
            body, catalogue=self.catalogue, subscription_id=str(uuid.uuid4()), created=utcnow()
        )
        with self._lock:
            check_limits(new, list(self._subscriptions.values()), self.catalogue)
            self._subscriptions[new.id] = new
        self._create_partner_source(new)
        return new

    def _create_partner_source(self, sub: Subscription) -> None:
        """SailPoint creates the partner event source of an EVENTBRIDGE subscription in its account."""
        config = sub.event_bridge_config
        if sub.type == "EVENTBRIDGE" and config:
            self.partner_events.create_source(
                source_name(sub.id, sub.trigger_id), str(config["awsAccount"]), str(config["awsRegion"])
            )

    def replace_subscription(self, subscription_id: str, body: Any) -> Subscription:
        with self._lock:
            existing = self._existing(subscription_id)
            updated = build_subscription(
                body,
                catalogue=self.catalogue,
                subscription_id=existing.id,
                created=existing.created,
                existing=existing,
            )
            self._subscriptions[existing.id] = updated
        return updated

    def patch_subscription(self, subscription_id: str, operations: Any) -> Subscription:
        with self._lock:
            existing = self._existing(subscription_id)
            updated = apply_patch(existing, operations, self.catalogue)
            self._subscriptions[existing.id] = updated
        return updated

    def delete_subscription(self, subscription_id: str) -> None:
        with self._lock:
            gone = self._existing(subscription_id)
            del self._subscriptions[subscription_id]
        config = gone.event_bridge_config
        if gone.type == "EVENTBRIDGE" and config:
            self.partner_events.delete_source(
                source_name(gone.id, gone.trigger_id), str(config["awsAccount"]), str(config["awsRegion"])
            )

    def _existing(self, subscription_id: str) -> Subscription:
        found = self._subscriptions.get(subscription_id)
        if found is None:
            raise not_found(f"subscription '{subscription_id}' not found")
        return found

    # Invocations -------------------------------------------------------------------------------

    def start_invocations(
        self,
        trigger_id: Any,
        payload: Any = None,
        *,
        content_json: dict[str, Any] | None = None,
        subscription_ids: list[str] | None = None,
        kind: str = TEST,
        api_prefix: str = "",
    ) -> list[InvocationRecord]:
        """Invoke the trigger for its matching subscriptions; deliveries run in the background.

        TEST invocations reach disabled subscriptions too (the spec: "Test trigger invocations
        are always enabled"); REAL_TIME ones only enabled subscriptions. Filters apply to both.
        HTTP subscriptions get a POST, EVENTBRIDGE ones an event on their partner bus.
        """
        if not isinstance(trigger_id, str) or not trigger_id:
            raise bad_request("triggerId is required and must be a string")
        trigger = self.catalogue.get(trigger_id)
        if trigger is None:
            raise bad_request(f"triggerId '{trigger_id}' is not a trigger of this tenant")
        if payload is None:
            payload = trigger.example_input
            if payload is None:
                raise bad_request(f"trigger '{trigger_id}' has no example input; send input")
        if not isinstance(payload, dict):
            raise bad_request("input must be a JSON object")
        candidates = [sub for sub in self.subscriptions() if sub.trigger_id == trigger_id]
        if subscription_ids is not None:
            unknown = sorted(set(subscription_ids) - {sub.id for sub in candidates})
            if unknown:
                raise bad_request(
                    f"subscriptionIds are not subscriptions of '{trigger_id}': {', '.join(unknown)}"
                )
            candidates = [sub for sub in candidates if sub.id in subscription_ids]
        if kind == REAL_TIME:
            candidates = [sub for sub in candidates if sub.enabled]
        started = []
        for sub in candidates:
            deliverable = (sub.type == "HTTP" and sub.http_config is not None) or (
                sub.type == "EVENTBRIDGE" and sub.event_bridge_config is not None
            )
            if not deliverable or not self._passes_filter(sub, payload):
                continue
            record = self._new_record(sub, payload, content_json or {}, kind, api_prefix)
            self.invocations.add(record)
            started.append(record)
            self._dispatch(record, sub)
        return started

    def _passes_filter(self, sub: Subscription, payload: dict[str, Any]) -> bool:
        if sub.filter is None:
            return True
        try:
            return matches(sub.filter, payload)
        except FilterError:  # stored filters were validated; be safe and deliver nothing
            log.warning("filter of subscription %s could not be evaluated", sub.id)
            return False

    def _new_record(
        self,
        sub: Subscription,
        payload: dict[str, Any],
        content_json: dict[str, Any],
        kind: str,
        api_prefix: str,
    ) -> InvocationRecord:
        trigger = self.catalogue.get(sub.trigger_id)
        assert trigger is not None
        invocation_id = str(uuid.uuid4())
        created = self.clock.now()
        if sub.http_config is not None:
            mode, url = sub.http_config["httpDispatchMode"], sub.http_config["url"]
        else:  # EVENTBRIDGE: no response mode; request-response is answered by callback, as ASYNC
            mode = "ASYNC" if trigger.is_request_response else "EVENTBRIDGE"
            url = "eventbridge:" + source_name(sub.id, sub.trigger_id)
        waits = trigger.is_request_response and mode in ("ASYNC", "DYNAMIC")
        return InvocationRecord(
            id=invocation_id,
            kind=kind,
            trigger_id=trigger.id,
            trigger_type=trigger.type,
            subscription_id=sub.id,
            subscription_name=sub.name,
            mode=mode,
            url=url,
            input=copy.deepcopy(payload),
            content_json=copy.deepcopy(content_json),
            secret=str(uuid.uuid4()),
            callback_url=self.callback_url(invocation_id, api_prefix) if waits else None,
            created=created,
            deadline=created + sub.deadline if waits else None,
        )

    def callback_url(self, invocation_id: str, api_prefix: str = "") -> str:
        """``/trigger-invocations/v1/{id}/complete``, or ``/{ver}/trigger-invocations/{id}/complete``."""
        if api_prefix:
            return f"{self.base_url}/{api_prefix}/trigger-invocations/{invocation_id}/complete"
        return f"{self.base_url}/trigger-invocations/v1/{invocation_id}/complete"

    def _dispatch(self, record: InvocationRecord, sub: Subscription) -> None:
        if sub.type == "EVENTBRIDGE":
            try:
                self._executor.submit(self._put_event, record, sub)
            except RuntimeError:
                log.info("simulator stopping; invocation %s not delivered", record.id)
            return
        body = copy.deepcopy(record.input)
        if record.expects_callback:
            body["_metadata"] = {
                "callbackURL": record.callback_url,
                "secret": record.secret,
                "responseMode": record.mode.lower(),
                "triggerId": record.trigger_id,
                "triggerType": "requestResponse",
            }
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "idn-tenant-simulator",
            **sub.auth_headers(),
        }
        try:
            self._executor.submit(self._deliver, record.id, record.url, headers, body)
        except RuntimeError:  # stopping: the executor takes no more work
            log.info("simulator stopping; invocation %s not delivered", record.id)

    def _deliver(self, invocation_id: str, url: str, headers: dict[str, str], body: dict[str, Any]) -> None:
        """POST the input to the subscriber (in a worker thread) and settle the outcome."""
        self.counters.bump("deliveries")
        started = time.monotonic()
        at = self.clock.now()
        fault = self.faults.take("deliveries")
        if fault is not None and fault.delay_seconds:
            time.sleep(fault.delay_seconds)
        if fault is not None and not fault.delivered and (fault.reset or fault.status is not None):
            # Never reaches the subscriber: refused at the door, or answered by something in front.
            delivery = (
                DeliveryAttempt(at, None, None, time.monotonic() - started, error="ConnectionRefused")
                if fault.reset
                else DeliveryAttempt(
                    at, fault.status, {"message": "injected fault"}, time.monotonic() - started
                )
            )
            self.invocations.settle_delivery(invocation_id, delivery)
            return
        try:
            response = requests.post(
                url, json=body, headers=headers, timeout=self.config.delivery_timeout, allow_redirects=False
            )
        except requests.RequestException as err:
            delivery = DeliveryAttempt(at, None, None, time.monotonic() - started, error=type(err).__name__)
        else:
            try:
                answer: Any = response.json() if response.content else None
            except ValueError:  # kept as text: it then fails output validation, as it should
                answer = response.text[:2000]
            delivery = DeliveryAttempt(at, response.status_code, answer, time.monotonic() - started)
            if fault is not None and fault.delivered:  # the subscriber got it; the tenant gave up waiting
                delivery = DeliveryAttempt(at, None, None, time.monotonic() - started, error="ReadTimeout")
        self.invocations.settle_delivery(invocation_id, delivery)

    def _put_event(self, record: InvocationRecord, sub: Subscription) -> None:
        """PutEvents the invocation to the subscription's partner bus (in a worker thread); an event
        EventBridge accepted counts as a 200 answer, a refused or failed call as a failed delivery."""
        self.counters.bump("deliveries")
        config = sub.event_bridge_config or {}
        detail = envelope_detail(
            copy.deepcopy(record.input),
            invocation_id=record.id,
            trigger_id=record.trigger_id,
            request_response=record.is_request_response,
            callback_url=record.callback_url,
            secret=record.secret,
        )
        started = time.monotonic()
        at = self.clock.now()
        try:
            event_id = self.partner_events.put(
                source=source_name(sub.id, sub.trigger_id),
                region=str(config.get("awsRegion", "us-east-1")),
                trigger_id=record.trigger_id,
                detail=detail,
                at=record.created,
            )
        except EventBridgeUnavailable as error:
            delivery = DeliveryAttempt(at, None, None, time.monotonic() - started, error=str(error))
        else:
            delivery = DeliveryAttempt(at, 200, {"eventId": event_id}, time.monotonic() - started)
        self.invocations.settle_delivery(record.id, delivery)

    # Lifecycle ---------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget subscriptions, invocations, tokens, faults, rate-limit windows and counters."""
        with self._lock:
            self._subscriptions.clear()
        self.invocations.clear()
        self.tokens.clear()
        self.limiter.clear()
        self.deprecated_paths.clear()
        self.faults.clear()
        self.counters.clear()
        self.clock.reset()

    def close(self) -> None:
        """Stop accepting deliveries and wait for the ones in flight."""
        self._executor.shutdown(wait=True, cancel_futures=True)
