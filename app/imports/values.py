"""Reading one cell of an order report: cleaning, then amounts, times, statuses, places, phones.

Everything here is a plain function of the cell's value (a string from a CSV, or what
openpyxl gives for an XLSX cell), so it is cheap to test and fast enough for 100,000 rows.
A value that cannot be read raises RowError with a reason code from REASONS.
"""

import re
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers

from .. import phones
from ..models import OrderStatus, Review
from ..params import FIRST_DAY, LAST_DAY


def N_(message: str) -> str:
    """Marks a message for translation (pybabel extracts N_) without translating it yet.

    Reasons are written by the job, which runs without a request and so without a reader's
    language; the page translates them when it shows them.
    """
    return message


REASONS = {
    "short_row": N_("The row has %(cells)s columns, the header has %(columns)s."),
    "order_no_empty": N_("The order number is empty."),
    "order_no_too_long": N_("The order number is longer than 64 characters."),
    "order_no_number": N_(
        "The order number “%(value)s” was saved as a number and lost its last digits: "
        "format the column as text and export the file again."
    ),
    "nickname_empty": N_("The buyer nickname is empty."),
    "nickname_too_long": N_("The buyer nickname is longer than 100 characters."),
    "bad_amount": N_("The amount paid “%(value)s” is not an amount of money."),
    "bad_refund": N_("The refund amount “%(value)s” is not an amount of money."),
    "status_empty": N_("The order status is empty."),
    "bad_status": N_("Unknown order status “%(value)s”."),
    "created_empty": N_("The order creation time is empty."),
    "bad_created": N_("The creation time “%(value)s” is not a date and time."),
    "bad_paid": N_("The payment time “%(value)s” is not a date and time."),
    "time_out_of_range": N_("The time “%(value)s” is not between the years %(first)s and %(last)s."),
    "bad_count": N_("The item count “%(value)s” is not a whole number."),
    "bad_phone": N_("The phone number “%(value)s” is not a valid mobile number."),
    "bad_platform": N_("Unknown platform “%(value)s”."),
    "other_customer": N_("Order %(order_no)s is already recorded for another customer (%(nickname)s)."),
    "rating_empty": N_("The rating is empty."),
    "bad_rating": N_("Unknown rating “%(value)s”: use 好评, 中评 or 差评 (good, neutral, bad)."),
    "no_such_order": N_("There is no order %(order_no)s: import the order report first."),
    "not_saved": N_("The row could not be saved: %(error)s"),
    # Notes on rows that were imported (the report lists them apart from the rejected rows).
    "phone_dropped": N_("The phone number “%(value)s” is not valid: kept without it (never texted)."),
    "joined_by_phone": N_(
        "Joined the customer %(name)s by the phone number %(phone)s (%(platform)s account %(nickname)s added)."
    ),
    "joined_oldest_by_phone": N_(
        "Joined the customer %(name)s by the phone number %(phone)s (%(platform)s account %(nickname)s added); "
        "%(count)s customers have this number: the oldest record was chosen."
    ),
}


