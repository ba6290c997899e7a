"""Phone numbers: parse what people type or what reports carry, store E.164."""

from functools import lru_cache

import phonenumbers


class InvalidPhone(ValueError):
    pass


_MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def normalize(raw: str, region: str = "CN") -> str:
    """E.164 form of `raw`, or InvalidPhone with a reason a person can act on."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("empty")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone("not a phone number") from exc
    # is_possible_number accepts 12345678901; only is_valid_number knows real ranges.
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid number")
    # The registry keeps mobiles (SMS must reach them); some regions cannot tell the two apart.
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise InvalidPhone("not a mobile number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=100_000)  # every list row shows one; parsing and formatting cost ~40 µs
def display(e164: str, region: str = "CN") -> str:
    """The local form for numbers of the shop's region, international otherwise."""
    number = phonenumbers.parse(e164, None)
    if phonenumbers.region_code_for_number(number) == region:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def national_digits(e164: str) -> str:
    """The digits people type when they search by phone ("138…").

    Reads the country code off the E.164 text (country codes are prefix-free): 0.8 µs
    against 20 µs for a full parse, which an import of 100,000 rows calls for every row.
    """
    digits = e164.lstrip("+")
    for length in (1, 2, 3):
        if int(digits[:length]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return digits[length:].lstrip("0") or "0"
    return str(phonenumbers.parse(e164, None).national_number)
