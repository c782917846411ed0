"""Every field of a claim review, declared once, with its place in each shape a review takes.

A review goes in and out through several doors: native JSON (``app.core.document``); ClaimReview
JSON-LD, rendered by ``app.core.jsonld`` and read back by ``app.core.reader`` (the reads, the
feed, the NDJSON and JSON-LD exports and webhooks all carry the rendered bytes); the CSV export
(``app.services.syndication``); and Google's v1alpha1 pages (``app.core.google``). Each `Field`
names its value in every shape, or says with `Absent` why a shape by design has no place for it.
Paths are dotted, ``[]`` standing for each item of a list (``claim.appearances[].url``); a
Google path is inside a ``ClaimReviewMarkupPage``.

The other mappings are derived from this table, or tested against it where deriving would make
them worse (the renderer and the reader are plain code read far more often than changed, and
the import's and the CSV export's loops are hand-tuned):

    derived        jsonld.native_pointer (findings on the JSON-LD -> native fields), what a
                   Google page update keeps (google._kept: of the review, its rating,
                   claim and claimant), google.google_field (native -> Google names)
    tested         ReviewIn, ReviewPublic, both JSON Schemas, jsonld.render,
                   reader.to_native, normalise.localise, google.page_of and
                   to_document, syndication.CSV_COLUMNS and its cells (tests/core/test_fields.py);
                   every door over HTTP on a real database (tests/system/test_field_doors.py)

A field belongs to a ClaimReview, a MediaReview or both (``kinds``): a review of one kind
refuses the fields of the other (``document.ReviewIn``), ``itemReviewed`` is the claim of the
one and the media of the other (``jsonld.native_pointer`` takes the kind), and the every-field
reviews of tests/every_field.py set every field of their kind between them.

Adding an optional field (each step is held by a test that fails until it is done)
    1. Add a `Field` to FIELDS: its native path; its JSON-LD path, CSV column and Google path,
       or an `Absent` saying why that shape has no place for it; ``date=True`` for a date;
       ``kinds`` when only one kind of review has it.
    2. Add it to ``app/core/document.py`` (ReviewIn, and ReviewPublic for a top-level field), then
       run ``python scripts/export_schemas.py`` (``schemas/native-review.schema.json``), and
       describe it under "Native JSON" in ``docs/api.md``.
    3. Render it in ``app/core/jsonld.py``, read it back in ``app/core/reader.py`` and
       describe it in ``schemas/claimreview-jsonld.schema.json``.
    4. Set it to a value of its own in ``tests/every_field.py`` (in REVIEW, MEDIA_REVIEW or both;
       the schema tests use them too).
    5. Only if it has a CSV column: append the column to ``syndication.CSV_COLUMNS`` (at the
       end: partners read columns by position), fill it in ``syndication._csv_values`` and
       add it to the list of columns in ``docs/api.md`` ("Exports"). Only if
       Google shows it: map it in ``core.google`` (the markup model, ``markup_of``,
       ``to_document``); a field Google has no place for is kept by page updates with no
       code. Only if it is a date: add it to ``normalise.localise``.

That is eight files for a field of the native JSON and the JSON-LD alone (the docs page
included); a CSV column adds one (``app/services/syndication.py``), a Google field or a date one
each."""

from dataclasses import KW_ONLY, dataclass
from functools import lru_cache
from typing import Literal

Shape = Literal["jsonld", "csv", "google"]
Kind = Literal["claim", "media"]
KINDS: tuple[Kind, ...] = ("claim", "media")


@dataclass(frozen=True, slots=True)
class Absent:
    """A shape that by design has no place for a field, and why."""

    reason: str


@dataclass(frozen=True, slots=True)
class Field:
    """One value of a review: its native path and its place in each other shape."""

    native: str
    _: KW_ONLY
    jsonld: str | Absent
    csv: str | Absent
    google: str | Absent
    # Required within the object that holds it (url in a review, text in a correction).
    required: bool = False
    # An ISO 8601 date or date-time: markup's times without a zone are read in the publisher's.
    date: bool = False
    # How the items of a list share one CSV cell.
    csv_join: str = "; "
    # The kinds of review that have it: a ClaimReview's claim, a MediaReview's media.
    kinds: tuple[Kind, ...] = KINDS

    def place(self, shape: Shape) -> str | None:
        """The field's path (or column) in ``shape``; ``None`` when it has no place there."""
        where: str | Absent = getattr(self, shape)
        return where if isinstance(where, str) else None


