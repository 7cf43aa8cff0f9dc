"""A small client for the SailPoint trigger APIs the local demo needs (real tenant or simulator).

It speaks the published API (`/oauth/token`, `/trigger-subscriptions/v1`, `/trigger-invocations/v1`)
and nothing simulator-specific, so the demo works the same against a real tenant.
"""

from __future__ import annotations

import time
from typing import Any

import requests


class TenantError(Exception):
    """The tenant refused or could not be reached; the message says which and why."""


class TenantClient:
    def __init__(self, base_url: str, client_id: str, client_secret: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._timeout = timeout
        self._session = requests.Session()
        self._token: str | None = None
        self._token_expires = 0.0

    def token(self) -> str:
        if self._token is None or time.monotonic() > self._token_expires - 30:
            try:
                response = self._session.post(
                    f"{self.base_url}/oauth/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": self._client_id,
                        "client_secret": self._client_secret,
                    },
                    timeout=self._timeout,
                )
            except requests.RequestException as error:
                raise TenantError(f"tenant {self.base_url} is unreachable ({type(error).__name__})") from None
            if response.status_code != 200:
                raise TenantError(
                    f"tenant {self.base_url} refused the client credentials (HTTP {response.status_code})"
                )
            body = response.json()
            self._token = str(body["access_token"])
            self._token_expires = time.monotonic() + float(body.get("expires_in", 60))
        return self._token

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token()}", **kwargs.pop("headers", {})}
        try:
            response = self._session.request(
                method, f"{self.base_url}{path}", headers=headers, timeout=self._timeout, **kwargs
            )
        except requests.RequestException as error:
            raise TenantError(f"{method} {path}: tenant unreachable ({type(error).__name__})") from None
        if response.status_code >= 400:
            raise TenantError(f"{method} {path}: HTTP {response.status_code} {_message(response)}")
        return response

    def subscriptions(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/trigger-subscriptions/v1").json())

    def create_subscription(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.request("POST", "/trigger-subscriptions/v1", json=body).json())

    def delete_subscription(self, subscription_id: str) -> None:
        self.request("DELETE", f"/trigger-subscriptions/v1/{subscription_id}")

    def test_invocation(
        self, trigger_id: str, subscription_ids: list[str], payload: dict[str, Any] | None = None
    ) -> None:
        body: dict[str, Any] = {
            "triggerId": trigger_id,
            "contentJson": {},
            "subscriptionIds": subscription_ids,
        }
        if payload is not None:
            body["input"] = payload
        self.request("POST", "/trigger-invocations/v1/test", json=body)

    def invocation_statuses(self, trigger_id: str | None = None) -> list[dict[str, Any]]:
        params = {"filters": f'triggerId eq "{trigger_id}"'} if trigger_id else None
        return list(self.request("GET", "/trigger-invocations/v1/status", params=params).json())


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    messages = body.get("messages") if isinstance(body, dict) else None
    if messages:
        return str(messages[0].get("text", ""))
    return str(body.get("message", "")) if isinstance(body, dict) else ""
