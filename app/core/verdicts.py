"""Normalised verdicts: a publisher's own rating label -> one verdict.

Publishers keep their own labels ("Pants on Fire", "Falso", "Four Pinocchios", "Fehlender
Kontext"); filters, facets, feeds and webhooks need one shared vocabulary to compare them. The
verdict is resolved in this order, the first answer wins:

    1. the publisher's own scale     the label (folded) or, when there is no label, the value
                                     of one of the scale's entries; the publisher knows best
    2. the built-in dictionary        schemas/verdicts.json: everyday labels in many languages
                                     and the published scales of well-known fact-checkers
    3. the numeric position           value within [worst, best] on a truth scale, best > worst
    4. "unknown"                      nothing matched; never silently "other"

A MediaReview's verdict is its ``mediaAuthenticityCategory``, mapped by the dictionary's
``media_authenticity`` table (Original -> true, Transformed -> false, Edited or cropped ->
misleading, Missing context -> misleading, Staged -> false, Satire or parody -> satire), so that
facets and the verdict filter work across both kinds; one without a category is rated like a
ClaimReview, from its rating.

The dictionary is data, not code, so that it can grow without a release and be published as
it is (``GET /v1/verdicts``); its version is stored with every verdict it produced. It is read
once, on first use, so importing this module does no I/O.

Labels are compared by ``fold``: case, accents, punctuation and spacing do not matter, but the
vowel signs and nuktas of Devanagari (and other scripts where marks are letters) are kept.

Numeric bands, on p = (value - worst) / (best - worst):

    p <= 0.125          false           1 of 1..5, 1-2 of 1..9
    0.125 < p <= 0.375  mostly_false    2 of 1..5
    0.375 < p < 0.625   mixed           3 of 1..5
    0.625 <= p < 0.875  mostly_true     4 of 1..5
    p >= 0.875          true            5 of 1..5
"""

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.core import textfold

VOCABULARY: tuple[str, ...] = (
    "true",
    "mostly_true",
    "mixed",
    "mostly_false",
    "false",
    "misleading",
    "unverifiable",
    "satire",
    "other",
    "unknown",
)

DICTIONARY_VERSION: str  # read from the dictionary file on first access, see __getattr__

_DICTIONARY_PATH = Path(__file__).resolve().parents[1] / "schemas" / "verdicts.json"

_SCALE_KEYS = frozenset({"best", "worst", "labels"})
_LABEL_KEYS = frozenset({"label", "value", "verdict", "image"})


def __getattr__(name: str) -> str:
    if name == "DICTIONARY_VERSION":
        return str(dictionary()["version"])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Labels repeat across reviews: remember their folded forms.
fold = lru_cache(maxsize=4096)(textfold.fold)


@lru_cache(maxsize=1)
def dictionary() -> dict[str, Any]:
    """Return the built-in dictionary (schemas/verdicts.json) as parsed; treat it as read-only."""
    with _DICTIONARY_PATH.open(encoding="utf-8") as file:
        data: dict[str, Any] = json.load(file)
    return data


@lru_cache(maxsize=1)
def _dictionary_index() -> dict[str, str]:
    return {fold(entry["label"]): entry["verdict"] for entry in dictionary()["entries"]}


@lru_cache(maxsize=1)
def _media_index() -> dict[str, dict[str, str]]:
    return {entry["category"]: entry for entry in dictionary()["media_authenticity"]}


def media_verdict(category: str) -> str:
    """The verdict a MediaReview's authenticity category maps to."""
    entry = _media_index().get(category)
    return entry["verdict"] if entry else "unknown"


def media_label(category: str) -> str:
    """An authenticity category as fact-checkers name it ("Missing context")."""
    entry = _media_index().get(category)
    return entry["label"] if entry else category


