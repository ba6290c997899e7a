"""Phone numbers as people type them: stored E.164, shown in the local form (app.phones)."""

import phonenumbers
import pytest

from app import phones


@pytest.mark.parametrize(
    "typed",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        " 138 1234 5678 ",
        "+86 138 1234 5678",
        "+86-138-1234-5678",
        "+8613812345678",
        "0086 13812345678",
        "008613812345678",
        "(+86) 138 1234 5678",
        "１３８１２３４５６７８",  # full-width digits, as a Chinese input method types them
    ],
)
def test_cn_mobile_in_any_usual_form_is_stored_e164(typed):
    assert phones.normalize(typed, "CN") == "+8613812345678"


@pytest.mark.parametrize("typed", ["17012345678", "19912345678", "15012345678"])
def test_other_cn_mobile_ranges_are_valid(typed):
    assert phones.normalize(typed) == "+86" + typed


def test_possible_but_not_valid_number_is_refused():
    # The length is right, so phonenumbers calls it possible; no mobile range starts with 12.
    assert phonenumbers.is_possible_number(phonenumbers.parse("12345678901", "CN"))
    with pytest.raises(phones.InvalidPhone):
        phones.normalize("12345678901", "CN")


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "abc",
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "+86 12345678901",
        "010 6552 9988",  # a Beijing landline: no SMS can reach it
        "400 810 8888",  # a service number
    ],
)
def test_invalid_or_non_mobile_numbers_are_refused(typed):
    with pytest.raises(phones.InvalidPhone):
        phones.normalize(typed, "CN")


def test_foreign_mobile_is_kept_with_its_country_code():
    assert phones.normalize("+1 415 555 2671", "CN") == "+14155552671"
    assert phones.normalize("(415) 555-2671", "US") == "+14155552671"


def test_display_is_local_for_the_shop_region_and_international_otherwise():
    assert phones.display("+8613812345678", "CN") == "138 1234 5678"
    assert phones.display("+14155552671", "CN") == "+1 415-555-2671"
    assert phones.display("+14155552671", "US") == "(415) 555-2671"


def test_national_digits_are_what_people_search_by():
    assert phones.national_digits("+8613812345678") == "13812345678"


def test_national_digits_agree_with_a_full_parse_for_every_region():
    import phonenumbers

    from app.phones import national_digits

    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            assert national_digits(e164) == str(example.national_number), e164
