"""Settings fail fast, naming the variable."""

from __future__ import annotations

import re

import pytest
from pydantic import Field

from idn_triggers.auth import AuthType
from idn_triggers.catalogue import TriggerType
from idn_triggers.errors import ConfigurationError
from idn_triggers.settings import HandlerSettings, ReceiverSettings
from tests.unit.conftest import HandlerPackage


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


# --- handler settings: the environment over the handlers package's settings file -----------------


class Knobs(HandlerSettings):
    score: float = Field(default=0.5, alias="KNOB_SCORE")
    names: str = Field(default="", alias="KNOB_NAMES")  # a list in the file: comma-separated, as in the env


def settings_package(handler_package: HandlerPackage, files: dict[str, str]) -> dict[str, str]:
    (handler_package.path / "settings").mkdir()
    for name, text in files.items():
        (handler_package.path / "settings" / f"{name}.json").write_text(text, encoding="utf-8")
    return {"HANDLERS_PACKAGE": handler_package.name}


def test_handler_settings_come_from_the_file_the_environment_names(handler_package: HandlerPackage) -> None:
    env = settings_package(
        handler_package,
        {"default": '{"KNOB_SCORE": 0.7}', "prod": '{"KNOB_SCORE": 0.9, "KNOB_NAMES": ["a", "b"]}'},
    )
    assert Knobs.from_env(env).score == 0.7
    prod = Knobs.from_env({**env, "HANDLER_SETTINGS": "prod"})
    assert (prod.score, prod.names) == (0.9, "a,b")


def test_a_set_environment_variable_wins_over_the_file_and_an_empty_one_does_not(
    handler_package: HandlerPackage,
) -> None:
    env = settings_package(handler_package, {"default": '{"KNOB_SCORE": 0.7}'})
    assert Knobs.from_env({**env, "KNOB_SCORE": "0.1"}).score == 0.1
    assert Knobs.from_env({**env, "KNOB_SCORE": ""}).score == 0.7


def test_without_a_default_file_the_fields_defaults_apply(handler_package: HandlerPackage) -> None:
    assert Knobs.from_env({"HANDLERS_PACKAGE": handler_package.name}).score == 0.5


@pytest.mark.parametrize(
    ("files", "chosen", "message"),
    [
        ({}, "prod", "no settings/prod.json"),
        ({"default": "{not json"}, "default", "settings/default.json is not JSON"),
        ({"default": "[1, 2]"}, "default", "one JSON object"),
        ({}, "../etc/passwd", "must be a file name"),
        ({"default": '{"KNOB_SCORE": "high"}'}, "default", "KNOB_SCORE"),
    ],
)
def test_a_wrong_settings_file_fails_naming_it(
    handler_package: HandlerPackage, files: dict[str, str], chosen: str, message: str
) -> None:
    env = settings_package(handler_package, files)
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        Knobs.from_env({**env, "HANDLER_SETTINGS": chosen})


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
