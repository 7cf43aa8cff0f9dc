"""Your trigger handlers: one module per trigger, each with one `@trigger_handler` function.

`HANDLER_MODULES` tells the receiver and the worker which module handles which trigger; a module is
imported only when its trigger is first invoked, so adding handlers does not slow cold start.
Remove the entries of triggers you do not subscribe to, or disable them with ENABLED_TRIGGERS.
See docs/writing-handlers.md.
"""

HANDLER_MODULES: dict[str, str] = {
    "idn:access-request-pre-approval": "trigger_handlers.access_request_pre_approval",
    "idn:access-request-dynamic-approver": "trigger_handlers.access_request_dynamic_approver",
    # Fire-and-forget templates: log a PII-safe summary (idn_triggers.summaries); start from these.
    "idn:access-request-post-approval": "trigger_handlers.access_request_post_approval",
    "idn:account-aggregation-completed": "trigger_handlers.account_aggregation_completed",
    "idn:account-attributes-changed": "trigger_handlers.account_attributes_changed",
    "idn:account-correlated": "trigger_handlers.account_correlated",
    "idn:account-created": "trigger_handlers.account_created",
    "idn:account-deleted": "trigger_handlers.account_deleted",
    "idn:account-uncorrelated": "trigger_handlers.account_uncorrelated",
    "idn:account-updated": "trigger_handlers.account_updated",
    "idn:aggregation-accounts-collected": "trigger_handlers.aggregation_accounts_collected",
    "idn:campaign-activated": "trigger_handlers.campaign_activated",
    "idn:campaign-ended": "trigger_handlers.campaign_ended",
    "idn:campaign-generated": "trigger_handlers.campaign_generated",
    "idn:certification-signed-off": "trigger_handlers.certification_signed_off",
    "idn:ciem-auto-include-scope-setting-changed": "trigger_handlers.ciem_auto_include_scope_setting_changed",
    "idn:ciem-new-scope-detected": "trigger_handlers.ciem_new_scope_detected",
    "idn:ciem-scope-selection-changed": "trigger_handlers.ciem_scope_selection_changed",
    "idn:form-submitted": "trigger_handlers.form_submitted",
    "idn:identity-attributes-changed": "trigger_handlers.identity_attributes_changed",
    "idn:identity-created": "trigger_handlers.identity_created",
    "idn:identity-deleted": "trigger_handlers.identity_deleted",
    "idn:machine-identity-created": "trigger_handlers.machine_identity_created",
    "idn:machine-identity-deleted": "trigger_handlers.machine_identity_deleted",
    "idn:machine-identity-updated": "trigger_handlers.machine_identity_updated",
    "idn:native-change-account-created": "trigger_handlers.native_change_account_created",
    "idn:native-change-account-deleted": "trigger_handlers.native_change_account_deleted",
    "idn:native-change-account-updated": "trigger_handlers.native_change_account_updated",
    "idn:outlier-detected": "trigger_handlers.outlier_detected",
    "idn:post-provisioning": "trigger_handlers.post_provisioning",
    "idn:saved-search-complete": "trigger_handlers.saved_search_complete",
    "idn:sod-violation-closed": "trigger_handlers.sod_violation_closed",
    "idn:sod-violation-created": "trigger_handlers.sod_violation_created",
    "idn:sod-violation-mitigated": "trigger_handlers.sod_violation_mitigated",
    "idn:sod-violation-reopened": "trigger_handlers.sod_violation_reopened",
    "idn:source-account-created": "trigger_handlers.source_account_created",
    "idn:source-account-deleted": "trigger_handlers.source_account_deleted",
    "idn:source-account-updated": "trigger_handlers.source_account_updated",
    "idn:source-created": "trigger_handlers.source_created",
    "idn:source-deleted": "trigger_handlers.source_deleted",
    "idn:source-updated": "trigger_handlers.source_updated",
    "idn:va-cluster-status-change": "trigger_handlers.va_cluster_status_change",
}
