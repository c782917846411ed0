"""One folding of text for every comparison that should ignore spelling details: verdict
labels, the label and claimant filters, tags and full-text search — so a word folds the same
way in a query as in the review it should find.
"""

import re
import unicodedata

# Marks removed by fold(): the generic combining diacritics that Latin, Greek and Cyrillic
# letters decompose into, and Arabic harakat, hamza/madda signs and tatweel. Marks that are
# part of a word's spelling (Devanagari vowel signs, virama, nukta...) are kept: dropping them
# would turn one word into another.
_STRIPPED_MARKS = re.compile(
    "[\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
    "\u0610-\u061a\u0640\u064b-\u065f\u0670]"
)
# Apostrophes join a word ("C'eri quasi"), every other punctuation mark separates words.
_APOSTROPHES = re.compile("['\u2018\u2019\u02bc`]")


def fold(text: str) -> str:
    """Fold text for comparison: case, accents, punctuation and spacing are ignored.

    ``fold("Pants on fire!") == fold("PANTS  ON FIRE") == "pants on fire"`` and
    ``fold("Falsó") == "falso"``; Cyrillic, Arabic and Devanagari letters stay themselves.
    """
    if text.isascii():  # most text: no accents to strip, no compatibility forms
        return " ".join(text.lower().translate(_ASCII).split())
    return _fold_unicode(text)


def _fold_unicode(text: str) -> str:
    # NFKD on both sides of casefold: compatibility forms may decompose to capitals ("㎒").
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    text = _APOSTROPHES.sub("", _STRIPPED_MARKS.sub("", text))
    return " ".join(unicodedata.normalize("NFC", text.translate(_CHARACTERS)).split())


class _Characters(dict[int, str | None]):
    """What fold() makes of each character, for ``str.translate``: format characters (zero-width
    joiners and the like, which sit inside words) go, punctuation, symbols, separators and
    controls become spaces, everything else stays. Filled in as characters are met (up to a
    bound: text is input), which spares a Python loop over every character."""

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        category = unicodedata.category(char)
        if category == "Cf":
            result = None
        else:
            result = " " if category[0] in "PSZC" else char
        if len(self) < _MAX_REMEMBERED:
            self[code] = result
        return result


_MAX_REMEMBERED = 65_536
_CHARACTERS = _Characters()


# fold() of ASCII text, character by character: apostrophes go, the rest as _Characters says.
_ASCII = {code: None if chr(code) in "'`" else _CHARACTERS[code] for code in range(128)}
