"""The text of an SMS (app.sending.texts): placeholders, the final text, and billed parts."""

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.sending.texts import (
    GSM_BASIC,
    GSM_EXTENSION,
    PLACEHOLDERS,
    MissingValue,
    NoTemplateCode,
    UnknownPlaceholder,
    count,
    customer_values,
    fill,
    final_text,
    needs_default,
    placeholders_in,
    resolved,
    template_params,
    unknown_placeholders,
)

# --- placeholders -----------------------------------------------------------------------------


def test_placeholders_are_listed_in_order_of_first_use_once_each():
    body = "{shop}：{name}您好，{coupon}将于{expires}到期，{name}快来 {link}"
    assert placeholders_in(body) == ["shop", "name", "coupon", "expires", "link"]
    assert unknown_placeholders(body) == []


def test_a_word_in_braces_that_is_no_placeholder_is_unknown():
    body = "{Name}您好 {姓名} {foo} {foo} { name }"
    assert unknown_placeholders(body) == ["Name", "姓名", "foo"]
    assert placeholders_in(body) == ["name"]  # spaces inside the braces are allowed


@pytest.mark.parametrize("text", ["a lone { brace", "close } only", "{}", "{ }", "{50% off}", "{{", "{a b}"])
def test_braces_around_anything_but_a_word_are_text(text):
    assert placeholders_in(text) == [] and unknown_placeholders(text) == []
    assert fill(text, {}, {}) == text


def test_the_template_must_give_what_no_customer_has():
    assert needs_default("{name}，{coupon}于{expires}到期 {link} {order_no} {shop} {nickname}") == [
        "coupon",
        "expires",
        "link",
    ]


# --- fill -------------------------------------------------------------------------------------


def test_fill_takes_the_value_then_the_default():
    body = "{name}您好，{coupon}于{expires}到期"
    values = {"name": "张三", "coupon": None, "expires": ""}
    defaults = {"coupon": "满100减10券", "expires": "12月31日", "name": "顾客"}
    assert fill(body, values, defaults) == "张三您好，满100减10券于12月31日到期"


def test_fill_falls_back_to_the_default_for_a_blank_value():
    assert fill("Hi {nickname}", {"nickname": "  "}, {"nickname": "friend"}) == "Hi friend"


def test_a_used_placeholder_with_no_value_and_no_default_is_missing():
    with pytest.raises(MissingValue) as raised:
        fill("{name}，订单{order_no}已发货", {"name": "张三", "order_no": None}, {})
    assert raised.value.placeholder == "order_no"


def test_an_unused_placeholder_needs_no_value():
    assert fill("{name}您好", {"name": "张三"}, {}) == "张三您好"


def test_fill_refuses_an_unknown_placeholder():
    with pytest.raises(UnknownPlaceholder) as raised:
        fill("{name} {Coupon}", {"name": "张三"}, {})
    assert raised.value.placeholder == "Coupon"


def test_a_value_is_put_in_as_it_is_never_filled_again():
    assert fill("{name}: {shop}", {"name": "{shop}", "shop": "小店"}, {}) == "{shop}: 小店"


def test_resolved_gives_every_placeholder_with_a_value():
    assert resolved({"name": "张三", "link": ""}, {"link": "https://x.cn", "coupon": ""}) == {
        "name": "张三",
        "link": "https://x.cn",
    }


# --- final text -------------------------------------------------------------------------------


def test_service_text_gets_the_signature_only():
    assert final_text("您的订单已发货", kind="service", signature="示例小店", opt_out_text="拒收请回复R") == (
        "【示例小店】您的订单已发货"
    )


def test_marketing_text_after_a_chinese_ending_gets_the_opt_out_text_directly():
    text = final_text("全场8折。", kind="marketing", signature="示例小店", opt_out_text="拒收请回复R")
    assert text == "【示例小店】全场8折。拒收请回复R"


def test_marketing_text_after_a_word_or_a_link_gets_a_space_first():
    assert final_text("详情 https://x.cn/a", kind="marketing", signature="小店", opt_out_text="拒收请回复R") == (
        "【小店】详情 https://x.cn/a 拒收请回复R"
    )
    assert final_text(
        "50% off today.", kind="marketing", signature="Shop", opt_out_text="Reply STOP to unsubscribe"
    ) == ("【Shop】50% off today. Reply STOP to unsubscribe")


def test_an_opt_out_text_already_written_is_not_added_again_and_outer_spaces_go():
    text = final_text("  全场8折，拒收请回复R \n", kind="marketing", signature="小店", opt_out_text="拒收请回复R")
    assert text == "【小店】全场8折，拒收请回复R"


# --- counting: mainland -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "length, parts",
    [(0, 0), (1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (160, 3), (500, 8), (501, 8)],
)
def test_mainland_counts_70_in_one_part_then_67_a_part(length, parts):
    result = count("中" * length, "mainland")
    assert (result.length, result.parts) == (length, parts)
    assert result.encoding is None and result.limit == 500
    assert result.over_limit == (length > 500)


def test_mainland_counts_every_character_as_one():
    text = "【示例小店】Hi 张三，ABC123！,. 拒收请回复R😀"
    assert count(text, "mainland").length == 29  # an emoji is one character too


# --- counting: international ------------------------------------------------------------------


def test_gsm_160_is_one_part_161_two():
    one = count("a" * 160, "international")
    assert (one.length, one.encoding, one.parts, one.limit) == (160, "GSM-7", 1, 1600)
    assert count("a" * 161, "international").parts == 2
    assert count("a" * 153 * 2, "international").parts == 2
    assert count("a" * (153 * 2 + 1), "international").parts == 3


