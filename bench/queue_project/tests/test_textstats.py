import pytest
from qbench import textstats

TEXT = "The cat sat on the mat. The dog sat too! Did the bird sit? It did not."


def test_words():
    assert textstats.words("Don't stop, don't.") == ["don't", "stop", "don't"]


def test_top():
    assert textstats.top(TEXT, 2) == [("the", 4), ("sat", 2)]


def test_sentences():
    assert textstats.sentences(TEXT) == 4


@pytest.mark.parametrize(("word", "count"), [("cat", 1), ("hello", 2), ("reading", 2), ("beautiful", 3)])
def test_syllables(word, count):
    assert textstats.syllables(word) == count


def test_easy_text_scores_high():
    assert textstats.flesch(TEXT) > 90


def test_long_text():
    text = TEXT * 4_000
    assert textstats.top(text, 1) == [("the", 16_000)]
    assert textstats.flesch(text) == pytest.approx(textstats.flesch(TEXT), rel=0.05)
