"""The text of an SMS (SPEC §7): placeholders, the final text, and how providers bill its length.

Plain functions over plain values: no request, no database.

Placeholders are a word in braces, `{name}`; spaces inside the braces are allowed (`{ name }`).
A word in braces that is not one of PLACEHOLDERS (`{Name}`, `{姓名}`) is an unknown placeholder,
an error rather than text, so a typo never reaches a customer as "{Name}". Braces around
anything else (a lone `{`, `{}`, `{50% off}`) are text.

The final text is 【signature】 + the filled body, and for marketing + the provider's opt-out
text. The opt-out text follows the body directly when the body ends in a wide (CJK or
full-width) character, the mainland practice ("…全场8折。拒收请回复R"), and after one space
otherwise, so it never runs into a word or a link ("…https://x.cn/a Reply STOP to unsubscribe").
"""

import re
import unicodedata
from dataclasses import dataclass

PLACEHOLDERS = ("name", "nickname", "shop", "coupon", "expires", "link", "order_no")
# Placeholders a customer (or the shop) supplies; the others only the template's defaults do.
CUSTOMER_PLACEHOLDERS = ("name", "nickname", "shop", "order_no")

MAINLAND = "mainland"
INTERNATIONAL = "international"
COUNTINGS = (MAINLAND, INTERNATIONAL)
GSM_7 = "GSM-7"
UCS_2 = "UCS-2"

_PATTERN = re.compile(r"\{\s*(\w+)\s*\}")


class TemplateError(ValueError):
    """A body that cannot be filled; `placeholder` says which placeholder."""

    def __init__(self, placeholder: str):
        super().__init__(placeholder)
        self.placeholder = placeholder


class MissingValue(TemplateError):
    """The body uses a placeholder that has neither a value nor a default."""


class UnknownPlaceholder(TemplateError):
    """The body has a word in braces that is not a placeholder."""


class NoTemplateCode(LookupError):
    """The template has no approved code for the provider, which sends only approved templates."""

    def __init__(self, provider: str):
        super().__init__(provider)
        self.provider = provider


def _words(body: str) -> list[str]:
    """Every word in braces, in order, once each."""
    return list(dict.fromkeys(_PATTERN.findall(body)))


def placeholders_in(body: str) -> list[str]:
    """The placeholders `body` uses, in order of first use, each once."""
    return [word for word in _words(body) if word in PLACEHOLDERS]


def unknown_placeholders(body: str) -> list[str]:
    """Words in braces that are not placeholders, in order, each once."""
    return [word for word in _words(body) if word not in PLACEHOLDERS]


def needs_default(body: str) -> list[str]:
    """Placeholders of `body` that no customer has a value for: the template must give one."""
    return [p for p in placeholders_in(body) if p not in CUSTOMER_PLACEHOLDERS]


def _given(value: str | None) -> bool:
    return value is not None and value.strip() != ""


def resolved(values: dict[str, str | None], defaults: dict[str, str]) -> dict[str, str]:
    """Each placeholder's value: the customer's own, else the template's default (blank is none)."""
    out = {}
    for placeholder in PLACEHOLDERS:
        for candidate in (values.get(placeholder), defaults.get(placeholder)):
            if _given(candidate):
                out[placeholder] = candidate
                break
    return out


def fill(body: str, values: dict[str, str | None], defaults: dict[str, str]) -> str:
    """`body` with each placeholder replaced by its value, or its default when the value is
    missing or blank. A value is put in as it is: braces in a value are not filled again.

    Raises MissingValue for a placeholder with neither, UnknownPlaceholder for a word in braces
    that is not a placeholder.
    """
    available = resolved(values, defaults)

    def replace(match: re.Match) -> str:
        word = match.group(1)
        if word not in PLACEHOLDERS:
            raise UnknownPlaceholder(word)
        if word not in available:
            raise MissingValue(word)
        return available[word]

    return _PATTERN.sub(replace, body)


def _is_wide(character: str) -> bool:
    return unicodedata.east_asian_width(character) in ("W", "F")


