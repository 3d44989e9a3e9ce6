"""Auth headers: each scheme, the HMAC signature, and secrets kept out of sight."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from importer.contracts.contract import load_contract, parse_contract
from importer.errors import ConfigError, MissingCredential
from importer.push.auth import Credentials, auth_headers, credentials_from_env, sign


def test_signature_is_hmac_sha256_over_timestamp_method_path_and_body() -> None:
    expected = hmac.new(b"k", b"1700000000000\nPOST\n/customers\n{}", hashlib.sha256).hexdigest()
    assert sign("k", "1700000000000", "post", "/customers", b"{}") == expected


def test_signed_headers_use_the_given_clock_and_every_credential() -> None:
    contract = load_contract("signed-customers")
    secrets = {"client_id": "cid", "client_secret": "shh", "token": "tok"}
    headers = auth_headers(
        contract,
        Credentials(secrets),
        method="POST",
        path="/customers",
        body=b"{}",
        now=lambda: 1.5,
    )
    assert headers == {
        "Authorization": "Bearer tok",
        "x-client-id": "cid",
        "x-timestamp": "1500",
        "x-signature": sign("shh", "1500", "POST", "/customers", b"{}"),
    }


def test_bearer_and_api_key_headers() -> None:
    bearer = auth_headers(
        load_contract("commenda"), Credentials({"token": "t"}), method="POST", path="/", body=b""
    )
    assert bearer == {"Authorization": "Bearer t"}
    keyed = auth_headers(
        load_contract("offergrid-orders"),
        Credentials({"api_key": "k"}),
        method="POST",
        path="/",
        body=b"",
    )
    assert keyed == {"x-api-key": "k"}


def test_signed_vendor_needs_all_three_variables_and_never_shows_them() -> None:
    contract = load_contract("signed-customers")
    env = {"SIGNED_CUSTOMERS_CLIENT_ID": "cid", "SIGNED_CUSTOMERS_CLIENT_SECRET": "s3cret"}
    with pytest.raises(MissingCredential, match="SIGNED_CUSTOMERS_TOKEN") as caught:
        credentials_from_env(contract, env)
    assert "s3cret" not in str(caught.value)
    credentials = credentials_from_env(contract, {**env, "SIGNED_CUSTOMERS_TOKEN": "t0k-9x7"})
    assert "s3cret" not in repr(credentials) and "t0k-9x7" not in repr(credentials)


def test_unknown_scheme_is_a_config_error() -> None:
    contract = parse_contract(
        {
            "id": "toy",
            "title": "Toy",
            "seed": "none",
            "endpoint": {"method": "post", "path": "/toys"},
            "auth": {"scheme": "carrier-pigeon", "credentials": {}},
            "responses": {"created": [201], "error_body": {"style": "nestjs", "message": "m"}},
            "request_schema": {"type": "object", "properties": {}},
        }
    )
    with pytest.raises(ConfigError, match="carrier-pigeon"):
        auth_headers(contract, Credentials({}), method="POST", path="/toys", body=b"")
