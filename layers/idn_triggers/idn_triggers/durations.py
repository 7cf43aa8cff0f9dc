"""ISO-8601 durations, as SailPoint writes a subscription's `responseDeadline`.

The one parser of the project: the receiver's settings (RESPONSE_DEADLINE) and the tenant
simulator (subscriptions' `responseDeadline`) both use it, so they cannot disagree on what a
deadline means.
"""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(
    r"P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)


def parse_duration(text: str) -> timedelta:
    """`PT1H`, `PT30M`, `P1DT2H`, `PT0.5S`: days, hours, minutes and (fractional) seconds.

    Years, months and weeks are refused (a month has no fixed length; SailPoint's deadlines are
    hours at most), and so are an empty duration (`P`, `PT`) and a `T` with nothing after it.
    """
    match = _DURATION.fullmatch(text)
    if match is None or not any(match.groupdict().values()) or text.endswith("T"):
        raise ValueError(f"'{text}' is not an ISO-8601 duration such as PT1H or PT30M")
    parts = {name: float(value) for name, value in match.groupdict().items() if value}
    return timedelta(**parts)