class RowError(ValueError):
    """A row that cannot be imported, with a reason code from REASONS and its parameters."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = {k: _shorten(v) for k, v in params.items()}

    @property
    def reason(self) -> str:
        """The reason in English (the source language), as stored with the run."""
        return REASONS[self.code] % self.params


def _shorten(value, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- cleaning -------------------------------------------------------------------------------


def text(value) -> str:
    """A cell as plain text: trimmed, without the ="…", leading tab or apostrophe that
    platform exports add so that spreadsheets keep long numbers as text."""
    if value is None:
        return ""
    if type(value) is not str:
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, datetime):
            return value.isoformat(sep=" ")
        return str(value)
    value = value.strip()
    if value and (value[0] == "=" or value[0] == "'"):
        if value[:2] == '="' and value[-1:] == '"' and len(value) >= 3:
            value = value[2:-1].strip()
        elif value[0] == "'":
            value = value[1:].strip()
    return value


def header_key(name) -> str:
    """How column names are compared: no spaces, no BOM, ASCII brackets, lower case."""
    name = text(name).replace("\ufeff", "").replace("（", "(").replace("）", ")")
    return "".join(name.split()).lower()


# --- order numbers, amounts, counts ---------------------------------------------------------

_SCIENTIFIC = re.compile(r"^[0-9](?:\.[0-9]+)?[eE]\+?[0-9]+$")


def order_number(value) -> str:
    if isinstance(value, float):
        # Excel keeps 15 significant digits: a 19-digit Taobao order number saved as a number
        # comes back rounded, and importing it would attach the row to a different order.
        if not value.is_integer() or abs(value) >= 2**53:
            raise RowError("order_no_number", value=value)
    number = text(value)
    if not number:
        raise RowError("order_no_empty")
    if ("E" in number or "e" in number) and _SCIENTIFIC.match(number):
        raise RowError("order_no_number", value=number)
    if len(number) > 64:
        raise RowError("order_no_too_long")
    return number


_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")
_MAX_MONEY = Decimal("9999999999.99")  # Numeric(12, 2)
_MONEY_NOISE = str.maketrans("", "", "¥￥,，元 ")


def money(value, code: str = "bad_amount") -> Decimal:
    """An amount in yuan; an empty cell is 0 (unpaid orders often leave it blank)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raw = repr(value)
    else:
        raw = text(value)
        if not raw:
            return _ZERO
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        try:  # ¥1,299.00, 12元 …
            amount = Decimal(raw.translate(_MONEY_NOISE) or "x")
        except InvalidOperation:
            raise RowError(code, value=text(value)) from None
    try:
        acceptable = 0 <= amount <= _MAX_MONEY
    except InvalidOperation:  # NaN
        acceptable = False
    if not acceptable:
        raise RowError(code, value=text(value))
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


def whole_number(value) -> int | None:
    if type(value) is str and value.isdigit() and value.isascii() and len(value) < 10:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raw = text(value)
        if not raw:
            return None
        if raw.endswith(".0"):
            raw = raw[:-2]
        if not raw.isdigit() or not raw.isascii():
            raise RowError("bad_count", value=raw)
        number = int(raw)
    if not 0 <= number < 2**31:
        raise RowError("bad_count", value=text(value))
    return number


# --- times ----------------------------------------------------------------------------------

_LOOSE_TIME = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]+(\d{1,2})[:：](\d{1,2})(?:[:：](\d{1,2}))?(?:\.\d+)?)?$"
)


class ShopClock:
    """Turns report times, written in the shop's time zone, into the naive UTC we store."""

    def __init__(self, zone_name: str):
        self.zone = ZoneInfo(zone_name)
        self.offsets: dict[int, timedelta | None] = {}  # by hour since year 1

    def to_utc(self, local: datetime) -> datetime:
        """What app.shop_calendar.shop_time_to_utc gives, without needing an app context.

        A report has many times in the same hour, and a zone's offset changes at most once
        an hour: the offset of an hour whose start and end agree is kept and reused.
        """
        if local.tzinfo is not None:
            return local.astimezone(UTC).replace(tzinfo=None)
        key = local.toordinal() * 24 + local.hour
        try:
            offset = self.offsets[key]
        except KeyError:
            hour = local.replace(minute=0, second=0, microsecond=0)
            start = hour.replace(tzinfo=self.zone).utcoffset()
            end = (hour + timedelta(minutes=59, seconds=59)).replace(tzinfo=self.zone).utcoffset()
            offset = self.offsets[key] = start if start == end else None
        if offset is None:  # the hour of a change of offset: each time on its own
            return local.replace(tzinfo=self.zone).astimezone(UTC).replace(tzinfo=None)
        return local - offset

    def moment(self, value, code: str) -> datetime | None:
        """A date and time from a cell, as naive UTC; None for an empty cell."""
        if isinstance(value, datetime):
            return self._checked_utc(value.replace(microsecond=0))
        if isinstance(value, date):
            return self._checked_utc(datetime(value.year, value.month, value.day))
        raw = text(value)
        if not raw:
            return None
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            pass
        else:
            return self._checked_utc(moment.replace(microsecond=0) if moment.microsecond else moment)
        match = _LOOSE_TIME.match(raw)  # 2024/3/5 9:05, 2024年3月5日 …
        if match:
            try:
                moment = datetime(*[int(p) if p else 0 for p in match.groups()])
            except ValueError:
                pass
            else:
                return self._checked_utc(moment)
        raise RowError(code, value=raw)

    def _checked_utc(self, moment: datetime) -> datetime:
        # Years 1 and 9999 would overflow on the way to UTC; no order is that old or that far off.
        if not FIRST_DAY <= moment.date() <= LAST_DAY:
            raise RowError("time_out_of_range", value=text(moment), first=FIRST_DAY.year, last=LAST_DAY.year)
        return self.to_utc(moment)


