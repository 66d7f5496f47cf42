"""The OpenAPI schema and Swagger UI are served."""

import pytest

pytestmark = pytest.mark.django_db


def test_openapi_schema_lists_account_endpoints(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/auth/register/" in paths
    assert "/api/me/" in paths


def test_swagger_ui_is_served(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
