"""Your trigger handlers: one module per trigger, each with one `@trigger_handler` function.

`HANDLER_MODULES` tells the receiver and the worker which module handles which trigger; a module is
imported only when its trigger is first invoked, so adding handlers does not slow cold start.
"""

HANDLER_MODULES: dict[str, str] = {
    "idn:access-request-pre-approval": "trigger_handlers.access_request_pre_approval",
    "idn:access-request-dynamic-approver": "trigger_handlers.access_request_dynamic_approver",
}