# --- statuses, ratings, platforms -----------------------------------------------------------

# The report's wording → our status. Taobao/Tmall and 1688 phrases, and plain words for the
# generic template. 交易关闭 with money refunded is a refund (see order_status).
STATUSES = {
    # Taobao / Tmall
    "等待买家付款": OrderStatus.UNPAID,
    "买家已付款，等待卖家发货": OrderStatus.PAID,
    "买家已付款,等待卖家发货": OrderStatus.PAID,
    "卖家已发货，等待买家确认": OrderStatus.SHIPPED,
    "卖家已发货,等待买家确认": OrderStatus.SHIPPED,
    "交易成功": OrderStatus.COMPLETED,
    "交易关闭": OrderStatus.CLOSED,
    # 1688
    "等待卖家发货": OrderStatus.PAID,
    "等待买家收货": OrderStatus.SHIPPED,
    "等待买家确认收货": OrderStatus.SHIPPED,
    "已收货": OrderStatus.COMPLETED,
    "交易取消": OrderStatus.CLOSED,
    # generic
    "待付款": OrderStatus.UNPAID,
    "未付款": OrderStatus.UNPAID,
    "已付款": OrderStatus.PAID,
    "待发货": OrderStatus.PAID,
    "已发货": OrderStatus.SHIPPED,
    "待收货": OrderStatus.SHIPPED,
    "已完成": OrderStatus.COMPLETED,
    "已退款": OrderStatus.REFUNDED,
    "退款成功": OrderStatus.REFUNDED,
    "已关闭": OrderStatus.CLOSED,
    "已取消": OrderStatus.CLOSED,
} | {status.value: status for status in OrderStatus}


def order_status(value, amount: Decimal, refund_amount: Decimal) -> OrderStatus:
    """Our status for the report's: an order refunded in full is refunded whatever its status
    text (a refund after 交易成功 leaves it 交易成功), and so is a closed order with money back."""
    raw = text(value)
    if not raw:
        raise RowError("status_empty")
    status = STATUSES.get(raw) or STATUSES.get(raw.lower())
    if status is None:
        raise RowError("bad_status", value=raw)
    if refund_amount > 0 and (status == OrderStatus.CLOSED or refund_amount >= amount):
        return OrderStatus.REFUNDED
    return status


RATINGS = {
    "好评": Review.GOOD,
    "好": Review.GOOD,
    "good": Review.GOOD,
    "positive": Review.GOOD,
    "中评": Review.NEUTRAL,
    "中": Review.NEUTRAL,
    "neutral": Review.NEUTRAL,
    "差评": Review.BAD,
    "差": Review.BAD,
    "bad": Review.BAD,
    "negative": Review.BAD,
}


def rating(value) -> Review:
    raw = text(value)
    if not raw:
        raise RowError("rating_empty")
    review = RATINGS.get(raw.lower())
    if review is None:
        raise RowError("bad_rating", value=raw)
    return review


PLATFORMS = {
    "taobao": "taobao",
    "淘宝": "taobao",
    "tmall": "tmall",
    "天猫": "tmall",
    "1688": "1688",
    "阿里巴巴": "1688",
    "jd": "jd",
    "京东": "jd",
    "pdd": "pdd",
    "pinduoduo": "pdd",
    "拼多多": "pdd",
    "wechat": "wechat",
    "微信": "wechat",
    "微店": "wechat",
    "微信小店": "wechat",
    "视频号": "wechat",
    "other": "other",
    "其他": "other",
    "其它": "other",
}


def platform(value, default: str = "other") -> str:
    raw = text(value)
    if not raw:
        return default
    key = PLATFORMS.get(raw.lower())
    if key is None:
        raise RowError("bad_platform", value=raw)
    return key


