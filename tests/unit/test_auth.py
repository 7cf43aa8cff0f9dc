"""Inbound authentication: Basic and Bearer, constant-time, with a previous credential during rotation."""

from __future__ import annotations

import base64

import pytest

from idn_triggers.auth import AuthType, InboundAuthenticator, InboundSecret, parse_inbound_secret
from idn_triggers.errors import AuthenticationFailed, ConfigurationError


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def authenticator(auth_type: AuthType, secret: dict[str, object]) -> InboundAuthenticator:
    parsed = InboundSecret.model_validate(secret)
    return InboundAuthenticator(auth_type, lambda: parsed)


BEARER = authenticator(AuthType.BEARER_TOKEN, {"bearerToken": "current-token"})
BASIC = authenticator(AuthType.BASIC_AUTH, {"userName": "sailpoint", "password": "pa:ss"})
ROTATING = authenticator(AuthType.BEARER_TOKEN, {"bearerToken": "new", "previous": {"bearerToken": "old"}})


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer current-token"},
        {"authorization": "bearer current-token"},
        {"AUTHORIZATION": "Bearer  current-token "},
    ],
)
def test_bearer_accepts_the_token_in_any_header_case(headers: dict[str, str]) -> None:
    BEARER.authenticate(headers)


@pytest.mark.parametrize(
    "headers",
    [
        None,
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic current-token"},
        {"Authorization": "current-token"},
        {"Authorization": "Bearer current-token-and-more"},
    ],
)
def test_bearer_rejects_anything_else(headers: dict[str, str] | None) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        BEARER.authenticate(headers)
    assert caught.value.public_body() == {"message": "authentication required"}


def test_basic_accepts_user_and_password_with_colon_in_password() -> None:
    BASIC.authenticate(basic("sailpoint", "pa:ss"))


@pytest.mark.parametrize(
    "headers",
    [
        basic("sailpoint", "wrong"),
        basic("other", "pa:ss"),
        {"Authorization": "Basic !!!notbase64"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:x").decode()},
        {"Authorization": "Bearer pa:ss"},
    ],
)
def test_basic_rejects_wrong_or_malformed(headers: dict[str, str]) -> None:
    with pytest.raises(AuthenticationFailed):
        BASIC.authenticate(headers)


@pytest.mark.parametrize("token", ["new", "old"])
def test_previous_credential_is_accepted_during_rotation(token: str) -> None:
    ROTATING.authenticate({"Authorization": f"Bearer {token}"})


def test_neither_current_nor_previous_is_rejected() -> None:
    with pytest.raises(AuthenticationFailed):
        ROTATING.authenticate({"Authorization": "Bearer older"})


def test_no_auth_accepts_anyone_without_reading_a_secret() -> None:
    InboundAuthenticator(AuthType.NO_AUTH, None).authenticate({})


def test_auth_without_credential_source_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        InboundAuthenticator(AuthType.BEARER_TOKEN, None)


def test_secret_missing_key_names_secret_and_key() -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_inbound_secret("arn:secret:inbound", AuthType.BASIC_AUTH, {"userName": "u"})
    assert "arn:secret:inbound" in str(caught.value) and "password" in str(caught.value)
    assert "arn:secret" not in str(caught.value.public_body())


def test_secret_values_do_not_print() -> None:
    secret = parse_inbound_secret("s", AuthType.BEARER_TOKEN, {"bearerToken": "tok-123"})
    assert "tok-123" not in repr(secret)
