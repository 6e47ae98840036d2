"""What the schema says about errors is what the API answers."""

from __future__ import annotations

from pathlib import Path

from tests.unit.webapp import make_config, running_app

API = "/api/v1/pipelines"


async def test_undecodable_json_is_a_400_that_says_so(tmp_path: Path) -> None:
    async with running_app(make_config(tmp_path)) as (client, _):
        response = await client.post(
            API, content=b"{not json", headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
    assert response.json()["detail"].startswith("request body is not valid JSON")


async def test_options_and_405_list_every_method_of_the_path(tmp_path: Path) -> None:
    async with running_app(make_config(tmp_path)) as (client, _):
        options = await client.options(f"{API}/abc")
        post = await client.post(f"{API}/abc")
        collection = await client.options(API)
    methods = "DELETE, GET, PATCH, PUT, OPTIONS"
    assert options.status_code == 204 and options.headers["allow"] == methods
    assert post.status_code == 405 and post.headers["allow"] == methods
    assert collection.headers["allow"] == "GET, POST, OPTIONS"


async def test_the_schema_documents_the_project_error_model_everywhere(tmp_path: Path) -> None:
    async with running_app(make_config(tmp_path)) as (client, _):
        schema = (await client.get("/openapi.json")).json()
    components = schema["components"]["schemas"]
    assert "HTTPValidationError" not in components
    assert set(components["ValidationErrorBody"]["required"]) == {"error", "detail"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                model = "ValidationErrorBody" if status == "422" else "ErrorBody"
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith(f"/{model}"), (method, path, status)
    create = schema["paths"][API]["post"]["responses"]
    assert {"400", "401", "403", "409", "413", "422", "503"} <= set(create)
    assert "403" not in schema["paths"][API]["get"]["responses"]  # viewers may read
    assert "401" not in schema["paths"]["/healthz"]["get"]["responses"]
