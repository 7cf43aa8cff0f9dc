"""Saved search complete: its report is ready at a pre-signed URL (e.g. copy it to your bucket).

`event.signed_s3_url` is a credential until it expires: pass it on, never log it.
"""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.misc import SavedSearchComplete
from idn_triggers.summaries import summarise


@trigger_handler("idn:saved-search-complete")
def on_search_complete(event: SavedSearchComplete, context: HandlerContext) -> None:
    summarise(
        context,
        "completed",
        "SAVED_SEARCH",
        None,  # the payload names the search and its owner but carries no id
        counts=event.result_counts,
    )
