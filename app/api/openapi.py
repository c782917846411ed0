"""OpenAPI fragments for routes that read their JSON body themselves (to accept JSON-LD and
to turn every parse failure into problem+json), so the document still shows each body and
every response, errors included."""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from app.native import ReviewIn, ReviewPage, ReviewPublic

PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
JSONLD_OBJECT = {"type": "object", "description": "schema.org ClaimReview JSON-LD"}


# Models referenced by the fragments below, added to the document's components by install().
_COMPONENTS: dict[str, Any] = {}


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    _COMPONENTS.update(schema.pop("$defs", {}))
    _COMPONENTS[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def install(app: FastAPI) -> None:
    generate = app.openapi

    def openapi_with_components() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            known = document.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in _COMPONENTS.items():
                known.setdefault(name, schema)
        return app.openapi_schema or {}

    app.openapi = openapi_with_components  # type: ignore[method-assign]


def body_of(model: type[BaseModel]) -> dict[str, Any]:
    content = {"application/json": {"schema": _schema(model)}}
    return {"requestBody": {"required": True, "content": content}}


def review_body() -> dict[str, Any]:
    body = body_of(ReviewIn)
    body["requestBody"]["content"]["application/ld+json"] = {"schema": JSONLD_OBJECT}
    return body


def merge_patch_body() -> dict[str, Any]:
    patch = {"type": "object", "description": "JSON Merge Patch (RFC 7396) of a review"}
    content = {
        media: {"schema": patch} for media in ("application/merge-patch+json", "application/json")
    }
    return {"requestBody": {"required": True, "content": content}}


def responses(
    *codes: int, jsonld: bool = False, native: bool = False, page: bool = False
) -> dict[int | str, Any]:
    """Response entries for the given status codes: problem+json for every error."""
    described: dict[int | str, Any] = {}
    for code in codes:
        entry: dict[str, Any] = {"description": HTTPStatus(code).phrase}
        if code >= 400:
            entry["content"] = {"application/problem+json": {"schema": PROBLEM}}
        elif page:
            entry["content"] = {
                "application/json": {"schema": _schema(ReviewPage)},
                "application/ld+json": {"schema": JSONLD_OBJECT},
            }
        elif code in (200, 201) and (jsonld or native or code == 201):
            content: dict[str, Any] = {}
            if native or not jsonld:
                content["application/json"] = {"schema": _schema(ReviewPublic)}
            if jsonld:
                content["application/ld+json"] = {"schema": JSONLD_OBJECT}
            entry["content"] = content
        described[code] = entry
    return described
