"""Settings fail fast, naming the variable."""

from __future__ import annotations

import pytest

from idn_triggers.auth import AuthType
from idn_triggers.catalogue import TriggerType
from idn_triggers.errors import ConfigurationError
from idn_triggers.settings import ReceiverSettings


def test_missing_auth_type_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="INBOUND_AUTH_TYPE"):
        ReceiverSettings.from_env({})


def test_secret_required_unless_no_auth() -> None:
    with pytest.raises(ConfigurationError, match="INBOUND_SECRET_ID"):
        ReceiverSettings.from_env({"INBOUND_AUTH_TYPE": "BASIC_AUTH"})
    assert ReceiverSettings.from_env({"INBOUND_AUTH_TYPE": "NO_AUTH"}).auth_type is AuthType.NO_AUTH


def test_bad_auth_type_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="INBOUND_AUTH_TYPE"):
        ReceiverSettings.from_env({"INBOUND_AUTH_TYPE": "MAGIC"})


def test_enabled_and_extra_triggers_parse() -> None:
    settings = ReceiverSettings.from_env(
        {
            "INBOUND_AUTH_TYPE": "NO_AUTH",
            "ENABLED_TRIGGERS": "idn:a, idn:b",
            "EXTRA_TRIGGERS": "idn:new=REQUEST_RESPONSE,idn:other",
        }
    )
    assert settings.is_enabled("idn:a") and not settings.is_enabled("idn:c")
    assert settings.extra_triggers == {
        "idn:new": TriggerType.REQUEST_RESPONSE,
        "idn:other": TriggerType.FIRE_AND_FORGET,
    }


def test_empty_enabled_triggers_means_all() -> None:
    assert ReceiverSettings.from_env({"INBOUND_AUTH_TYPE": "NO_AUTH", "ENABLED_TRIGGERS": ""}).is_enabled(
        "idn:x"
    )


API_ENV = {"SAILPOINT_CLIENT_SECRET_ID": "client", "TOKEN_SECRET_ID": "token"}


@pytest.mark.parametrize(
    "url",
    [
        "http://acme.api.identitynow.com",
        "http://10.0.0.5:8400",
        "ftp://acme.api.identitynow.com",
        "https://",
        "acme.api.identitynow.com",
    ],
)
def test_the_tenant_url_must_be_https_outside_local_mode(url: str) -> None:
    """Issue 27 item 7: the client secret and tokens would cross the network in clear text."""
    from idn_triggers.settings import SailPointApiSettings

    with pytest.raises(ConfigurationError, match=r"TENANT_API_URL.*https://"):
        SailPointApiSettings.from_env({**API_ENV, "TENANT_API_URL": url})
    with pytest.raises(ConfigurationError, match=r"TENANT_API_URL.*https://"):
        ReceiverSettings.from_env({"INBOUND_AUTH_TYPE": "NO_AUTH", "TENANT_API_URL": url})


@pytest.mark.parametrize(
    "url", ["https://acme.api.identitynow.com", "http://127.0.0.1:8400", "http://localhost:8400"]
)
def test_https_or_a_loopback_simulator_is_accepted(url: str) -> None:
    from idn_triggers.settings import SailPointApiSettings

    assert SailPointApiSettings.from_env({**API_ENV, "TENANT_API_URL": url}).tenant_api_url == url
