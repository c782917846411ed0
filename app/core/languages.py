"""Language tags from what markup writes (``en_US``, ``EN``, ``Português``), and detection.

Detection uses py3langid, which ships its own model (97 languages, a few MB, loaded once per
process in about a second; nothing is downloaded). lingua-language-detector was measured here
first: in its accurate mode it took 8-10 s and 750-890 MB per process to load, and its low
accuracy mode read a Portuguese claim as French.
"""

import re
import unicodedata
from functools import cache
from typing import Any

from app.core.document import normalise_language

_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")
# English and native names of the languages fact-checkers publish in, folded (lower case, no
# accents): the names markup gives instead of a tag.
_NAMES = {
    "ar": ("arabic", "العربية", "عربي"),
    "bn": ("bengali", "bangla", "বাংলা"),
    "bg": ("bulgarian", "български"),
    "ca": ("catalan", "catala"),
    "cs": ("czech", "cestina"),
    "da": ("danish", "dansk"),
    "de": ("german", "deutsch"),
    "el": ("greek", "ελληνικα"),
    "en": ("english",),
    "es": ("spanish", "espanol", "castellano"),
    "fa": ("persian", "farsi", "فارسی"),
    "fi": ("finnish", "suomi"),
    "fr": ("french", "francais"),
    "gu": ("gujarati", "ગુજરાતી"),
    "he": ("hebrew", "עברית"),
    "hi": ("hindi", "हिन्दी", "हिंदी"),
    "hr": ("croatian", "hrvatski"),
    "hu": ("hungarian", "magyar"),
    "id": ("indonesian", "bahasa indonesia"),
    "it": ("italian", "italiano"),
    "ja": ("japanese", "日本語"),
    "ka": ("georgian", "ქართული"),
    "kn": ("kannada", "ಕನ್ನಡ"),
    "ko": ("korean", "한국어"),
    "ml": ("malayalam", "മലയാളം"),
    "mr": ("marathi", "मराठी"),
    "ms": ("malay", "bahasa melayu"),
    "my": ("burmese", "myanmar"),
    "ne": ("nepali", "नेपाली"),
    "nl": ("dutch", "nederlands"),
    "no": ("norwegian", "norsk"),
    "pa": ("punjabi", "ਪੰਜਾਬੀ"),
    "pl": ("polish", "polski"),
    "pt": ("portuguese", "portugues"),
    "ro": ("romanian", "romana"),
    "ru": ("russian", "русскии"),
    "sk": ("slovak", "slovencina"),
    "sl": ("slovenian", "slovenscina"),
    "sq": ("albanian", "shqip"),
    "sr": ("serbian", "srpski", "српски"),
    "sv": ("swedish", "svenska"),
    "sw": ("swahili", "kiswahili"),
    "ta": ("tamil", "தமிழ்"),
    "te": ("telugu", "తెలుగు"),
    "th": ("thai", "ไทย"),
    "tl": ("tagalog", "filipino"),
    "tr": ("turkish", "turkce"),
    "uk": ("ukrainian", "українська"),
    "ur": ("urdu", "اردو"),
    "vi": ("vietnamese", "tieng viet"),
    "zh": ("chinese", "中文"),
}
_BY_NAME = {name: code for code, names in _NAMES.items() for name in names}


def tag(text: str) -> str | None:
    """The BCP 47 tag that ``text`` names (a tag in any case or with ``_``, or a language's
    name in English or in itself), or None."""
    text = text.strip()
    if _TAG.fullmatch(text):
        try:
            return normalise_language(text.replace("_", "-"))
        except ValueError:
            pass
    return _BY_NAME.get(folded(text))


# Fewer letters than this say too little for a guess (a claim "A" read as Afrikaans).
_MIN_LETTERS = 10


def detect(text: str) -> str | None:
    """The language a text is most likely written in, as a tag; None for too short a text."""
    if sum(char.isalpha() for char in text) < _MIN_LETTERS:
        return None
    code, _ = _classifier()(text)
    return str(code)


@cache
def _classifier() -> Any:
    # Imported on first use: loading the model costs a second, and most markup names its language.
    import py3langid

    return py3langid.classify


def folded(text: str) -> str:
    """Lower case without accents: how language names are compared."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))