def test_an_escaped_character_counts_two():
    result = count("[x]", "international")
    assert (result.length, result.encoding, result.parts) == (5, "GSM-7", 1)
    assert count("€" * 80, "international").parts == 1  # 160 septets
    assert count("€" * 81, "international").parts == 2


def test_an_escape_at_the_153rd_septet_moves_to_the_next_part():
    # 152 + 2 + 152 = 306 septets: 2 parts by division, but the escape pair cannot be split.
    text = "a" * 152 + "{" + "a" * 152
    assert count(text, "international").length == 306
    assert count(text, "international").parts == 3
    assert count("a" * 151 + "{" + "a" * 153, "international").parts == 2


def test_any_character_outside_gsm_makes_the_whole_text_ucs2():
    result = count("a" * 69 + "中", "international")
    assert (result.length, result.encoding, result.parts) == (70, "UCS-2", 1)
    assert count("a" * 70 + "中", "international").parts == 2
    assert count("[" * 70 + "中", "international").length == 71  # escapes are one unit in UCS-2


def test_ucs2_counts_a_surrogate_pair_as_two_units_never_split():
    assert count("😀", "international").length == 2
    assert count("😀" * 35, "international").parts == 1  # 70 units
    # 66 units, then an emoji at the 67th: it does not fit, so it opens the second part.
    text = "中" * 66 + "😀" + "中" * 66
    result = count(text, "international")
    assert (result.length, result.parts) == (134, 3)
    assert count("中" * 65 + "😀" + "中" * 67, "international").parts == 2


def test_international_maximum_is_twilios_1600():
    assert not count("a" * 1600, "international").over_limit
    assert count("a" * 1601, "international").over_limit
    assert count("中" * 1601, "international").over_limit


def test_an_unknown_counting_rule_is_refused():
    with pytest.raises(ValueError):
        count("x", "martian")


# --- property: parts equal a naive packing ------------------------------------------------------


def _cost(text: str, counting: str, gsm: bool) -> int:
    if counting == "mainland":
        return len(text)
    if gsm:
        return sum(2 if c in GSM_EXTENSION else 1 for c in text)
    return len(text.encode("utf-16-le")) // 2


def _naive_parts(text: str, counting: str) -> int:
    """Cut the text into parts by trying ever longer prefixes (code points, so neither a
    surrogate pair nor an escape pair is ever cut) and keeping the longest that fits."""
    gsm = all(c in GSM_BASIC or c in GSM_EXTENSION for c in text)
    single, per_part = {"mainland": (70, 67)}.get(counting) or ((160, 153) if gsm else (70, 67))
    if not text:
        return 0
    if _cost(text, counting, gsm) <= single:
        return 1
    parts = 0
    while text:
        end = 1
        while end < len(text) and _cost(text[: end + 1], counting, gsm) <= per_part:
            end += 1
        text, parts = text[end:], parts + 1
    return parts


_gsm = st.sampled_from(sorted(GSM_BASIC | GSM_EXTENSION))
_any = st.one_of(_gsm, st.sampled_from(list("中文，。！😀🎉\u00a0")), st.characters(exclude_categories=("Cs",)))


def _runs(alphabet):
    """Texts of a few hundred characters, made of runs, so the part boundaries are reached."""
    runs = st.lists(st.tuples(alphabet, st.integers(1, 90)), max_size=10)
    return runs.map(lambda pieces: "".join(character * times for character, times in pieces))


_texts = st.one_of(_runs(_gsm), _runs(_any), st.text(alphabet=_any, max_size=200))


@settings(max_examples=300, deadline=None)
@given(text=_texts, counting=st.sampled_from(["mainland", "international"]))
def test_parts_equal_a_naive_packing(text, counting):
    assert count(text, counting).parts == _naive_parts(text, counting)


@settings(max_examples=300, deadline=None)
@given(text=_texts, more=_texts, counting=st.sampled_from(["mainland", "international"]))
def test_a_longer_text_never_counts_less(text, more, counting):
    """Length grows with the text while the encoding stays (UCS-2 counts an escape one, not
    two, so a switch may shorten it); parts never shrink whatever the encoding."""
    before, after = count(text, counting), count(text + more, counting)
    if before.encoding == after.encoding:
        assert after.length >= before.length
    assert after.parts >= before.parts


# --- customer values and approved templates ---------------------------------------------------


def test_customer_values_give_what_a_customer_fills():
    customer = SimpleNamespace(name="张三", nickname="小张")
    assert customer_values(customer, "示例小店", "T123") == {
        "name": "张三",
        "nickname": "小张",
        "shop": "示例小店",
        "order_no": "T123",
    }
    assert customer_values(SimpleNamespace(name="李四", nickname=None), "小店")["order_no"] is None
    assert set(customer_values(customer, "小店")) < set(PLACEHOLDERS)


CODES = {
    "aliyun": {"code": "SMS_123", "variables": {"user": "name", "code": "coupon"}},
    "twilio": {"code": "", "variables": {}},
}


def test_template_params_map_our_values_to_the_providers_variables():
    values = resolved({"name": "张三"}, {"coupon": "满100减10"})
    assert template_params(CODES, "aliyun", values) == ("SMS_123", {"user": "张三", "code": "满100减10"})


@pytest.mark.parametrize("provider", ["twilio", "log"])
def test_a_template_without_a_code_for_the_provider_cannot_go_through_it(provider):
    with pytest.raises(NoTemplateCode) as raised:
        template_params(CODES, provider, {"name": "张三"})
    assert raised.value.provider == provider


def test_a_providers_variable_without_a_value_is_missing():
    with pytest.raises(MissingValue) as raised:
        template_params(CODES, "aliyun", {"name": "张三"})
    assert raised.value.placeholder == "coupon"
