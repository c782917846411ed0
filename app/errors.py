"""Domain errors and their one renderer: RFC 9457 ``application/problem+json``.

    APIError (500)
     ├── BadRequest (400) ── InvalidCursor, MalformedBody
     ├── Unauthorized (401)
     ├── Forbidden (403)
     ├── NotFound (404)
     ├── Conflict (409)
     ├── Gone (410)
     ├── PreconditionFailed (412)
     ├── PayloadTooLarge (413)
     ├── UnsupportedMediaType (415)
     └── Unprocessable (422)

Input problems carry ``errors``: ``[{"path", "message"}]`` where ``path`` is a JSON pointer into
the request body, or the name of the query parameter or header.
"""

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from app.core.pointers import json_pointer

PROBLEM_JSON = "application/problem+json"
CLIENT_CLOSED_REQUEST = 499
logger = logging.getLogger("claimreview.errors")


class APIError(Exception):
    status = 500
    title = "Internal Server Error"
    code = "internal-error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[dict[str, Any]] = (),
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = list(errors)
        self.headers = headers or {}
        self.extra = extra


class BadRequest(APIError):
    status, title, code = 400, "Bad Request", "bad-request"


class MalformedBody(BadRequest):
    title, code = "Malformed request body", "malformed-body"


class InvalidCursor(BadRequest):
    title, code = "Invalid cursor", "invalid-cursor"


class Unauthorized(APIError):
    status, title, code = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="claimreview"'})


class Forbidden(APIError):
    status, title, code = 403, "Forbidden", "forbidden"


class NotFound(APIError):
    status, title, code = 404, "Not Found", "not-found"


class Conflict(APIError):
    status, title, code = 409, "Conflict", "conflict"


class Gone(APIError):
    status, title, code = 410, "Gone", "gone"


class RequestTimeout(APIError):
    status, title, code = 408, "Request Timeout", "request-timeout"


class PreconditionFailed(APIError):
    status, title, code = 412, "Precondition Failed", "precondition-failed"


class PayloadTooLarge(APIError):
    status, title, code = 413, "Payload Too Large", "payload-too-large"


class URITooLong(APIError):
    status, title, code = 414, "URI Too Long", "uri-too-long"


class UnsupportedMediaType(APIError):
    status, title, code = 415, "Unsupported Media Type", "unsupported-media-type"


class Unprocessable(APIError):
    status, title, code = 422, "Unprocessable Content", "invalid-input"


class RequestHeaderFieldsTooLarge(APIError):
    status, title, code = 431, "Request Header Fields Too Large", "request-header-fields-too-large"


class TooManyRequests(APIError):
    status, title, code = 429, "Too Many Requests", "too-many-requests"


class ServiceUnavailable(APIError):
    status, title, code = 503, "Service Unavailable", "service-unavailable"


def problem_body(
    *,
    status: int,
    title: str,
    code: str,
    detail: str,
    errors: Sequence[dict[str, Any]] = (),
    **extra: Any,
) -> bytes:
    body: dict[str, Any] = {
        "type": f"urn:claimreview:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = list(errors)
    body.update(extra)
    return orjson.dumps(body)


def problem_response(error: APIError) -> Response:
    body = problem_body(
        status=error.status,
        title=error.title,
        code=error.code,
        detail=error.detail,
        errors=error.errors,
        **error.extra,
    )
    return Response(body, status_code=error.status, media_type=PROBLEM_JSON, headers=error.headers)


def _message(error: Mapping[str, Any]) -> str:
    return str(error["msg"]).removeprefix("Value error, ")


def input_errors(error: ValidationError, *, prefix: Sequence[Any] = ()) -> list[dict[str, str]]:
    """Pydantic errors of a request body as ``[{path, message}]`` with JSON pointers."""
    return [
        {"path": json_pointer([*prefix, *item["loc"]]), "message": _message(item)}
        for item in error.errors(include_url=False)
    ]


def _request_validation_errors(error: RequestValidationError) -> list[dict[str, str]]:
    found = []
    for item in error.errors():
        where, *rest = item["loc"] or ("body",)
        # Body fields get a JSON pointer; query, path and header fields are named as sent.
        path = json_pointer(rest) if where == "body" else ".".join(str(part) for part in rest)
        found.append({"path": path or "/", "message": _message(item)})
    return found


def install(app: FastAPI) -> None:
    """Render every error the service can raise as problem+json."""

    @app.exception_handler(APIError)
    async def _api_error(_request: Request, error: APIError) -> Response:
        return problem_response(error)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, error: RequestValidationError) -> Response:
        return problem_response(
            Unprocessable("The request is not valid.", errors=_request_validation_errors(error))
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, error: StarletteHTTPException) -> Response:
        generic = APIError(str(error.detail), headers=dict(error.headers or {}))
        generic.status, generic.title = error.status_code, _reason(error.status_code)
        generic.code = generic.title.lower().replace(" ", "-")
        return problem_response(generic)

    @app.exception_handler(ClientDisconnect)
    async def _hung_up(request: Request, _error: ClientDisconnect) -> Response:
        """The client closed the connection before its body arrived: nobody is left to answer,
        and it is not the service's fault, so no 500 and no traceback. 499 is nginx's "client
        closed request": what the access log and the metrics count it as."""
        logger.info(
            "the client closed the connection during %s %s", request.method, request.url.path
        )
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(APIError("An unexpected error occurred; it has been logged."))


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
