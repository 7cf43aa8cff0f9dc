"""Handlers owned by the failure-policy and per-trigger-limit tests (never the shipped templates):
each one's behaviour is set by the test through `BEHAVIOUR`, since local mode runs in-process."""
