"""The OpenAPI schema and Swagger UI are served."""

import pytest

from digitalme.errors import SSE_ERROR_EVENT

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


ERROR_REF = "#/components/schemas/Error"


def test_every_documented_error_response_is_the_one_error_component(client):
    """digitalme.errors.ErrorSerializer is the only definition of the error body in the schema (where a
    view streams, an error is an SSE `error` event whose data is that body as JSON)."""
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    error_refs = [
        (path, method, status, media_type, content["schema"])
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for status, response in operation.get("responses", {}).items()
        if status.startswith(("4", "5"))
        for media_type, content in response.get("content", {}).items()
        if "schema" in content
    ]
    assert len(error_refs) > 50  # every app documents its errors
    assert [ref for ref in error_refs if ref[3] != "text/event-stream" and ref[4].get("$ref") != ERROR_REF] == []
    assert [ref for ref in error_refs if ref[3] == "text/event-stream" and ref[4] != SSE_ERROR_EVENT] == []
    body_shaped = [
        name
        for name, component in schema["components"]["schemas"].items()
        if {"detail", "code", "fields"} <= set(component.get("properties", {}))
    ]
    assert body_shaped == ["Error"]
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {"detail", "code", "fields"}


def test_every_operation_documents_the_errors_any_view_can_answer(client):
    """digitalme.errors.error_responses_hook: a parse error, a bad token, a missing object or a
    throttle can answer any operation, so the schema lists them everywhere (API fuzzing relies on it)."""
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    missing = [
        (path, method, status)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for status in ("400", "401", "403", "404", "429", "503")
        if status not in operation["responses"]
    ]
    assert missing == []
