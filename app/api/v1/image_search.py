"""``POST /v1/image-search``: search by image with an uploaded image, or with an image URL in a
JSON body (``GET /v1/claim-reviews?image_url=`` is the same search as a link). The list's
filters, paging and visibility rules apply, as query parameters; app/api/by_image.py does the
rest. Its body may be as large as an image the service fetches (``CLAIMREVIEW_IMAGE_MAX_BYTES``,
app/main.py), not the ordinary request body limit.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.responses import Response

from app.api import by_image, openapi
from app.api.deps import Body, json_body, media_type, validated
from app.api.v1.search import FilterParams, Filters
from app.core.document import ReviewPublic, check_http_url
from app.db.image_search import ImageQuery
from app.errors import Unprocessable, UnsupportedMediaType

router = APIRouter(tags=["query"])
MULTIPART = "multipart/form-data"
# An HTML form posts its fields url-encoded unless it uploads a file.
FORMS = (MULTIPART, "application/x-www-form-urlencoded")


class ImageSearchParams(FilterParams):
    """The list's filters, and the page."""

    limit: int = Field(20, ge=1, le=100, description="Reviews per page.")
    cursor: str | None = Field(
        None,
        max_length=1000,
        description="The `next_cursor` of the previous page (send the same image again).",
    )


class ImageUrl(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_url: str = Field(max_length=2048, description="An http(s) URL of the image.")


class MatchedImage(BaseModel):
    place: str = Field(description="Where the review names it, e.g. `rating.image`.")
    url: str
    distance: int = Field(description="`phash_distance + dhash_distance`.")
    phash_distance: int
    dhash_distance: int


class ImageMatch(BaseModel):
    distance: int = Field(description="The distance of the review's nearest image.")
    images: list[MatchedImage] = Field(description="The review's images that matched.")


class ImageMatchedReview(ReviewPublic):
    image_match: ImageMatch


class ImageSearchPage(BaseModel):
    """Reviews whose images look like the query image, nearest first."""

    items: list[ImageMatchedReview]
    next_cursor: str | None


_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            MULTIPART: {
                "schema": {
                    "type": "object",
                    "properties": {
                        "image": {"type": "string", "format": "binary"},
                        "image_url": {"type": "string", "maxLength": 2048},
                    },
                    "description": "The image file as `image`, or its URL as `image_url`.",
                }
            },
            "application/json": {"schema": ImageUrl.model_json_schema()},
        },
    }
}


@router.post(
    "/v1/image-search",
    responses={200: openapi.answer_of(ImageSearchPage), **openapi.responses(401, 413, 415, 422)},
    openapi_extra=_BODY,
)
async def image_search(request: Request, params: Annotated[ImageSearchParams, Query()]) -> Response:
    """Find the reviews whose images look like the image sent (a file or a URL), nearest first."""
    filters = Filters(params)
    review_filter = await filters.visible_to(request)
    image = await _query_image(request)
    body, _ = await by_image.v1_page(
        request,
        review_filter,
        image,
        scope_key=by_image.scope(image, "image-search", filters.raw),
        cursor=params.cursor,
        limit=params.limit,
    )
    return Response(body, media_type="application/json")


async def _query_image(request: Request) -> ImageQuery:
    kind = media_type(request)
    if kind in FORMS:
        return await _uploaded(request)
    if kind != "application/json":
        raise UnsupportedMediaType(
            f"Send the image as {MULTIPART} (field 'image'), or its URL as application/json "
            "({\"image_url\": ...}) or as the form field 'image_url'."
        )
    body: Body = await json_body(request)
    image_url = validated(ImageUrl, body.data).image_url
    return await by_image.image_from_url(request, _url(image_url), field_name="/image_url")


async def _uploaded(request: Request) -> ImageQuery:
    # The form's files are spooled to temporary files: closed when the block ends.
    async with request.form(max_files=1, max_fields=10) as form:
        image: Any = form.get("image")
        image_url = form.get("image_url")
        if image is not None and image_url is not None:
            raise _one_of("give either an image or an image_url, not both")
        if isinstance(image_url, str):
            checked = validated(ImageUrl, {"image_url": image_url}).image_url
            return await by_image.image_from_url(request, _url(checked), field_name="/image_url")
        if not isinstance(image, UploadFile):
            raise _one_of("send the image file as the field 'image', or its URL as 'image_url'")
        data = await image.read()
    return await by_image.image_from_bytes(request, data, field_name="/image")


def _one_of(message: str) -> Unprocessable:
    return Unprocessable(
        f"The request body is not valid: {message}.",
        errors=[{"path": "/image", "message": message}],
    )


def _url(value: str) -> str:
    try:
        return check_http_url(value.strip())
    except ValueError as error:
        raise Unprocessable(
            f"The request body is not valid: 'image_url' {error}.",
            errors=[{"path": "/image_url", "message": str(error)}],
        ) from None
