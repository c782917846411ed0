"""The native JSON shape of a fact-check, as pydantic models.

These models decide what can be *stored*: wrong types, unknown fields, non-http(s) URLs,
impossible dates and malformed language tags are refused for drafts and published reviews alike.
Whether a stored review is good enough to *publish* is the validator's job (`validation.py`),
which works on the rendered JSON-LD.

Values are normalised here so that every later step sees one spelling: dates become ISO 8601
(date-only stays date-only; times are converted to UTC), language tags get BCP-47 casing.
"""

import math
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, overload
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from app.core.bounds import SAFE_INTEGER
from app.core.security import PARTNER_SCOPES
from app.core.validation import MEDIA_AUTHENTICITY, Finding

_LANGUAGE_TAG = re.compile(
    r"^(?P<lang>[A-Za-z]{2,3})(?:-(?P<script>[A-Za-z]{4}))?(?:-(?P<region>[A-Za-z]{2}|\d{3}))?"
    r"(?P<rest>(?:-(?:[A-Za-z\d]{5,8}|\d[A-Za-z\d]{3}))*)$"
)
# Whitespace (\s is str.isspace in a str pattern), control characters, and <>"{}|\^`.
_UNSAFE_URL_CHARACTER = re.compile(r'[\s\x00-\x1f<>"{}|\\^`]')
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# An http(s) URL with a plain host name and none of those characters: most URLs, which
# check_http_url then accepts without parsing them.
_PLAIN_HTTP_URL = re.compile(
    r"https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?"
    r'(?:[/?#][^\s\x00-\x1f<>"{}|\\^`]*)?'
)
_HOST_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"


def article_url(url: str) -> str:
    return url.split("#", 1)[0]


def markup_source(
    node: Any, *, media_type: str, page_url: str | None = None, pointer: str | None = None
) -> dict[str, Any]:
    """What a revision keeps of the markup it was read from, so that an editor can always see
    what the markup said before it was repaired: ``node`` as received, the ``page_url`` it
    came from, the ``media_type`` of the input, and the JSON ``pointer`` to where the node sat
    in that input. Keys without a value are left out."""
    source: dict[str, Any] = {"node": node}
    if page_url is not None:
        source["page_url"] = page_url
    source["media_type"] = media_type
    if pointer is not None:
        source["pointer"] = pointer
    return source


def check_http_url(value: str) -> str:
    """Accept only absolute http(s) URLs with a host (no javascript:, data:, ftp:...)."""
    if _PLAIN_HTTP_URL.fullmatch(value):
        return value
    return _check_parsed_url(value)


def _check_parsed_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    if _UNSAFE_URL_CHARACTER.search(value):
        raise ValueError('must not contain spaces, control characters or any of <>"{}|\\^`')
    return value


def check_number(value: Any) -> float | int:
    """A JSON number (not a bool, not a numeric string), finite and within ±``SAFE_INTEGER``;
    ints stay ints."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    if not -SAFE_INTEGER <= value <= SAFE_INTEGER:
        raise ValueError(f"must be between -{SAFE_INTEGER} and {SAFE_INTEGER}")
    return value


def normalise_date(value: Any) -> str:
    """Return an ISO 8601 date, or an ISO 8601 UTC timestamp when a time is given."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return value.isoformat()
    elif isinstance(value, str):
        text = value.strip()
        if _DATE_ONLY.match(text):
            return date.fromisoformat(text).isoformat()
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError("must be an ISO 8601 date (YYYY-MM-DD) or date-time") from None
    else:
        raise ValueError("must be an ISO 8601 date string")
    try:
        return format_timestamp(moment)
    except OverflowError:
        # 0001-01-01T00:00+01:00 or 9999-12-31T23:00-05:00: in UTC, a year Python cannot hold.
        raise ValueError("must fall between the years 1 and 9999 in UTC") from None


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC. A naive one is UTC already: every stored time is, and SQLite hands
    them back without their zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``."""
    moment = utc(moment)
    spec = "seconds" if moment.microsecond == 0 else "milliseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def normalise_language(value: str) -> str:
    match = _LANGUAGE_TAG.match(value)
    if not match:
        raise ValueError("must be a BCP 47 language tag such as 'en' or 'pt-BR'")
    tag = match["lang"].lower()
    if match["script"]:
        tag += "-" + match["script"].title()
    if match["region"]:
        tag += "-" + match["region"].upper()
    return tag + match["rest"].lower()


def many(value: Any) -> list[Any]:
    """A JSON-LD value as a list: none for an absent one, one, or the list it is."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@overload
def prune(value: dict[str, Any]) -> dict[str, Any]: ...
@overload
def prune(value: list[Any]) -> list[Any]: ...


