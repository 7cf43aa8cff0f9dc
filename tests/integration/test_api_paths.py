"""Issue 27 item 10: subscription ids are one path segment. `subscriptions delete '../x'` sent
`DELETE /trigger-subscriptions/x` (requests resolves dot segments), reaching another subscription."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from idn_simulator import TenantSimulator
from idn_triggers.sailpoint_api import SailPointApiError, SailPointClient
from idn_triggers.tokens import ClientCredentials, ClientCredentialsTokenProvider
from tests.integration.conftest_simulator import CLIENT_ID, CLIENT_SECRET


def client(sim: TenantSimulator) -> SailPointClient:
    credentials = ClientCredentials(clientId=CLIENT_ID, clientSecret=SecretStr(CLIENT_SECRET))
    return SailPointClient(
        sim.url, ClientCredentialsTokenProvider(sim.url, lambda: credentials), sleep=lambda s: None
    )


@pytest.mark.parametrize("disguise", ["../v1/{id}", "x/../{id}", "{id}/.", "..", "."])
def test_an_id_with_path_syntax_reaches_no_other_subscription(sim: TenantSimulator, disguise: str) -> None:
    api = client(sim)
    body = {"name": "target", "triggerId": "idn:identity-created", "type": "HTTP", "enabled": True}
    target = str(
        api.create_subscription(
            body | {"httpConfig": {"url": "https://x.example/h", "httpDispatchMode": "SYNC"}}
        )["id"]
    )
    forged = disguise.format(id=target)
    for call in (
        lambda: api.delete_subscription(forged),
        lambda: api.patch_subscription(forged, [{"op": "replace", "path": "/name", "value": "hijacked"}]),
    ):
        with pytest.raises(SailPointApiError):
            call()
    [kept] = [s for s in api.list_subscriptions() if s["id"] == target]
    assert kept["name"] == "target"