# --- places ---------------------------------------------------------------------------------

# Province-level divisions by their short names, longest first so 内蒙古 wins over shorter ones.
PROVINCES = sorted(
    "北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 "
    "海南 四川 贵州 云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门".split(),
    key=len,
    reverse=True,
)
_REGION_SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", "自治区", "省", "市")
_CITY_SUFFIXES = ("市", "地区", "盟")


def _strip_suffix(name: str, suffixes) -> str:
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def place(address) -> tuple[str | None, str | None]:
    """(province, city) from an address such as "浙江省 杭州市 西湖区 …" → ("浙江", "杭州").

    The province is the address's first token with its 省/市/自治区 suffix removed; a known
    province name at the start of an address written without spaces is found too.
    """
    raw = text(address)
    if not raw:
        return None, None
    tokens = raw.split(None, 2)
    return _place(tokens[0], tokens[1] if len(tokens) > 1 else None)


@lru_cache(maxsize=4096)
def _place(first: str, second: str | None) -> tuple[str | None, str | None]:
    province = next((p for p in PROVINCES if first.startswith(p)), None)
    if province is None:
        # Not a Chinese province: keep the first token when it is short enough to be a region.
        short = _strip_suffix(first, _REGION_SUFFIXES)
        return (short if second is not None and len(short) <= 10 else None), None
    city = None
    if province in ("北京", "天津", "上海", "重庆"):
        city = province
    elif second is not None and _strip_suffix(first, _REGION_SUFFIXES) == province and len(second) <= 12:
        city = _strip_suffix(second, _CITY_SUFFIXES)  # "浙江省 杭州市 …": the second token
    return province, city


# --- phones ---------------------------------------------------------------------------------


class PhoneBook:
    """app.phones.normalize for every phone of a file, fast enough for 100,000 rows.

    Numbers repeat (one buyer, many orders), so results are cached. Most numbers are plain
    11-digit mobiles of the shop's region: those are checked against phonenumbers' own
    metadata patterns (what is_valid_number does for them) in about a microsecond instead of
    about forty; anything else goes through app.phones.normalize itself.
    """

    # Number types phonenumbers checks before "mobile": a number matching one of them is not
    # a mobile, so the fast path leaves it to app.phones.normalize.
    _OTHER_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail")

    def __init__(self, region: str):
        self.region = region
        self.cache: dict[str, str | None] = {}
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        self.fast = None
        if metadata is not None and metadata.mobile is not None and metadata.mobile.national_number_pattern:
            self.prefix = f"+{metadata.country_code}"
            self.national_prefix = metadata.national_prefix or ""
            self.general = re.compile(metadata.general_desc.national_number_pattern)
            self.mobile = re.compile(metadata.mobile.national_number_pattern)
            self.lengths = set(metadata.mobile.possible_length or ()) or set(metadata.general_desc.possible_length)
            others = [
                desc.national_number_pattern
                for desc in (getattr(metadata, name) for name in self._OTHER_TYPES)
                if desc is not None and desc.national_number_pattern
            ]
            self.others = re.compile("|".join(f"(?:{p})" for p in others)) if others else None
            self.fast = True

    def _fast(self, digits: str) -> str | None:
        if (
            not self.fast
            or not digits.isdigit()
            or not digits.isascii()
            or len(digits) not in self.lengths
            or (self.national_prefix and digits.startswith(self.national_prefix))
        ):
            return None
        if self.general.fullmatch(digits) and self.mobile.fullmatch(digits):
            if self.others is None or not self.others.fullmatch(digits):
                return self.prefix + digits
        return None

    def normalize(self, value) -> str | None:
        """E.164, or None for an empty or masked number (exports hide digits as 138****5678);
        RowError for a number that is not a valid mobile."""
        raw = text(value)
        if not raw or "*" in raw:
            return None
        try:
            result = self.cache[raw]
        except KeyError:
            result = self._fast(raw)
            if result is None:
                try:
                    result = phones.normalize(raw, self.region)
                except phones.InvalidPhone:
                    result = ""
            self.cache[raw] = result
        if not result:
            raise RowError("bad_phone", value=raw)
        return result