def final_text(filled: str, *, kind: str, signature: str, opt_out_text: str) -> str:
    """What the customer receives: 【signature】 in front, and for marketing the opt-out text at
    the end (see the module's docstring for the separator). A body already ending with the
    opt-out text does not get it twice."""
    text = filled.strip()
    if signature:
        text = f"【{signature}】{text}"
    if kind == "marketing" and opt_out_text and not text.endswith(opt_out_text):
        separator = "" if not text or _is_wide(text[-1]) else " "
        text = f"{text}{separator}{opt_out_text}"
    return text


# --- counting ---------------------------------------------------------------------------------

# GSM 03.38 default alphabet (one septet each) and its extension table (an escape + one: two).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("|^€{}[]~\\\f")  # \f (form feed) is in the table too

MAINLAND_SINGLE, MAINLAND_PART, MAINLAND_MAX = 70, 67, 500
GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
# Twilio refuses a body longer than 1,600 characters; taken here in the unit of `length`
# (septets for GSM-7, so an escaped character counts two: a little on the safe side).
INTERNATIONAL_MAX = 1600


@dataclass(frozen=True)
class Count:
    """How a provider bills a text.

    length: in the unit the provider bills: characters (code points) for mainland providers,
        septets for GSM-7 (an escaped character is two), UTF-16 code units for UCS-2.
    encoding: "GSM-7" or "UCS-2" for international; None for mainland providers, which bill
        characters whatever the encoding.
    parts: billed messages (0 for an empty text).
    limit: the longest `length` the provider sends.
    """

    length: int
    encoding: str | None
    parts: int
    limit: int
    over_limit: bool


def _packed(weights: list[int], single: int, per_part: int) -> int:
    """Parts needed for units of these weights: one part up to `single`; else parts of at most
    `per_part`, filled in order, a unit never split between two parts."""
    total = sum(weights)
    if total == 0:
        return 0
    if total <= single:
        return 1
    parts, used = 1, 0
    for weight in weights:
        if used + weight > per_part:
            parts, used = parts + 1, 0
        used += weight
    return parts


def is_gsm(text: str) -> bool:
    return all(c in GSM_BASIC or c in GSM_EXTENSION for c in text)


def count(text: str, counting: str) -> Count:
    """Length and billed parts of `text` under a provider's counting rule (SPEC §7)."""
    if counting == MAINLAND:
        length = len(text)
        parts = _packed([1] * length, MAINLAND_SINGLE, MAINLAND_PART)
        return Count(length, None, parts, MAINLAND_MAX, length > MAINLAND_MAX)
    if counting != INTERNATIONAL:
        raise ValueError(f"unknown counting rule {counting!r}")
    if is_gsm(text):
        encoding, single, per_part = GSM_7, GSM_SINGLE, GSM_PART
        weights = [2 if c in GSM_EXTENSION else 1 for c in text]
    else:
        encoding, single, per_part = UCS_2, UCS2_SINGLE, UCS2_PART
        weights = [2 if ord(c) > 0xFFFF else 1 for c in text]  # a surrogate pair: two units
    length = sum(weights)
    return Count(length, encoding, _packed(weights, single, per_part), INTERNATIONAL_MAX, length > INTERNATIONAL_MAX)


# --- values -----------------------------------------------------------------------------------


def customer_values(customer, shop_name: str, latest_order_no: str | None = None) -> dict[str, str | None]:
    """The placeholders a customer fills: `customer` is anything with `name` and `nickname`
    (a Customer row, or plain values). coupon, expires and link come from the template."""
    return {
        "name": customer.name,
        "nickname": customer.nickname,
        "shop": shop_name,
        "order_no": latest_order_no,
    }


def template_params(template_provider_codes: dict, provider_name: str, values: dict) -> tuple[str, dict[str, str]]:
    """The approved template code and its variables' values, for a provider that sends only
    templates approved in its console. `template_provider_codes` is SmsTemplate.provider_codes:
    {provider: {"code": "SMS_123", "variables": {provider's variable: our placeholder}}};
    `values` are the placeholders' values, defaults included (`resolved`).

    Raises NoTemplateCode when the template has no code for the provider, MissingValue when a
    variable's placeholder has no value.
    """
    entry = (template_provider_codes or {}).get(provider_name) or {}
    code = entry.get("code")
    if not code:
        raise NoTemplateCode(provider_name)
    params = {}
    for variable, placeholder in (entry.get("variables") or {}).items():
        value = values.get(placeholder)
        if not _given(value):
            raise MissingValue(placeholder)
        params[variable] = value
    return code, params
