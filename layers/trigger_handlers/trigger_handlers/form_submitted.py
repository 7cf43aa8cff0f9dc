"""Form submitted: hand the answers to whatever the form collects them for (a workflow, a ticket)."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.misc import FormSubmitted
from idn_triggers.summaries import summarise


@trigger_handler("idn:form-submitted")
def on_form_submitted(event: FormSubmitted, context: HandlerContext) -> None:
    answers = event.form_data or {}
    summarise(
        context,
        "submitted",
        "FORM_INSTANCE",
        event.form_instance_id,
        related={
            "form_definition": event.form_definition_id,
            "submitted_by": event.submitted_by,
            "created_by": event.created_by,
        },
        labels={"created_by_type": event.created_by.type if event.created_by else None},
        attributes=sorted(answers),  # which fields were answered; the answers are personal data
    )
