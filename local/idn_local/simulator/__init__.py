"""SailPoint tenant simulator (OAuth, triggers, subscriptions, invocations) over real HTTP."""

from .config import SimulatorConfig
from .errors import ApiError
from .faults import Fault, Faults
from .invocations import CompletionAttempt, Delivery, InvocationRecord, InvocationState
from .simulator import TenantSimulator
from .state import SimulatorStats
from .subscriptions import Subscription

__all__ = [
    "ApiError",
    "CompletionAttempt",
    "Delivery",
    "Fault",
    "Faults",
    "InvocationRecord",
    "InvocationState",
    "SimulatorConfig",
    "SimulatorStats",
    "Subscription",
    "TenantSimulator",
]
