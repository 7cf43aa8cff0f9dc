"""Your trigger handlers: one module per trigger, each with one `@trigger_handler` function.

A trigger's module is named after its id, without `idn:` and with `-` replaced by `_`
(`idn:identity-created` -> `identity_created.py`): the receiver and the worker find it by that rule
(`idn_triggers.handlers.handler_module`), so a new handler needs no registration. A module is
imported only when its trigger is first invoked, so adding handlers does not slow cold start.
Delete the modules of triggers you do not subscribe to, or disable them with ENABLED_TRIGGERS.
See docs/writing-handlers.md.
"""

# Trigger ids whose module the rule cannot name, e.g. an EXTRA_TRIGGERS id without the `idn:`
# prefix: {"acme:thing": "trigger_handlers.acme_thing"}.
HANDLER_EXCEPTIONS: dict[str, str] = {}