_NOT_MARKUP = "how the service keeps the review, not what the ClaimReview says"
_CSV_SUMMARY = Absent(
    "the CSV is a one-row summary for spreadsheets, in the columns docs/api.md lists; the NDJSON "
    "and JSON-LD exports carry the whole markup"
)
_KEPT_BY_GOOGLE = Absent("Google's markup has no place for it: a page update keeps it")
_APPEARANCE_DETAIL = Absent(
    "Google shows an appearance by its URL only: the rest is kept with the appearance"
)
_MEDIA_IN_GOOGLE = Absent(
    "Google's pages hold ClaimReviews only (a MediaReview is in no page); claims:search shows "
    "a MediaReview's headline and authenticity"
)
_CLAIM: tuple[Kind, ...] = ("claim",)
_MEDIA: tuple[Kind, ...] = ("media",)
# Where a Google page holds each of its reviews.
GOOGLE_MARKUP = "claimReviewMarkups[]"


def _appearance(
    native: str, *, jsonld: str, url_csv: str | Absent, url_google: str
) -> tuple[Field, ...]:
    """The fields of an appearance of the claim (each of them, or the first one)."""
    return (
        Field(
            f"{native}.url",
            jsonld=f"{jsonld}.url",
            csv=url_csv,
            google=url_google,
            csv_join=" ",
            kinds=_CLAIM,
        ),
        Field(
            f"{native}.date_published",
            jsonld=f"{jsonld}.datePublished",
            csv=_CSV_SUMMARY,
            google=_APPEARANCE_DETAIL,
            date=True,
            kinds=_CLAIM,
        ),
        Field(
            f"{native}.archived_at",
            jsonld=f"{jsonld}.archivedAt",
            csv=_CSV_SUMMARY,
            google=_APPEARANCE_DETAIL,
            kinds=_CLAIM,
        ),
        Field(
            f"{native}.platform",
            jsonld=f"{jsonld}.publisher.name",
            csv=_CSV_SUMMARY,
            google=_APPEARANCE_DETAIL,
            kinds=_CLAIM,
        ),
        Field(
            f"{native}.image",
            jsonld=f"{jsonld}.image",
            csv=_CSV_SUMMARY,
            google=_APPEARANCE_DETAIL,
            kinds=_CLAIM,
        ),
    )


def _claimant(native: str, *, jsonld: str, kinds: tuple[Kind, ...]) -> tuple[Field, ...]:
    """The fields of a Person or Organization: who made a claim, or who posted media."""
    google = f"{GOOGLE_MARKUP}.claimAuthor" if kinds == _CLAIM else None
    return (
        Field(
            f"{native}.type",
            jsonld=f"{jsonld}.@type",
            csv="claimant_type" if google else _CSV_SUMMARY,
            google=Absent(
                "Google's claimAuthor has no type: kept, and Person when a jobTitle is sent"
            )
            if google
            else _MEDIA_IN_GOOGLE,
            kinds=kinds,
        ),
        Field(
            f"{native}.name",
            jsonld=f"{jsonld}.name",
            csv="claimant" if google else _CSV_SUMMARY,
            google=f"{google}.name" if google else _MEDIA_IN_GOOGLE,
            kinds=kinds,
        ),
        Field(
            f"{native}.job_title",
            jsonld=f"{jsonld}.jobTitle",
            csv=_CSV_SUMMARY,
            google=f"{google}.jobTitle" if google else _MEDIA_IN_GOOGLE,
            kinds=kinds,
        ),
        # Google shows the first link only; a page update keeps the others behind it.
        Field(
            f"{native}.same_as[]",
            jsonld=f"{jsonld}.sameAs[]",
            csv=_CSV_SUMMARY,
            google=f"{google}.sameAs" if google else _MEDIA_IN_GOOGLE,
            kinds=kinds,
        ),
        Field(
            f"{native}.image",
            jsonld=f"{jsonld}.image",
            csv=_CSV_SUMMARY,
            google=f"{google}.imageUrl" if google else _MEDIA_IN_GOOGLE,
            kinds=kinds,
        ),
    )


