import json
import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from app.core import verdicts
from app.core.validation import MEDIA_AUTHENTICITY

DICTIONARY_FILE = Path(__file__).resolve().parents[2] / "schemas" / "verdicts.json"
REQUIRED_LANGUAGES = ("en", "es", "pt", "fr", "de", "it", "ru", "uk", "ar", "hi", "id")

POLITIFACT = {
    "best": 6,
    "worst": 1,
    "labels": [
        {"label": "Pants on Fire", "value": 1, "verdict": "false"},
        {"label": "False", "value": 2, "verdict": "false"},
        {"label": "Mostly False", "value": 3, "verdict": "mostly_false"},
        {"label": "Half True", "value": 4, "verdict": "mixed"},
        {"label": "Mostly True", "value": 5, "verdict": "mostly_true"},
        {
            "label": "True",
            "value": 6,
            "verdict": "true",
            "image": "https://static.politifact.com/true.png",
        },
    ],
}


def load_file() -> dict[str, Any]:
    return json.loads(DICTIONARY_FILE.read_text(encoding="utf-8"))


def scale_with(*labels: dict[str, Any], best: float = 5, worst: float = 1) -> dict[str, Any]:
    return {"best": best, "worst": worst, "labels": list(labels)}


def pointers(problems: list[tuple[str, str]]) -> list[str]:
    return [pointer for pointer, _ in problems]


# --- vocabulary and dictionary file -------------------------------------------------------


def test_vocabulary_is_exact():
    assert verdicts.VOCABULARY == (
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


def test_dictionary_file_publishes_the_code_vocabulary():
    vocabulary = load_file()["vocabulary"]
    assert tuple(item["verdict"] for item in vocabulary) == verdicts.VOCABULARY
    assert all(item["description"].strip() for item in vocabulary)


def test_dictionary_version_comes_from_the_file():
    version = load_file()["version"]
    assert re.fullmatch(r"\d{4}\.\d{1,2}\.\d+", version)
    assert verdicts.DICTIONARY_VERSION == version


def test_dictionary_returns_the_parsed_file_once():
    assert verdicts.dictionary() == load_file()
    assert verdicts.dictionary() is verdicts.dictionary()


def test_dictionary_entries_map_into_the_vocabulary_but_never_to_unknown():
    for entry in load_file()["entries"]:
        assert entry["verdict"] in verdicts.VOCABULARY, entry
        assert entry["verdict"] != "unknown", entry


def test_dictionary_entries_have_label_language_and_source():
    for entry in load_file()["entries"]:
        assert set(entry) == {"label", "verdict", "language", "source"}, entry
        assert verdicts.fold(entry["label"]), entry
        assert entry["language"] in REQUIRED_LANGUAGES, entry
        assert isinstance(entry["source"], str) and entry["source"].strip(), entry


def test_dictionary_has_no_folded_label_conflicts():
    seen: dict[str, set[str]] = defaultdict(set)
    for entry in load_file()["entries"]:
        seen[verdicts.fold(entry["label"])].add(entry["verdict"])
    conflicts = {label: found for label, found in seen.items() if len(found) > 1}
    assert conflicts == {}


def test_dictionary_has_no_repeated_entries():
    keys = [
        (verdicts.fold(entry["label"]), entry["language"], entry["source"])
        for entry in load_file()["entries"]
    ]
    assert len(keys) == len(set(keys))


def test_dictionary_covers_every_required_language():
    counts: dict[str, int] = defaultdict(int)
    for entry in load_file()["entries"]:
        counts[entry["language"]] += 1
    assert {language: counts[language] >= 20 for language in REQUIRED_LANGUAGES} == {
        language: True for language in REQUIRED_LANGUAGES
    }
    assert sum(counts.values()) >= 300


# --- folding ------------------------------------------------------------------------------


@pytest.mark.parametrize("label", ["FALSO", "falso.", "Falsó", "  Falso ", "¡Falso!", "fálsó"])
def test_fold_ignores_case_accents_and_punctuation(label):
    assert verdicts.fold(label) == "falso"


@pytest.mark.parametrize(
    ("label", "folded"),
    [
        ("Pants on fire!", "pants on fire"),
        ("PANTS  ON\tFIRE", "pants on fire"),
        ("Half-True", "half true"),
        ("Verdadero, pero...", "verdadero pero"),
        ("C’eri quasi", "ceri quasi"),
        ("Größtenteils falsch", "grosstenteils falsch"),
        ("Ёлка", "елка"),
    ],
)
def test_fold_normalises_spacing_punctuation_and_diacritics(label, folded):
    assert verdicts.fold(label) == folded


def test_fold_keeps_cyrillic_letters():
    assert verdicts.fold("НЕПРАВДА!") == "неправда"
    assert verdicts.fold("Маніпуляція") == "маніпуляція"


def test_fold_drops_arabic_harakat():
    assert verdicts.fold("زائفٌ") == verdicts.fold("زائف")
    assert verdicts.fold("مُضَلِّل") == verdicts.fold("مضلل")


def test_fold_keeps_devanagari_vowel_signs():
    assert verdicts.fold("झूठ") == "झूठ"
    assert verdicts.fold("झूठ") != verdicts.fold("झठ")
    assert verdicts.fold("गलत।") == "गलत"


def test_fold_drops_zero_width_joiners():
    assert verdicts.fold("भ्\u200dरामक") == verdicts.fold("भ्रामक")


# --- built-in dictionary ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Falso", "false"),  # Spanish, Italian, Portuguese
        ("Engañoso", "misleading"),
        ("Verdadero, pero", "mostly_true"),
        ("Inchequeable", "unverifiable"),
        ("Bulo", "false"),
        ("Enganoso", "misleading"),
        ("Distorcido", "misleading"),
        ("Ainda é cedo para dizer", "unverifiable"),
        ("Contraditório", "other"),
        ("Faux", "false"),
        ("Trompeur", "misleading"),
        ("Plutôt vrai", "mostly_true"),
        ("Falsch", "false"),
        ("Größtenteils falsch", "mostly_false"),
        ("Fehlender Kontext", "misleading"),
        ("Unbelegt", "unverifiable"),
        ("C'eri quasi", "mostly_true"),
        ("Nì", "mixed"),
        ("Pinocchio andante", "mostly_false"),
        ("Panzana pazzesca", "false"),
        ("Ложь", "false"),
        ("Неправда", "false"),
        ("Полуправда", "mixed"),
        ("Маніпуляція", "misleading"),
        ("زائف", "false"),
        ("مضلل", "misleading"),
        ("गलत", "false"),
        ("ग़लत", "false"),
        ("फ़ेक", "false"),
        ("भ्रामक", "misleading"),
        ("Salah", "false"),
        ("Hoaks", "false"),
        ("Menyesatkan", "misleading"),
        ("Benar", "true"),
        ("Four Pinocchios", "false"),
        ("2 Pinocchios", "mixed"),
        ("Geppetto Checkmark", "true"),
        ("Half True", "mixed"),
        ("Pants on Fire", "false"),
        ("Mixture", "mixed"),
        ("Labeled Satire", "satire"),
        ("Missing context", "misleading"),
        ("Unsubstantiated", "unverifiable"),
        ("Mostly correct", "mostly_true"),
    ],
)
def test_normalise_maps_dictionary_labels(label, expected):
    assert verdicts.normalise(label=label) == expected


