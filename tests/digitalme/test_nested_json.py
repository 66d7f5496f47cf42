"""Deeply nested JSON is bad input like any other: 400 with the error shape, never a 500."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("depth", [5_000, 100_000])
@pytest.mark.parametrize("path", ["/api/auth/register/", "/api/auth/token/", "/api/auth/token/refresh/"])
def test_deeply_nested_body_on_a_public_endpoint_is_400(api_client, path, depth):
    response = api_client.post(path, data="[" * depth + "]" * depth, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": response.json()["detail"], "code": "parse_error", "fields": {}}


def test_deeply_nested_object_field_is_400(auth_client):
    body = '{"display_name": ' + '{"a": ' * 5_000 + "1" + "}" * 5_000 + "}"
    response = auth_client.patch("/api/me/", data=body, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) == {"detail", "code", "fields"}


@pytest.mark.parametrize("depth", [500, 900, 990])
def test_nesting_just_under_the_decoder_limit_is_a_clean_400(api_client, depth):
    body = '{"email": ' + "[" * depth + "]" * depth + ', "password": "x"}'
    response = api_client.post("/api/auth/register/", data=body, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) == {"detail", "code", "fields"}
