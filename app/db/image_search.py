"""The images near a query image: the part of search by image that is about images alone.

``near_images`` is the SQL of one lookup, for SQLite or PostgreSQL: the hashed images whose
pHash *and* dHash are both within ``threshold`` bits of the query's (the rule and default that
bench/image_index_bench.py chose). It never reads every hash: the pHash's four 16-bit bands are
indexed columns, and a hash within d bits of the query has a band within d // 4 bits of the
query's same band (app.core.perceptual, "multi-index hashing"), so the lookup asks the four band
indexes for those values and computes the exact distances of the few rows found.
``app.db.query.image_matches`` joins these images to the reviews that name them and applies the
list filters; it is the only caller. Only hashes of the current ``perceptual.HASH_VERSION`` are
compared: images hashed by an older algorithm wait for ``claimreview images rehash``.

Hamming distance: PostgreSQL counts the bits of the XOR (``bit_count`` of a ``bit(64)``, 14+);
SQLite has no such built-in, so every connection gets a deterministic ``hamming`` function
(app.db.engine.add_sqlite_functions).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.core import perceptual

_HAMMING = {
    "sqlite": "hamming({column}, {value})",
    "postgresql": "bit_count(({column} # {value}::bigint)::bit(64))",
}
_BAND_COLUMNS = tuple(f"i.band{band}" for band in range(perceptual.BANDS))


@dataclass(frozen=True, slots=True)
class ImageQuery:
    """A query image's hashes (signed, as stored) and the largest distance on each hash."""

    phash: int
    dhash: int
    threshold: int

    @classmethod
    def of(cls, hashes: perceptual.Hashes, threshold: int) -> "ImageQuery":
        return cls(phash=hashes.phash, dhash=hashes.dhash, threshold=threshold)


def near_images(image: ImageQuery, *, dialect: str, param: Callable[[Any], str]) -> str:
    """A SELECT answering ``(image_id, url, phash_distance, dhash_distance)`` for every hashed
    image within ``image.threshold`` bits of the query on both hashes. ``param`` adds a bound
    parameter and returns its placeholder (placeholders are positional: called in order)."""
    hamming = _HAMMING[dialect]
    phash = hamming.format(column="i.phash", value=param(image.phash))
    dhash = hamming.format(column="i.dhash", value=param(image.dhash))
    probed = []
    for column, band in zip(_BAND_COLUMNS, perceptual.bands(image.phash), strict=True):
        values = perceptual.probes(band, image.threshold)
        if dialect == "sqlite":
            probed.append(f"{column} IN ({', '.join(param(value) for value in values)})")
        else:
            # One array parameter: a wide threshold asks for thousands of values per band.
            probed.append(f"{column} = ANY({param(values)}::integer[])")
    # "+i.status": SQLite must not read the status index (every hashed image) instead of the
    # bands'; the unary plus keeps the condition and hides the column from the planner.
    status = "+i.status" if dialect == "sqlite" else "i.status"
    candidates = (
        f"SELECT i.id AS image_id, i.url, {phash} AS phash_distance, {dhash} AS dhash_distance"
        f" FROM image i WHERE ({' OR '.join(probed)})"
        f" AND {status} = 'hashed' AND i.hash_version = {param(perceptual.HASH_VERSION)}"
    )
    threshold = image.threshold
    return (
        f"SELECT c.image_id, c.url, c.phash_distance, c.dhash_distance FROM ({candidates}) c"
        f" WHERE c.phash_distance <= {param(threshold)} AND c.dhash_distance <= {param(threshold)}"
    )