def test_normalise_folds_dictionary_labels():
    assert verdicts.normalise(label="  PANTS on fire!! ") == "false"
    assert verdicts.normalise(label="falsó.") == "false"


@pytest.mark.parametrize("label", ["Explainer", "Research in progress", "Outdated"])
def test_normalise_maps_non_truth_labels_to_other(label):
    assert verdicts.normalise(label=label) == "other"


@pytest.mark.parametrize("label", ["Totally bogus", "", "!!!", None])
def test_normalise_returns_unknown_for_unmapped_label_without_numbers(label):
    assert verdicts.normalise(label=label) == "unknown"


# --- publisher scale ----------------------------------------------------------------------


def test_normalise_prefers_publisher_scale_over_dictionary():
    scale = scale_with({"label": "Falso", "value": 2, "verdict": "misleading"})
    assert verdicts.normalise(label="Falso", scale=scale) == "misleading"
    assert verdicts.normalise(label="Falso") == "false"


def test_normalise_matches_scale_labels_by_fold():
    scale = scale_with({"label": "Bem Verdadeiro!", "verdict": "true"})
    assert verdicts.normalise(label="bem verdadeiro", scale=scale) == "true"


def test_normalise_uses_scale_value_when_label_is_absent():
    assert verdicts.normalise(label=None, value=3, scale=POLITIFACT) == "mostly_false"
    assert verdicts.normalise(label=" ", value=4.0, scale=POLITIFACT) == "mixed"


def test_normalise_prefers_dictionary_label_over_scale_value():
    scale = scale_with({"label": "Quase", "value": 4, "verdict": "mostly_true"})
    assert verdicts.normalise(label="Pants on Fire", value=4, scale=scale) == "false"


def test_normalise_falls_back_to_dictionary_when_scale_lacks_label():
    assert verdicts.normalise(label="Engañoso", value=4, scale=POLITIFACT) == "misleading"


def test_normalise_uses_scale_bounds_for_numeric_position():
    scale = scale_with({"label": "Eigen", "value": 5, "verdict": "true"})
    assert verdicts.normalise(label="Unlisted", value=4, scale=scale) == "mostly_true"


# --- numeric position ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "worst", "best", "expected"),
    [
        (1, 1, 5, "false"),
        (2, 1, 5, "mostly_false"),
        (3, 1, 5, "mixed"),
        (4, 1, 5, "mostly_true"),
        (5, 1, 5, "true"),
        (1, 0, 8, "false"),  # p = 0.125, the upper edge of false
        (1.5, 0, 8, "mostly_false"),
        (3, 0, 8, "mostly_false"),  # p = 0.375
        (3.5, 0, 8, "mixed"),
        (5, 0, 8, "mostly_true"),  # p = 0.625
        (7, 0, 8, "true"),  # p = 0.875
        (0.5, 0.0, 1.0, "mixed"),
    ],
)
def test_normalise_uses_numeric_position_bands(value, worst, best, expected):
    assert verdicts.normalise(label="Unlisted", value=value, best=best, worst=worst) == expected


