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
