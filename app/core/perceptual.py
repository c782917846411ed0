"""Perceptual hashes of images, and the band index that finds near ones.

An image is known by two 64-bit hashes (``imagehash`` on Pillow): pHash, from the low
frequencies of its cosine transform, and dHash, from the gradient between neighbouring
pixels. A resized or re-compressed copy keeps both within a few bits; an unrelated picture
rarely comes near on both at once. bench/image_index_bench.py measured the rule kept here on
100,000 generated images: a match is within ``threshold`` bits on *both* hashes, 3 by default
(recall 0.99 for resizes, 0.96 for JPEG at quality 60, 0.03 false matches per query).

Finding near hashes without reading every row is multi-index hashing: the pHash's 64 bits
are split into ``BANDS`` bands of ``BAND_BITS`` bits, each an indexed column; a hash within d
bits of the query has, by the pigeonhole principle, at least one band within d // BANDS bits
of the query's same band. The lookup asks each band's index for those values (``probes``)
and computes the exact distances of the few rows found.

Both engines store the hashes as signed 64-bit integers (``signed``): neither has an unsigned
bigint, and the bits are what matters.
"""

import dataclasses
import io
import warnings

import imagehash
from PIL import Image, UnidentifiedImageError

BANDS = 4
BAND_BITS = 16
# Stored with every hash, so that ``claimreview images rehash`` can tell what a change of
# algorithm left behind.
HASH_VERSION = "phash-dhash-64/1"
# Pillow refuses larger images (decompression bombs): 8K video frames fit, a 2-GB canvas does not.
MAX_PIXELS = 50_000_000


class NotAnImage(ValueError):
    """The bytes are not an image Pillow can read, or are too large to decode safely."""


@dataclasses.dataclass(frozen=True, slots=True)
class Hashes:
    """An image's two hashes, as signed 64-bit integers, and its size in pixels."""

    phash: int
    dhash: int
    width: int
    height: int

    @property
    def bands(self) -> tuple[int, ...]:
        return bands(self.phash)


def hash_image(data: bytes) -> Hashes:
    """The hashes of an encoded image (PNG, JPEG, GIF, WebP...; its first frame)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise NotAnImage(
                        f"is {image.width}×{image.height} pixels, more than {MAX_PIXELS:,}"
                    )
                image.load()
                pixels = image.convert("RGB")
    except UnidentifiedImageError:
        # Pillow's own message names its in-memory file object: nothing a client can act on.
        raise NotAnImage("is not an image that can be read (no format Pillow knows)") from None
    except (Image.DecompressionBombWarning, OSError, SyntaxError) as error:
        raise NotAnImage(f"is not an image that can be read ({error})") from None
    return Hashes(
        phash=signed(_bits(imagehash.phash(pixels))),
        dhash=signed(_bits(imagehash.dhash(pixels))),
        width=pixels.width,
        height=pixels.height,
    )


def _bits(value: object) -> int:
    return int(str(value), 16)


def signed(value: int) -> int:
    """An unsigned 64-bit value as the signed bigint both engines store."""
    return value - (1 << 64) if value >= 1 << 63 else value


def unsigned(value: int) -> int:
    return value & 0xFFFF_FFFF_FFFF_FFFF


def distance(a: int, b: int) -> int:
    """The Hamming distance between two 64-bit hashes, signed or not."""
    return unsigned(a ^ b).bit_count()


def bands(value: int) -> tuple[int, ...]:
    """The ``BANDS`` bands of a hash, lowest bits first, each a non-negative integer."""
    bits = unsigned(value)
    mask = (1 << BAND_BITS) - 1
    return tuple((bits >> (BAND_BITS * band)) & mask for band in range(BANDS))


def probes(band: int, threshold: int) -> list[int]:
    """Every band value within ``threshold // BANDS`` bits of ``band`` (itself first): the
    values a band's index is asked for so that no hash within ``threshold`` is missed."""
    found = [band]
    frontier = [(band, -1)]
    for _ in range(threshold // BANDS):
        frontier = [
            (value ^ (1 << bit), bit)
            for value, last in frontier
            for bit in range(last + 1, BAND_BITS)
        ]
        found.extend(value for value, _ in frontier)
    return found