def prune(value: Any) -> Any:
    """Drop nulls, empty lists and empty objects at every depth (the stored form has none).

    Plain loops with the checks inline, no call per scalar: every review written or imported
    is pruned at least twice, and a call per value made this a tenth of an import's CPU. Its
    input is JSON as parsed or dumped (plain dicts and lists); a subclass is kept as it is."""
    if type(value) is dict:
        pruned = {}
        for key, item in value.items():
            if item is None:
                continue
            if type(item) is dict or type(item) is list:
                item = prune(item)
                if not item:
                    continue
            pruned[key] = item
        return pruned
    if type(value) is list:
        kept = []
        for item in value:
            if item is None:
                continue
            if type(item) is dict or type(item) is list:
                item = prune(item)
                if not item:
                    continue
            kept.append(item)
        return kept
    return value


def check_no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL (storing one was a 500), and no fact-check needs one."""
    if "\x00" in value:
        raise ValueError("must not contain NUL (U+0000) characters")
    return value


NoNul = AfterValidator(check_no_nul)
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000), NoNul
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), NoNul
]
# Names and ids whose columns hold 200 characters.
Text200 = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul
]
Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=2048),
    AfterValidator(check_http_url),
    WithJsonSchema({"type": "string", "format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"}),
]
IsoDate = Annotated[
    str,
    BeforeValidator(normalise_date),
    WithJsonSchema(
        {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}(T.+)?$", "description": "ISO 8601"}
    ),
]
LanguageTag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=35),
    AfterValidator(normalise_language),
    WithJsonSchema({"type": "string", "pattern": _LANGUAGE_TAG.pattern, "description": "BCP 47"}),
]
LanguageSource = Annotated[
    Literal["detected"],
    Field(
        description='"detected": no language was given and this one was detected from the '
        "claim's text; a write that sets language replaces it."
    ),
]


def check_time_zone(value: str) -> str:
    """An IANA time zone name that this machine's zone database knows ("Europe/Paris")."""
    try:
        ZoneInfo(value)
    except (ValueError, ZoneInfoNotFoundError):
        raise ValueError("must be an IANA time zone name such as 'Europe/Paris'") from None
    return value


TimeZone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(check_time_zone),
    WithJsonSchema(
        {
            "type": "string",
            "description": "IANA time zone: markup's date-times without a zone are read in it.",
        }
    ),
]
Number = Annotated[
    float | int,
    PlainValidator(check_number),
    WithJsonSchema({"type": "number", "minimum": -SAFE_INTEGER, "maximum": SAFE_INTEGER}),
]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")]
# A host name a publisher's articles live on (``domains``).
Host = Annotated[str, StringConstraints(max_length=253, pattern=_HOST_PATTERN)]


def _partner_scope(scope: str) -> str:
    if scope not in PARTNER_SCOPES:
        raise ValueError(
            f"'{scope[:64]}' is not a partner scope: a partner's key holds only "
            f"{' and '.join(PARTNER_SCOPES)}"
        )
    return scope


PartnerScope = Annotated[
    str, AfterValidator(_partner_scope), Field(json_schema_extra={"enum": list(PARTNER_SCOPES)})
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, str_strip_whitespace=True)


class Rating(_Strict):
    value: Number | None = None
    best: Number | None = None
    worst: Number | None = None
    label: ShortText | None = None
    explanation: Text | None = None
    image: Url | None = None


class Claimant(_Strict):
    type: Literal["Person", "Organization"] = "Person"
    name: ShortText | None = None
    job_title: ShortText | None = None
    same_as: list[Url] = Field(default_factory=list, max_length=20)
    image: Url | None = None

    @field_validator("job_title")
    @classmethod
    def _job_title_is_for_people(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("type") == "Organization":
            raise ValueError("an Organization has no job_title")
        return value


class Appearance(_Strict):
    url: Url | None = None
    date_published: IsoDate | None = None
    archived_at: Url | None = None
    platform: ShortText | None = None
    # A still of the post or page (a screenshot): hashed for search by image.
    image: Url | None = None


class Claim(_Strict):
    author: Claimant | None = None
    date: IsoDate | None = None
    appearances: list[Appearance] = Field(default_factory=list, max_length=100)
    first_appearance: Appearance | None = None
    location: ShortText | None = None


# Literal of a tuple is the Literal of its items: the categories stay listed in one place.
MediaAuthenticity = Literal[MEDIA_AUTHENTICITY]  # type: ignore[valid-type]
_MEDIA_TIME = re.compile(r"^(\d{1,2}):([0-5]\d)(?::([0-5]\d)(\.\d{1,3})?)?$")


def normalise_media_time(value: Any) -> str:
    """A moment within a clip as ``HH:MM:SS`` (``1:05`` is ``00:01:05``), as Google's Fact
    Check Markup Tool asks for the timestamps of a video's edit."""
    match = _MEDIA_TIME.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError("must be a time within the media as HH:MM:SS (e.g. 00:01:05)")
    first, second, third, fraction = match.groups()
    if third is None:  # M:SS
        hours, minutes, seconds = 0, int(first), int(second)
    else:
        hours, minutes, seconds = int(first), int(second), int(third)
    if minutes > 59:
        raise ValueError("must be a time within the media as HH:MM:SS (e.g. 00:01:05)")
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{fraction or ''}"


MediaTime = Annotated[
    str,
    BeforeValidator(normalise_media_time),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{2}:\d{2}:\d{2}(\.\d{1,3})?$",
            "description": "HH:MM:SS from the start of the media",
        }
    ),
]


