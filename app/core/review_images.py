"""Which images a review names: the ones its markup already carries. Each is hashed by the
image worker and found again by search by image; its ``place`` (a native path with indexes)
says where the review names it."""

from typing import Any


def image_places(document: dict[str, Any]) -> list[tuple[str, str]]:
    """``(place, url)`` for every image of a stored review document, in document order: the
    review's ``image``, its rating's, each claim appearance's, and each media appearance's
    (a MediaReview's: its still ``image``, and ``content_url`` when the media is an image)."""
    found: list[tuple[str, str]] = []
    if url := document.get("image"):
        found.append(("image", url))
    if url := (document.get("rating") or {}).get("image"):
        found.append(("rating.image", url))
    claim = document.get("claim") or {}
    for index, appearance in enumerate(claim.get("appearances") or ()):
        if url := appearance.get("image"):
            found.append((f"claim.appearances[{index}].image", url))
    if url := (claim.get("first_appearance") or {}).get("image"):
        found.append(("claim.first_appearance.image", url))
    for index, appearance in enumerate((document.get("media") or {}).get("appearances") or ()):
        if appearance.get("type") == "ImageObject" and (url := appearance.get("content_url")):
            found.append((f"media.appearances[{index}].content_url", url))
        if url := appearance.get("image"):
            found.append((f"media.appearances[{index}].image", url))
    return found