def normalise(
    *,
    label: str | None,
    value: float | None = None,
    best: float | None = None,
    worst: float | None = None,
    scale: dict[str, Any] | None = None,
) -> str:
    """Return the verdict for a rating: publisher scale, dictionary, numeric position, unknown.

    ``scale`` is the publisher's own scale as accepted by ``validate_scale``; its ``best`` and
    ``worst`` stand in for a rating that does not give its own.
    """
    folded = fold(label) if label is not None else ""
    if scale is not None:
        for entry in scale.get("labels", []):
            if folded and fold(entry["label"]) == folded:
                return str(entry["verdict"])
        if not folded and value is not None:
            for entry in scale.get("labels", []):
                if entry.get("value") is not None and entry["value"] == value:
                    return str(entry["verdict"])
        best = scale.get("best") if best is None else best
        worst = scale.get("worst") if worst is None else worst
    if folded in _dictionary_index():
        return _dictionary_index()[folded]
    return _position(value=value, best=best, worst=worst)


def _position(*, value: float | None, best: float | None, worst: float | None) -> str:
    if value is None or best is None or worst is None:
        return "unknown"
    if not all(math.isfinite(number) for number in (value, best, worst)):
        return "unknown"
    if not worst <= value <= best or best <= worst:
        return "unknown"
    position = (value - worst) / (best - worst)
    if position <= 0.125:
        return "false"
    if position <= 0.375:
        return "mostly_false"
    if position < 0.625:
        return "mixed"
    if position < 0.875:
        return "mostly_true"
    return "true"


def validate_scale(scale: Any) -> list[tuple[str, str]]:
    """Return the problems in a publisher scale as (JSON pointer, message); [] when it is fine.

    A scale is ``{"best": 5, "worst": 1, "labels": [{"label", "value", "verdict", "image"}]}``;
    ``best``/``worst`` are optional but go together, ``value`` and ``image`` are optional.
    """
    if not isinstance(scale, dict):
        return [("", "must be an object")]
    problems = [
        (_pointer(key), "is not a field of a rating scale")
        for key in sorted(scale.keys() - _SCALE_KEYS)
    ]
    best, worst = scale.get("best"), scale.get("worst")
    bounded = False
    if (best is None) != (worst is None):
        missing = "worst" if worst is None else "best"
        problems.append((_pointer(missing), "is required when the other bound is given"))
    elif best is not None:
        for key, number in (("best", best), ("worst", worst)):
            if not _is_number(number):
                problems.append((_pointer(key), "must be a finite number"))
        if _is_number(best) and _is_number(worst):
            if worst >= best:
                problems.append(("/worst", "must be less than best"))
            else:
                bounded = True
    labels = scale.get("labels")
    if not isinstance(labels, list) or not labels:
        problems.append(("/labels", "must be a non-empty list"))
        return problems
    seen_labels: dict[str, int] = {}
    seen_values: dict[float, int] = {}
    for index, entry in enumerate(labels):
        where = ("labels", str(index))
        if not isinstance(entry, dict):
            problems.append((_pointer(*where), "must be an object"))
            continue
        problems += [
            (_pointer(*where, key), "is not a field of a scale label")
            for key in sorted(entry.keys() - _LABEL_KEYS)
        ]
        text = entry.get("label")
        if not isinstance(text, str) or not fold(text):
            problems.append((_pointer(*where, "label"), "must be a non-empty text"))
        elif fold(text) in seen_labels:
            first = _pointer("labels", str(seen_labels[fold(text)]))
            problems.append((_pointer(*where, "label"), f"repeats the label at {first}"))
        else:
            seen_labels[fold(text)] = index
        verdict = entry.get("verdict")
        if verdict not in VOCABULARY or verdict == "unknown":
            allowed = ", ".join(v for v in VOCABULARY if v != "unknown")
            problems.append((_pointer(*where, "verdict"), f"must be one of: {allowed}"))
        value = entry.get("value")
        if value is not None:
            if not _is_number(value):
                problems.append((_pointer(*where, "value"), "must be a finite number"))
            elif bounded and not worst <= value <= best:
                problems.append((_pointer(*where, "value"), f"must be within [{worst}, {best}]"))
            elif value in seen_values:
                first = _pointer("labels", str(seen_values[value]))
                problems.append((_pointer(*where, "value"), f"repeats the value at {first}"))
            else:
                seen_values[value] = index
        image = entry.get("image")
        if image is not None and not _is_http_url(image):
            problems.append((_pointer(*where, "image"), "must be an http:// or https:// URL"))
    return problems


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str) or any(char.isspace() for char in value):
        return False
    parts = urlsplit(value)
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)