def _media(native: str, *, jsonld: str) -> tuple[Field, ...]:
    """The fields of a MediaReview's appearances of the media (schema.org MediaObjects)."""

    def field(
        name: str,
        path: str,
        *,
        csv: str | Absent = _CSV_SUMMARY,
        required: bool = False,
        date: bool = False,
    ) -> Field:
        return Field(
            f"{native}.{name}",
            jsonld=f"{jsonld}.{path}",
            csv=csv,
            google=_MEDIA_IN_GOOGLE,
            required=required,
            date=date,
            csv_join=" ",
            kinds=_MEDIA,
        )

    return (
        field("type", "@type", required=True),
        field("content_url", "contentUrl", csv="media_urls"),
        field("embed_url", "embedUrl"),
        field("start_time", "startTime"),
        field("end_time", "endTime"),
        field("date_published", "datePublished", date=True),
        *_claimant(f"{native}.author", jsonld=f"{jsonld}.author", kinds=_MEDIA),
        field("archived_at", "archivedAt"),
        field("image", "image"),
    )


FIELDS: tuple[Field, ...] = (
    Field(
        "publisher",
        jsonld=Absent("markup shows the publisher's organisation (PUBLISHER_CARD), not its slug"),
        csv="publisher",
        google=Absent("a page shows the publisher's card as claimReviewAuthor; the key decides"),
    ),
    Field(
        "external_id",
        jsonld=Absent("the CMS's own key: " + _NOT_MARKUP),
        csv=_CSV_SUMMARY,
        google=_KEPT_BY_GOOGLE,
    ),
    Field(
        "status",
        jsonld=Absent("only published reviews are markup (a retracted one is a tombstone)"),
        csv="status",
        google=Absent("a page holds published markup: writing one publishes it"),
    ),
    Field("url", jsonld="url", csv="url", google=f"{GOOGLE_MARKUP}.url", required=True),
    Field("headline", jsonld="headline", csv="headline", google=_KEPT_BY_GOOGLE),
    Field(
        "kind",
        jsonld=Absent("the node's @type says it: ClaimReview or MediaReview"),
        csv="kind",
        google=Absent("Google's pages hold ClaimReviews only: a page update keeps it"),
    ),
    Field(
        "claim_reviewed",
        jsonld="claimReviewed",
        csv="claim_reviewed",
        google=f"{GOOGLE_MARKUP}.claimReviewed",
        kinds=_CLAIM,
    ),
    Field("language", jsonld="inLanguage", csv="language", google=_KEPT_BY_GOOGLE),
    Field(
        "language_source",
        jsonld=Absent("how the service came by the language: " + _NOT_MARKUP),
        csv=_CSV_SUMMARY,
        google=_KEPT_BY_GOOGLE,
    ),
    Field(
        "date_published",
        jsonld="datePublished",
        csv="date_published",
        google="publishDate",
        date=True,
    ),
    Field(
        "rating.value",
        jsonld="reviewRating.ratingValue",
        csv="rating_value",
        google=f"{GOOGLE_MARKUP}.rating.ratingValue",
    ),
    Field(
        "rating.best",
        jsonld="reviewRating.bestRating",
        csv="rating_best",
        google=f"{GOOGLE_MARKUP}.rating.bestRating",
    ),
    Field(
        "rating.worst",
        jsonld="reviewRating.worstRating",
        csv="rating_worst",
        google=f"{GOOGLE_MARKUP}.rating.worstRating",
    ),
    Field(
        "rating.label",
        jsonld="reviewRating.alternateName",
        csv="rating_label",
        google=f"{GOOGLE_MARKUP}.rating.textualRating",
    ),
    Field(
        "rating.explanation",
        jsonld="reviewRating.ratingExplanation",
        csv="rating_explanation",
        google=f"{GOOGLE_MARKUP}.rating.ratingExplanation",
    ),
    Field(
        "rating.image",
        jsonld="reviewRating.image",
        csv=_CSV_SUMMARY,
        google=f"{GOOGLE_MARKUP}.rating.imageUrl",
    ),
    *_claimant("claim.author", jsonld="itemReviewed.author", kinds=_CLAIM),
    Field(
        "claim.date",
        jsonld="itemReviewed.datePublished",
        csv=_CSV_SUMMARY,
        google=f"{GOOGLE_MARKUP}.claimDate",
        date=True,
        kinds=_CLAIM,
    ),
    *_appearance(
        "claim.appearances[]",
        jsonld="itemReviewed.appearance[]",
        url_csv="appearance_urls",
        url_google=f"{GOOGLE_MARKUP}.claimAppearances[]",
    ),
    *_appearance(
        "claim.first_appearance",
        jsonld="itemReviewed.firstAppearance",
        url_csv=_CSV_SUMMARY,
        url_google=f"{GOOGLE_MARKUP}.claimFirstAppearance",
    ),
    Field(
        "claim.location",
        jsonld="itemReviewed.contentLocation.name",
        csv=_CSV_SUMMARY,
        google=f"{GOOGLE_MARKUP}.claimLocation",
        kinds=_CLAIM,
    ),
    Field(
        "authors[].name",
        jsonld="creator[].name",
        csv=_CSV_SUMMARY,
        google=_KEPT_BY_GOOGLE,
        required=True,
    ),
    Field("authors[].url", jsonld="creator[].url", csv=_CSV_SUMMARY, google=_KEPT_BY_GOOGLE),
    Field("image", jsonld="image", csv=_CSV_SUMMARY, google=_KEPT_BY_GOOGLE),
    Field("tags[]", jsonld="keywords[]", csv="tags", google=_KEPT_BY_GOOGLE),
    Field(
        "corrections[].date",
        jsonld="correction[].datePublished",
        csv=_CSV_SUMMARY,
        google=_KEPT_BY_GOOGLE,
        required=True,
        date=True,
    ),
    Field(
        "corrections[].text",
        jsonld="correction[].text",
        csv=_CSV_SUMMARY,
        google=_KEPT_BY_GOOGLE,
        required=True,
    ),
    Field(
        "media_authenticity",
        jsonld="mediaAuthenticityCategory",
        csv="media_authenticity",
        google=_MEDIA_IN_GOOGLE,
        kinds=_MEDIA,
    ),
    Field(
        "original_media_context",
        jsonld="originalMediaContextDescription",
        csv="original_media_context",
        google=_MEDIA_IN_GOOGLE,
        kinds=_MEDIA,
    ),
    Field(
        "original_media_link",
        jsonld="originalMediaLink",
        csv="original_media_link",
        google=_MEDIA_IN_GOOGLE,
        kinds=_MEDIA,
    ),
    *_media("media.appearances[]", jsonld="itemReviewed.mediaItemAppearance[]"),
)

# The publisher as the JSON-LD shows it (``author``, an Organization): not a field of the review
# but of its publisher, listed so that findings on it point at the publisher's fields.
PUBLISHER_CARD: tuple[tuple[str, str], ...] = (
    ("publisher.name", "author.name"),
    ("publisher.url", "author.url"),
    ("publisher.logo", "author.logo"),
    ("publisher.same_as[]", "author.sameAs[]"),
)


def steps(path: str) -> tuple[str, ...]:
    """A path's keys, without list marks: ``claim.appearances[].url`` -> claim, appearances, url."""
    return tuple(step.removesuffix("[]") for step in path.split("."))


@lru_cache
def absent_from(shape: Shape, under: str = "") -> tuple[str, ...]:
    """The keys directly under the native object ``under`` whose every field ``shape`` has no
    place for, in table order: what a write through ``shape`` leaves as it was."""
    prefix = steps(under) if under else ()
    keys: dict[str, bool] = {}
    for field in FIELDS:
        path = steps(field.native)
        if len(path) > len(prefix) and path[: len(prefix)] == prefix:
            key = path[len(prefix)]
            keys[key] = keys.get(key, False) or field.place(shape) is not None
    return tuple(key for key, shown in keys.items() if not shown)
