"""Finding a stack's queues (work queue, dead-letter queues) for the operator commands: from the
stack's outputs, or in local mode by their logical names. `ops` (dlq) and `events` (replay) both use
it, so neither imports the other's command module for it."""

from __future__ import annotations

from typing import Any


class OpsError(Exception):
    """A usage or environment problem; the message is the whole explanation."""


def stack_queue_urls(cloudformation: Any, stack_name: str, *, events: bool = False) -> tuple[str, str]:
    """(DeadLetterQueueUrl, WorkQueueUrl) from the stack's outputs; with `events`, the EventBridge
    rule's dead-letter queue (EventsDeadLetterQueueUrl) instead of the worker's."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except Exception as error:
        raise OpsError(f"cannot read stack {stack_name}: {error}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    dead = "EventsDeadLetterQueueUrl" if events else "DeadLetterQueueUrl"
    missing = [key for key in (dead, "WorkQueueUrl") if key not in outputs]
    if missing:
        hint = " (is Transport HTTP? only EVENTBRIDGE or BOTH has it)" if events else ""
        raise OpsError(f"stack {stack_name} has no output {', '.join(missing)}{hint}")
    return outputs[dead], outputs["WorkQueueUrl"]


def discovered_queue_urls(sqs: Any, *, events: bool = False) -> tuple[str, str]:
    """Local mode: the one `...-DeadLetterQueue` (with `events`, `...-EventsDeadLetterQueue`) and
    `...-WorkQueue` the endpoint holds."""
    urls = sqs.list_queues().get("QueueUrls", [])
    found = []
    for suffix in ("-EventsDeadLetterQueue" if events else "-DeadLetterQueue", "-WorkQueue"):
        matches = [url for url in urls if url.endswith(suffix)]
        if len(matches) != 1:
            raise OpsError(
                f"found {len(matches)} queues named *{suffix} at this endpoint; give --queue-url (and --to)"
            )
        found.append(matches[0])
    return found[0], found[1]
