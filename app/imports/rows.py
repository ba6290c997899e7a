"""One row of a file, read through the column mapping into what will be written, or a RowError."""

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from ..models import PAID_STATUSES, OrderStatus
from . import values
from .presets import ORDERS, Preset
from .values import PhoneBook, RowError, ShopClock, text

ORDER_COLUMNS = ("status", "amount", "refund_amount", "items", "item_count", "created_at", "paid_at")


class BlankRow(Exception):
    """A row with nothing in it (only spaces): not imported, not counted."""


@dataclass(slots=True)
class OrderRow:
    line: int
    order_no: str
    platform: str
    nickname: str
    name: str
    phone: str | None
    province: str | None
    city: str | None
    status: str
    amount: Decimal
    refund_amount: Decimal
    created_at: datetime
    paid_at: datetime | None
    items: str | None
    item_count: int | None
    bad_phone: str | None = None  # the phone as written, when it is not a valid mobile (kept without it)

    def order_values(self) -> dict:
        """The order's columns this row sets (the same keys as ORDER_COLUMNS)."""
        return {
            "status": self.status,
            "amount": self.amount,
            "refund_amount": self.refund_amount,
            "items": self.items,
            "item_count": self.item_count,
            "created_at": self.created_at,
            "paid_at": self.paid_at,
        }


ITEMS_SEPARATOR = "; "


def one_order(rows: list[OrderRow]) -> OrderRow:
    """The order that rows with the same order number in one file describe.

    Reports such as 1688's have a row per line item, each repeating the order's own columns
    (or leaving them blank after the first row). The order is the first row's: its buyer,
    status and times; its amount paid and refund are the largest the rows give (the order's,
    repeated or written once); its items are the rows' titles, each once, and its item count
    the sum of theirs. So the same file, imported again, makes the very same order.
    """
    if len(rows) == 1:
        return rows[0]
    titles = dict.fromkeys(row.items for row in rows if row.items)
    counts = [row.item_count for row in rows if row.item_count is not None]
    return replace(
        rows[0],
        amount=max(row.amount for row in rows),
        refund_amount=max(row.refund_amount for row in rows),
        items=ITEMS_SEPARATOR.join(titles)[:500] or None,
        item_count=sum(counts) if counts else None,
    )


@dataclass(slots=True)
class ReviewRow:
    line: int
    order_no: str
    review: str  # a Review value


class RowReader:
    """Reads rows of one file: `read(line, cells)` gives an OrderRow or ReviewRow.

    Written for speed (a 100,000-row report reads in about two seconds): the mapped column of
    each field is looked up once, and rows shorter than the header are padded once.

    A row too short to reach every required column (a line cut short, or split by a line
    break inside a field) is rejected for being short: its missing status or time is not the
    problem to report. A row that only lacks optional columns at its end is read with those
    empty: some tools drop trailing empty cells, and an XLSX row ends at its last filled cell.
    """

    @classmethod
    def for_table(cls, preset: Preset, mapping: dict[str, int | None], table, config) -> "RowReader":
        """The reader of `table`'s rows with this mapping, in the shop's phone region and time zone."""
        return cls(preset, mapping, config["PHONE_REGION"], config["SHOP_TIMEZONE"], columns=len(table.header))

    def __init__(
        self, preset: Preset, mapping: dict[str, int | None], phone_region: str, shop_timezone: str, *, columns: int
    ):
        """`columns`: how many columns the file's header names."""
        self.preset = preset
        self.phones = PhoneBook(phone_region)
        self.clock = ShopClock(shop_timezone)
        self.columns = columns
        known = {f.key for f in preset.fields}
        mapped = {key: index for key, index in mapping.items() if index is not None and key in known}
        self.required_width = max((mapped[f.key] + 1 for f in preset.required if f.key in mapped), default=0)
        # Rows are padded with None to the last mapped column, plus one None that every
        # unmapped field reads (index -1).
        self.width = max(mapped.values(), default=-1) + 1
        self.index = {f.key: mapped.get(f.key, -1) for f in preset.fields}
        self.padding = [None] * (self.width + 1)
        self.read = self._read_order if preset.kind == ORDERS else self._read_review

    def _padded(self, cells) -> list:
        if len(cells) < self.required_width:
            if not any(text(c) for c in cells):
                raise BlankRow()
            raise RowError("short_row", cells=len(cells), columns=self.columns)
        missing = self.width - len(cells)
        return [*cells, *self.padding[: missing + 1]] if missing > 0 else [*cells, None]

    def _order_number(self, cells, value) -> str:
        try:
            return values.order_number(value)
        except RowError as error:
            if error.code == "order_no_empty" and not any(text(c) for c in cells):
                raise BlankRow() from None
            raise

    def _read_order(self, line: int, cells) -> OrderRow:
        c = self._padded(cells)
        i = self.index
        order_no = self._order_number(cells, c[i["order_no"]])
        nickname = text(c[i["nickname"]])
        if not nickname:
            raise RowError("nickname_empty")
        if len(nickname) > 100:
            raise RowError("nickname_too_long")
        amount = values.money(c[i["amount"]], "bad_amount")
        refund = values.money(c[i["refund_amount"]], "bad_refund")
        status = values.order_status(c[i["status"]], amount, refund)
        created = self.clock.moment(c[i["created_at"]], "bad_created")
        if created is None:
            raise RowError("created_empty")
        paid = self.clock.moment(c[i["paid_at"]], "bad_paid")
        if paid is None and (status in PAID_STATUSES or status == OrderStatus.REFUNDED):
            paid = created  # a file without payment times: count the order as paid when placed
        item_count = values.whole_number(c[i["item_count"]])
        try:
            phone, bad_phone = self.phones.normalize(c[i["phone"]]), None
        except RowError as error:  # the order and its buyer are kept, without the phone
            phone, bad_phone = None, error.params["value"]
        platform = self.preset.platform or values.platform(c[i.get("platform", -1)])
        province, city = values.place(c[i["address"]])
        items = text(c[i["items"]])[:500] or None
        name = text(c[i["receiver"]])[:100] or nickname
        return OrderRow(
            line,
            order_no,
            platform,
            nickname,
            name,
            phone,
            province,
            city,
            status.value,
            amount,
            refund,
            created,
            paid,
            items,
            item_count,
            bad_phone,
        )

    def _read_review(self, line: int, cells) -> ReviewRow:
        c = self._padded(cells)
        order_no = self._order_number(cells, c[self.index["order_no"]])
        return ReviewRow(line, order_no, values.rating(c[self.index["rating"]]).value)
