"""The product tests' idn:identity-created handler: logs a summary, tells the listeners."""

from __future__ import annotations

from tests.product_handlers.shared import fire_and_forget

on_event = fire_and_forget("idn:identity-created", __name__)