@pytest.mark.parametrize(
    ("value", "worst", "best"),
    [
        (6, 1, 5),  # above best
        (0, 1, 5),  # below worst
        (3, 5, 1),  # best below worst: not a declared truth scale
        (3, 3, 3),
        (3, None, 5),
        (None, 1, 5),
        (math.nan, 1, 5),
        (3, 1, math.inf),
    ],
)
def test_normalise_returns_unknown_off_a_declared_truth_scale(value, worst, best):
    assert verdicts.normalise(label=None, value=value, best=best, worst=worst) == "unknown"


# --- validate_scale -----------------------------------------------------------------------


def test_validate_scale_accepts_a_valid_scale():
    assert verdicts.validate_scale(POLITIFACT) == []


def test_validate_scale_accepts_nulls_for_optional_fields():
    scale = {
        "best": None,
        "worst": None,
        "labels": [{"label": "Bulo", "value": None, "verdict": "false", "image": None}],
    }
    assert verdicts.validate_scale(scale) == []


@pytest.mark.parametrize("verdict", ["bogus", "unknown", "False", None])
def test_validate_scale_rejects_verdict_outside_vocabulary(verdict):
    scale = scale_with({"label": "Falso", "verdict": verdict})
    assert pointers(verdicts.validate_scale(scale)) == ["/labels/0/verdict"]


def test_validate_scale_rejects_duplicate_folded_labels():
    scale = scale_with(
        {"label": "False", "value": 1, "verdict": "false"},
        {"label": "Mostly False", "value": 2, "verdict": "mostly_false"},
        {"label": "false!", "value": 3, "verdict": "false"},
    )
    problems = verdicts.validate_scale(scale)
    assert pointers(problems) == ["/labels/2/label"]
    assert "/labels/0" in problems[0][1]


@pytest.mark.parametrize(("worst", "best"), [(5, 5), (5, 1)])
def test_validate_scale_rejects_worst_not_below_best(worst, best):
    scale = scale_with({"label": "Falso", "verdict": "false"}, best=best, worst=worst)
    assert pointers(verdicts.validate_scale(scale)) == ["/worst"]


def test_validate_scale_rejects_values_outside_bounds():
    scale = scale_with(
        {"label": "Low", "value": 0, "verdict": "false"},
        {"label": "Mid", "value": 3, "verdict": "mixed"},
        {"label": "High", "value": 5.5, "verdict": "true"},
    )
    assert pointers(verdicts.validate_scale(scale)) == ["/labels/0/value", "/labels/2/value"]


def test_validate_scale_rejects_duplicate_values():
    scale = scale_with(
        {"label": "Falso", "value": 1, "verdict": "false"},
        {"label": "Bulo", "value": 1.0, "verdict": "false"},
    )
    assert pointers(verdicts.validate_scale(scale)) == ["/labels/1/value"]


def test_validate_scale_requires_both_bounds():
    scale = {"best": 5, "labels": [{"label": "Falso", "verdict": "false"}]}
    assert pointers(verdicts.validate_scale(scale)) == ["/worst"]


@pytest.mark.parametrize(
    ("scale", "expected"),
    [
        ([], [""]),
        ({"best": 5, "worst": 1}, ["/labels"]),
        ({"labels": []}, ["/labels"]),
        ({"labels": ["Falso"]}, ["/labels/0"]),
        ({"labels": [{"label": "", "verdict": "false"}]}, ["/labels/0/label"]),
        (
            {"labels": [{"label": "Falso", "verdict": "false", "colour": "red"}]},
            ["/labels/0/colour"],
        ),
        ({"scale/name": "x", "labels": [{"label": "Falso", "verdict": "false"}]}, ["/scale~1name"]),
        ({"best": True, "worst": 0, "labels": [{"label": "Falso", "verdict": "false"}]}, ["/best"]),
        ({"labels": [{"label": "Falso", "value": "1", "verdict": "false"}]}, ["/labels/0/value"]),
        (
            {"labels": [{"label": "Falso", "verdict": "false", "image": "javascript:alert(1)"}]},
            ["/labels/0/image"],
        ),
    ],
)
def test_validate_scale_rejects_malformed_shapes(scale, expected):
    assert pointers(verdicts.validate_scale(scale)) == expected


def test_every_authenticity_category_maps_to_a_verdict_of_the_vocabulary():
    table = load_file()["media_authenticity"]

    assert [entry["category"] for entry in table] == list(MEDIA_AUTHENTICITY)
    assert all(entry["verdict"] in verdicts.VOCABULARY[:-1] for entry in table)
    assert verdicts.media_verdict("DecontextualizedContent") == "misleading"
    assert verdicts.media_verdict("Unheard of") == "unknown"
    assert verdicts.media_label("EditedOrCroppedContent") == "Edited or cropped"
