"""``TenantSimulator``: the simulated tenant served over HTTP in a background thread.

The Python API and the ``/_sim`` admin endpoints reach the same state, so a test can arrange
faults in-process while the code under test talks HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from .config import SimulatorConfig
from .faults import Fault, Faults
from .invocations import InvocationRecord, InvocationState
from .server import Api, SimulatorHTTPServer
from .state import REAL_TIME, SimulatorStats, Tenant
from .subscription_records import Subscription
from .tenant_triggers import TenantTriggers


def base_url(host: str, port: int) -> str:
    """A URL clients on this machine can use (wildcard binds are reached via loopback)."""
    if host in ("", "0.0.0.0"):  # noqa: S104 - naming the wildcard, not binding to it
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class TenantSimulator:
    """A SailPoint ISC tenant on a local port: OAuth, triggers, subscriptions, invocations."""

    def __init__(
        self, config: SimulatorConfig | None = None, *, catalogue: TenantTriggers | None = None
    ) -> None:
        self.config = config or SimulatorConfig()
        self._tenant = Tenant(self.config, catalogue)
        self._api = Api(self._tenant)
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    # Lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen and serve in a daemon thread; raises OSError when the port is taken."""
        if self._server is not None or self._stopped:
            raise RuntimeError("a TenantSimulator starts once")
        server = SimulatorHTTPServer((self.config.host, self.config.port), self._api)
        self._server = server
        self._tenant.base_url = (self.config.public_url or base_url(self.config.host, self.port)).rstrip("/")
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="tenant-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port, end open connections and in-flight deliveries, join every thread."""
        server, self._server = self._server, None
        self._stopped = True
        if server is not None:
            server.shutdown()
            self._api.stopping.set()  # release requests held by an injected delay
            server.close_connections()
            server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._tenant.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL of the tenant API, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return self._tenant.base_url

    # Knobs -------------------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        return self._tenant.faults

    @property
    def stats(self) -> SimulatorStats:
        return self._tenant.counters.snapshot()

    def expire_tokens(self) -> None:
        """Every token issued so far is expired from now on."""
        self._tenant.tokens.expire_all()

    def set_rate_limit(self, per_10s: int | None) -> None:
        """Requests per client_id and API version per 10 s; None or 0 disables the limit."""
        self._tenant.limiter.limit = per_10s

    def deprecate(self, path_prefix: str) -> None:
        """Answer requests under ``path_prefix`` (e.g. ``/trigger-invocations/v1/status``) with
        ``X-Deprecated: true``, as SailPoint marks an endpoint it will retire; ``reset`` forgets it."""
        self._tenant.deprecated_paths.add(path_prefix)

    def set_token_lifetime(self, seconds: int) -> None:
        """``expires_in`` of tokens issued from now on."""
        self._tenant.tokens.lifetime = seconds

    def advance_clock(self, delta: timedelta) -> None:
        """Move the tenant's clock: history timestamps, retention and deadlines follow it."""
        self._tenant.clock.advance(delta)

    def now(self) -> datetime:
        """The tenant's time (real time plus what ``advance_clock`` added)."""
        return self._tenant.clock.now()

    def set_retention(self, *, success: timedelta | None = None, failure: timedelta | None = None) -> None:
        """How long the invocation history keeps successful (24 h) and failed (48 h) invocations."""
        if success is not None:
            self._tenant.invocations.success_retention = success
        if failure is not None:
            self._tenant.invocations.failure_retention = failure

    def fail_deliveries(
        self,
        share: float,
        *,
        status: int | None = 503,
        refused: bool = False,
        delivered: bool = False,
        seed: int | None = None,
    ) -> None:
        """From now on, ``share`` of deliveries fail: answered ``status`` without reaching the
        subscriber, refused (``refused``), or delivered and then timed out (``delivered``).
        ``share`` 0 stops it."""
        fault = Fault(status=None if refused or delivered else status, reset=refused, delivered=delivered)
        self._tenant.faults.set_random("deliveries", share, [fault], seed)

    def reset(self) -> None:
        """Forget subscriptions, invocations, tokens, faults and counters."""
        self._tenant.reset()

    # State -------------------------------------------------------------------------------------

    def subscriptions(self) -> list[Subscription]:
        return self._tenant.subscriptions()

    def invocation(self, invocation_id: str) -> InvocationRecord:
        """The record of one invocation; KeyError when unknown."""
        record = self._tenant.invocations.get(invocation_id)
        if record is None:
            raise KeyError(invocation_id)
        return record

    def invocations(self) -> list[InvocationRecord]:
        return self._tenant.invocations.all()

    def fire_event(
        self,
        trigger_id: str,
        payload: dict[str, Any] | None = None,
        *,
        content_json: dict[str, Any] | None = None,
    ) -> list[InvocationRecord]:
        """A REAL_TIME event: delivered to enabled subscriptions whose filter matches."""
        return self._tenant.start_invocations(trigger_id, payload, content_json=content_json, kind=REAL_TIME)

    def wait_for_invocation(
        self, match: str | Callable[[InvocationRecord], bool], timeout: float = 5.0
    ) -> InvocationRecord:
        """Block until an invocation is ready; TimeoutError after ``timeout`` seconds.

        With an id: until that invocation's delivery has been answered (state is no longer
        DELIVERING). With a predicate: until some invocation satisfies it.
        """
        if isinstance(match, str):
            wanted = match

            def predicate(record: InvocationRecord) -> bool:
                return record.id == wanted and record.state is not InvocationState.DELIVERING

            return self._tenant.invocations.wait(predicate, timeout)
        return self._tenant.invocations.wait(match, timeout)
