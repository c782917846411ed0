"""OpenAPI fragments for routes that read their JSON body themselves (to accept JSON-LD and
to turn every parse failure into problem+json), so the document still shows each body and
every response, errors included.

``install`` also completes every operation with the answers the app gives outside the route
(the CI fuzz test holds the document to them): 422 as problem+json instead of FastAPI's own
error shape (and on every route, for ``deps.refuse_nul``), 400 and 414 for too many or too long
query parameters and 408 and 413 wherever a body is read (``request_limits``, ``middleware``),
and 429 with ``Retry-After`` from the rate limiter.
"""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from app.core.document import ReviewIn, ReviewPage, ReviewPublic
from app.errors import PROBLEM_JSON

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
PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": PROBLEM}}
RATE_LIMITED = {
    "description": "Too Many Requests: the key's or the client's rate limit is spent.",
    "headers": {
        "Retry-After": {
            "description": "Seconds to wait before the next request.",
            "schema": {"type": "integer", "minimum": 0},
        }
    },
    "content": PROBLEM_CONTENT,
}
# What FastAPI documents for its own validation errors; errors.install renders them as problems.
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"
_FASTAPI_SCHEMAS = ("HTTPValidationError", "ValidationError")


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
            for path_item in document["paths"].values():
                for operation in path_item.values():
                    _complete(operation)
            for name in _FASTAPI_SCHEMAS:
                known.pop(name, None)
        return app.openapi_schema or {}

    app.openapi = openapi_with_components  # type: ignore[method-assign]


def _complete(operation: dict[str, Any]) -> None:
    """Add the responses every route can give, whatever its decorator says."""
    described = operation["responses"]
    fastapi_422 = described.get("422", {}).get("content", {}).get("application/json", {})
    if fastapi_422.get("schema", {}).get("$ref") == _FASTAPI_422:
        described["422"] = _problem(422)
    # deps.refuse_nul, on every route (routes with their own error shape document a 4XX).
    if "4XX" not in described:
        described.setdefault("422", _problem(422))
        described.setdefault("400", _problem(400))
    described.setdefault("414", _problem(414))
    if "requestBody" in operation:
        described.setdefault("408", _problem(408))
        described.setdefault("413", _problem(413))
    described.setdefault("429", RATE_LIMITED)


def _problem(code: int) -> dict[str, Any]:
    return {"description": HTTPStatus(code).phrase, "content": PROBLEM_CONTENT}


def body_of(model: type[BaseModel]) -> dict[str, Any]:
    content = {"application/json": {"schema": _schema(model)}}
    return {"requestBody": {"required": True, "content": content}}


def answer_of(model: type[BaseModel], description: str = "OK") -> dict[str, Any]:
    """A JSON answer described by ``model``, for a route that returns its bytes itself."""
    return {"description": description, "content": {"application/json": {"schema": _schema(model)}}}


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
            entry = _problem(code)
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


def query_parameters(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that validates its query string against ``model`` itself
    (``deps.query_model``): one query parameter per field, as FastAPI documents declared ones."""
    properties = model.model_json_schema()["properties"]
    parameters = []
    for name, field in model.model_fields.items():
        parameter = {
            "name": name,
            "in": "query",
            "required": field.is_required(),
            "schema": properties[name],
        }
        if field.description:
            parameter["description"] = field.description
        parameters.append(parameter)
    return {"parameters": parameters}
