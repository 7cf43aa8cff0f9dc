"""SailPoint tenant simulator (OAuth, triggers, subscriptions, invocations) over real HTTP."""

from .api_errors import ApiError
from .config import SimulatorConfig
from .faults import Fault, Faults
from .invocations import CompletionAttempt, DeliveryAttempt, InvocationRecord, InvocationState
from .simulator import TenantSimulator
from .state import SimulatorStats
from .subscription_records import Subscription

__all__ = [
    "ApiError",
    "CompletionAttempt",
    "DeliveryAttempt",
    "Fault",
    "Faults",
    "InvocationRecord",
    "InvocationState",
    "SimulatorConfig",
    "SimulatorStats",
    "Subscription",
    "TenantSimulator",
]