class MediaAppearance(_Strict):
    """One copy of the reviewed picture, clip or recording, where it was seen."""

    type: Literal["ImageObject", "VideoObject", "AudioObject"]
    content_url: Url | None = None
    embed_url: Url | None = None
    start_time: MediaTime | None = None
    end_time: MediaTime | None = None
    date_published: IsoDate | None = None
    author: Claimant | None = None
    archived_at: Url | None = None
    # A still of the media (a frame of a clip, a screenshot of the post): hashed for search.
    image: Url | None = None


class Media(_Strict):
    """What a MediaReview reviews: the appearances of one picture, clip or recording."""

    appearances: list[MediaAppearance] = Field(default_factory=list, max_length=100)


class FactChecker(_Strict):
    name: ShortText
    url: Url | None = None


class Correction(_Strict):
    date: IsoDate
    text: Text


ReviewKind = Annotated[
    Literal["claim", "media"],
    Field(
        description='"claim": a schema.org ClaimReview of a claim; "media": a MediaReview of a '
        "picture, clip or recording (media_authenticity, media)."
    ),
]
# The fields only one kind of review has: the other kind refuses them (`ReviewIn`).
CLAIM_ONLY = ("claim_reviewed", "claim")
MEDIA_ONLY = ("media_authenticity", "original_media_context", "original_media_link", "media")


class ReviewIn(_Strict):
    """A claim review as a CMS writes it (POST, PUT, upsert; PATCH merges into it)."""

    publisher: Slug | None = Field(default=None, description="Admins only; keys imply it.")
    external_id: Text200 | None = None
    status: Literal["draft", "published"] = "published"
    kind: ReviewKind = "claim"
    url: Url
    headline: Text | None = None
    claim_reviewed: Text | None = None
    language: LanguageTag | None = None
    language_source: LanguageSource | None = None
    date_published: IsoDate | None = None
    rating: Rating | None = None
    claim: Claim | None = None
    authors: list[FactChecker] = Field(default_factory=list, max_length=50)
    image: Url | None = None
    tags: list[ShortText] = Field(default_factory=list, max_length=100)
    corrections: list[Correction] = Field(default_factory=list, max_length=100)
    media_authenticity: MediaAuthenticity | None = None
    original_media_context: Text | None = None
    original_media_link: Url | None = None
    media: Media | None = None

    @field_validator(*CLAIM_ONLY, *MEDIA_ONLY)
    @classmethod
    def _field_of_its_kind(cls, value: Any, info: ValidationInfo) -> Any:
        """A ClaimReview has no media, a MediaReview no claim: refused by name, never dropped.
        (``kind`` is declared first, so it is validated before these.)"""
        kind = info.data.get("kind")
        if value is None or kind is None:
            return value
        if kind == "claim" and info.field_name in MEDIA_ONLY:
            raise ValueError('is a field of a MediaReview: set kind to "media" to review media')
        if kind == "media" and info.field_name in CLAIM_ONLY:
            raise ValueError(
                'is a field of a ClaimReview: a review of kind "media" reviews media, not a claim'
            )
        return value

    def document(self) -> dict[str, Any]:
        """The stored form: no nulls, no empty lists, no server-owned fields; ``kind`` only for
        a MediaReview (a document without it is a ClaimReview, as every one written before
        MediaReviews were)."""
        exclude = {"publisher"} if self.kind == "media" else {"publisher", "kind"}
        return prune(self.model_dump(exclude=exclude))


class CorrectionIn(_Strict):
    text: Text
    date: IsoDate | None = None


class ReviewPublic(BaseModel):
    """A stored review as the API returns it in native JSON."""

    id: str
    publisher: str
    external_id: str | None = None
    status: Literal["draft", "published", "retracted"]
    kind: ReviewKind = "claim"
    url: str
    headline: str | None = None
    claim_reviewed: str | None = None
    language: str | None = None
    language_source: LanguageSource | None = None
    date_published: str | None = None
    rating: Rating | None = None
    verdict: str
    verdict_dictionary_version: str
    claim: Claim | None = None
    authors: list[FactChecker] = []
    image: str | None = None
    tags: list[str] = []
    corrections: list[Correction] = []
    media_authenticity: MediaAuthenticity | None = None
    original_media_context: str | None = None
    original_media_link: str | None = None
    media: Media | None = None
    version: int
    created_at: str
    updated_at: str
    findings: list[Finding] = []


class ReviewPage(BaseModel):
    """One page of a listing; follow ``next_cursor`` (or the Link header) for the next."""

    items: list[ReviewPublic]
    next_cursor: str | None


class ScaleLabel(_Strict):
    label: ShortText
    value: Number | None = None
    verdict: str
    image: Url | None = None


class RatingScale(_Strict):
    """A publisher's own rating scale: its labels, numbers and the verdict each maps to."""

    best: Number | None = None
    worst: Number | None = None
    labels: list[ScaleLabel] = Field(min_length=1, max_length=100)
