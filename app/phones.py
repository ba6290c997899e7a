"""Phone numbers: parse what people type or what reports carry, store E.164."""

import phonenumbers


class InvalidPhone(ValueError):
    pass


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
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display(e164: str, region: str = "CN") -> str:
    """The local form for numbers of the shop's region, international otherwise."""
    number = phonenumbers.parse(e164, None)
    if phonenumbers.region_code_for_number(number) == region:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def national_digits(e164: str) -> str:
    """The digits people type when they search by phone ("138…")."""
    return str(phonenumbers.parse(e164, None).national_number)
