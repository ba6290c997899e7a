"""Opt-out keywords (SPEC §6): trimmed, case-insensitive, full-width letters folded; the whole
reply must be the keyword."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.sending.keywords import KEYWORDS, fold, is_opt_out


@pytest.mark.parametrize(
    "text",
    [
        "R",
        "R ",
        "r",
        "ＴＤ",
        "td",
        " T\n",
        "N",
        "退订",
        "退订。",
        "拒收！",
        "STOP",
        "Stop!",
        "ｓｔｏｐ",
        "UNSUBSCRIBE.",
        "\u3000退订\u3000",
        "【TD】",
        "“STOP”",
        "退订😊",
        "R?",
    ],
)
def test_opt_out(text):
    assert is_opt_out(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        None,
        "Reply later",
        "STOP ALL",
        "T D",
        "我不想退订",
        "退订吗好的",
        "RR",
        "Really?",
        "no",
        "拒绝",
        "停止",
        "STOPP",
        "R1",
        "TDX",
    ],
)
def test_not_opt_out(text):
    assert not is_opt_out(text)


# --- properties -------------------------------------------------------------------------------

EDGES = st.text(alphabet=" \t\n\u3000。，！？!?.,~…“”【】()（）", max_size=4)


def _full_width(character: str) -> str:
    """The full-width form of an ASCII letter (Ａ is A + 0xFEE0)."""
    return chr(ord(character) + 0xFEE0) if "!" <= character <= "~" else character


@st.composite
def keyword_variants(draw):
    keyword = draw(st.sampled_from(sorted(KEYWORDS)))
    characters = []
    for character in keyword:
        character = draw(st.sampled_from([character.lower(), character.upper()]))
        if draw(st.booleans()):
            character = _full_width(character)
        characters.append(character)
    return draw(EDGES) + "".join(characters) + draw(EDGES)


@given(keyword_variants())
def test_any_case_width_or_padding_of_a_keyword_opts_out(text):
    assert is_opt_out(text)


@given(st.text(max_size=20))
def test_a_text_that_folds_to_no_keyword_does_not_opt_out(text):
    if fold(text) not in {keyword.casefold() for keyword in KEYWORDS}:
        assert not is_opt_out(text)


@given(keyword_variants(), st.sampled_from(["x", "好", "1", "ALL", "吗"]), st.booleans())
def test_a_keyword_with_more_words_does_not_opt_out(variant, more, before):
    text = f"{more} {variant}" if before else f"{variant} {more}"
    assert not is_opt_out(text)
