"""Writing a file's rows to the database, a batch at a time, with SQLAlchemy Core.

For each batch: the customers and orders it names are loaded with a few queries; the rows
of each order are combined into that order (rows.one_order: reports such as 1688's have a
row per line item) and every order is decided in memory (created, updated, unchanged, older
than what is stored, or rejected with a reason), so a rejected row writes nothing; then the
batch is written with a few bulk statements and committed. A batch never ends inside the
consecutive rows of one order. Should the database still refuse the batch (another user
registered the same nickname meanwhile), it is rolled back and retried an order at a time,
each in its own transaction, so that only the offending rows are rejected.

A row's buyer is the customer holding its platform account (platform + nickname); failing
that, the customer with its phone (the oldest record, if several have it), who gains the
account, and the report lists the row; failing that, a new customer. A row whose phone is
not a valid mobile keeps its order and buyer without the phone, and the report lists it.

Decisions compare with what is stored, which makes an import idempotent: the same file
imported twice changes nothing the second time and reports every row as unchanged. An
order's status only moves forward (models.status_after): a row that would move it back
leaves the order as it is and counts as older than what we have.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from ..extensions import db
from ..models import Customer, CustomerAccount, Order, Source, status_after, utcnow
from ..search import reindex, text_for
from .presets import ORDERS
from .rows import ORDER_COLUMNS, BlankRow, OrderRow, ReviewRow, RowReader, one_order
from .tables import Table
from .values import RowError

BATCH_SIZE = 5000
IMPORT_CACHE_KB = 128 * 1024  # SQLite page cache while importing (see _apply)
_CHUNK = 1000  # values per IN (...) list
JOINED_BY_PHONE = ("joined_by_phone", "joined_oldest_by_phone")  # note codes


@dataclass
class Counts:
    total: int = 0
    created: int = 0  # orders
    updated: int = 0  # orders
    skipped: int = 0  # rows: their order (and buyer) as stored already
    older: int = 0  # rows saying less than what is stored (an older report): left as they are
    line_items: int = 0  # rows after an order's first, in an order created or updated
    customers_created: int = 0
    rejected: list[dict] = field(default_factory=list)
    notes: list[dict] = field(default_factory=list)  # rows imported, with something to say

    def reject(self, line: int, error: RowError) -> None:
        self.rejected.append({"line": line, "reason": error.reason, "code": error.code, "params": error.params})

    def note(self, line: int, code: str, **params) -> dict:
        """A note on an imported row; its "customer_id" is set once the customer is written."""
        said = RowError(code, **params)
        entry = {"line": line, "reason": said.reason, "code": code, "params": said.params, "customer_id": None}
        self.notes.append(entry)
        return entry

    def add(self, other: "Counts") -> None:
        self.created += other.created
        self.updated += other.updated
        self.skipped += other.skipped
        self.older += other.older
        self.line_items += other.line_items
        self.customers_created += other.customers_created
        self.rejected += other.rejected
        self.notes += other.notes

    @property
    def written(self) -> bool:
        return bool(self.created or self.updated)

    @property
    def joined_by_phone(self) -> int:
        return sum(1 for note in self.notes if note["code"] in JOINED_BY_PHONE)

    @property
    def phones_dropped(self) -> int:
        return sum(1 for note in self.notes if note["code"] == "phone_dropped")

    def summary(self) -> dict:
        return {
            "total": self.total,
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "older": self.older,
            "line_items": self.line_items,
            "rejected": len(self.rejected),
            "customers_created": self.customers_created,
            "joined_by_phone": self.joined_by_phone,
            "phones_dropped": self.phones_dropped,
        }


def _chunks(values: list, size: int = _CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class _Customer:
    __slots__ = (
        "id",
        "name",
        "platform",
        "nickname",
        "phone",
        "province",
        "city",
        "wechat",
        "tags",
        "accounts",
        "search_changed",
    )

    def __init__(self, id, name, platform, nickname, phone, province, city, wechat=None, tags=""):
        self.id, self.name, self.platform, self.nickname = id, name, platform, nickname
        self.phone, self.province, self.city, self.wechat, self.tags = phone, province, city, wechat, tags
        self.accounts: list[tuple[str, str]] = []  # (platform, nickname) this batch adds
        self.search_changed = False

    def fill(self, row: OrderRow) -> bool:
        """Fill what the customer lacks from the row; what the team entered is kept."""
        changed = False
        if self.phone is None and row.phone:
            self.phone = row.phone
            self.search_changed = changed = True
        if self.province is None and row.province:
            self.province, changed = row.province, True
        if self.city is None and row.city and self.province == row.province:
            self.city, changed = row.city, True
        return changed

    def add_account(self, platform: str, nickname: str) -> None:
        self.accounts.append((platform, nickname))
        self.search_changed = True
        if self.nickname is None:  # registered by hand without one: this is their first account
            self.platform, self.nickname = platform, nickname

    def search_text(self, other_nicknames: Iterable[str] = ()) -> str:
        return text_for(self.name, self.nickname, self.phone, self.wechat, self.tags, other_nicknames)


class _Order:
    __slots__ = ("id", "customer_id", "customer", "nickname", "platform", "values")

    def __init__(self, id, customer_id, customer, nickname, platform, values):
        self.id, self.customer_id, self.customer = id, customer_id, customer
        self.nickname, self.platform, self.values = nickname, platform, values

    def belongs_to(self, customer: _Customer | None) -> bool:
        if customer is None:
            return False
        if self.customer is not None:
            return self.customer is customer
        return self.customer_id == customer.id


_CUSTOMER_COLUMNS = ("id", "name", "platform", "nickname", "phone", "province", "city", "wechat", "tags")


class OrderRows:
    """Applies OrderRows: customers matched by platform account, then by phone (or created),
    orders upserted by order number."""

    def __init__(self, owner_id: int | None, actor_id: int | None):
        self.owner_id = owner_id
        self.actor_id = actor_id

    def units(self, rows: list[OrderRow]) -> list[list[OrderRow]]:
        """The rows of each order: what is written, or rejected, together."""
        by_order: dict[str, list[OrderRow]] = {}
        for row in rows:
            by_order.setdefault(row.order_no, []).append(row)
        return list(by_order.values())

    def _customers(self, connection: Connection, rows: list[OrderRow]) -> dict:
        """The customers holding the rows' platform accounts, by (platform, nickname)."""
        by_platform: dict[str, set[str]] = {}
        for row in rows:
            by_platform.setdefault(row.platform, set()).add(row.nickname)
        a, c = CustomerAccount.__table__.c, Customer.__table__.c
        found, loaded = {}, {}
        for platform, nicknames in by_platform.items():
            for chunk in _chunks(sorted(nicknames)):
                query = (
                    select(a.nickname, *(c[k] for k in _CUSTOMER_COLUMNS))
                    .join_from(CustomerAccount.__table__, Customer.__table__, a.customer_id == c.id)
                    .where(a.platform == platform, a.nickname.in_(chunk))
                )
                for r in connection.execute(query):
                    customer = loaded.get(r.id) or _Customer(*(getattr(r, k) for k in _CUSTOMER_COLUMNS))
                    found[(platform, r[0])] = loaded[r.id] = customer
        return found

    def _by_phone(self, connection: Connection, phones: set[str], known: dict[int, _Customer]) -> dict:
        """For each phone, the oldest customer registered with it, and how many are."""
        c = Customer.__table__.c
        found: dict[str, tuple[_Customer, int]] = {}
        for chunk in _chunks(sorted(phones)):
            query = select(*(c[k] for k in _CUSTOMER_COLUMNS)).where(c.phone.in_(chunk)).order_by(c.created_at, c.id)
            for r in connection.execute(query):
                oldest, holders = found.get(r.phone, (None, 0))
                if oldest is None:
                    oldest = known.get(r.id) or _Customer(*(getattr(r, k) for k in _CUSTOMER_COLUMNS))
                    known[r.id] = oldest
                found[r.phone] = (oldest, holders + 1)
        return found

    def _orders(self, connection: Connection, rows: list[OrderRow]) -> dict:
        o, c = Order.__table__.c, Customer.__table__.c
        found = {}
        for chunk in _chunks(sorted({row.order_no for row in rows})):
            query = (
                select(o.id, o.order_no, o.customer_id, c.nickname, o.platform, *(o[k] for k in ORDER_COLUMNS))
                .join_from(Order.__table__, Customer.__table__, o.customer_id == c.id)
                .where(o.order_no.in_(chunk))
            )
            for r in connection.execute(query):
                found[r.order_no] = _Order(
                    r.id, r.customer_id, None, r.nickname, r.platform, {k: getattr(r, k) for k in ORDER_COLUMNS}
                )
        return found

    def apply(self, connection: Connection, rows: list[OrderRow]) -> Counts:
        counts = Counts()
        customers = self._customers(connection, rows)
        known = {customer.id: customer for customer in customers.values()}
        unknown_phones = {row.phone for row in rows if row.phone and (row.platform, row.nickname) not in customers}
        by_phone = self._by_phone(connection, unknown_phones, known) if unknown_phones else {}
        orders = self._orders(connection, rows)
        new_customers: list[_Customer] = []
        changed_customers: dict[int, _Customer] = {}
        new_orders: list[tuple[str, _Order]] = []
        changed_orders: dict[int, _Order] = {}
        notes: list[tuple[dict, _Customer]] = []

        for unit in self.units(rows):
            key = (unit[0].platform, unit[0].nickname)
            lines = [row for row in unit if (row.platform, row.nickname) == key]
            for row in unit:
                if (row.platform, row.nickname) != key:  # one order, two buyers: the first row's wins
                    counts.reject(row.line, RowError("other_customer", order_no=row.order_no, nickname=key[1]))
            row = one_order(lines)
            customer, joined = customers.get(key), None
            if customer is None and row.phone in by_phone:
                customer, holders = joined = by_phone[row.phone]
            order = orders.get(row.order_no)
            if order is not None and not order.belongs_to(customer):
                for line in lines:
                    counts.reject(line.line, RowError("other_customer", order_no=row.order_no, nickname=order.nickname))
                continue
            # The order is accepted: from here on it is written, all of it.
            customer_changed = False
            if customer is None:
                customer = _Customer(None, row.name, row.platform, row.nickname, row.phone, row.province, row.city)
                customer.accounts.append(key)
                new_customers.append(customer)
                counts.customers_created += 1
                if row.phone:
                    by_phone[row.phone] = (customer, 1)
            else:
                if joined is not None:
                    customer.add_account(*key)
                    code = "joined_oldest_by_phone" if holders > 1 else "joined_by_phone"
                    said = {"name": customer.name, "phone": row.phone, "platform": key[0], "nickname": key[1]}
                    notes.append((counts.note(row.line, code, **said, count=holders), customer))
                if (customer.fill(row) or joined is not None) and customer.id is not None:
                    changed_customers[customer.id] = customer
                    customer_changed = True
            customers[key] = customer
            notes += [
                (counts.note(line.line, "phone_dropped", value=line.bad_phone), customer)
                for line in lines
                if line.bad_phone
            ]
            values = row.order_values()
            if order is None:
                new_orders.append((row.order_no, _Order(None, None, customer, row.nickname, row.platform, values)))
                counts.created += 1
                counts.line_items += len(lines) - 1
            elif status_after(order.values["status"], values["status"]) != values["status"]:
                counts.older += len(lines)
            elif order.values != values or customer_changed:
                if order.values != values:
                    order.values = values
                    changed_orders[order.id] = order
                counts.updated += 1
                counts.line_items += len(lines) - 1
            else:
                counts.skipped += len(lines)

        self._write(connection, new_customers, changed_customers, new_orders, changed_orders)
        for note, customer in notes:
            note["customer_id"] = customer.id
        return counts

    def _write(self, connection, new_customers, changed_customers, new_orders, changed_orders) -> None:
        now = utcnow()
        if new_customers:
            values = [
                {
                    "name": customer.name,
                    "platform": customer.platform,
                    "nickname": customer.nickname,
                    "phone": customer.phone,
                    "province": customer.province,
                    "city": customer.city,
                    "tags": "",
                    "source": Source.IMPORT,
                    "owner_id": self.owner_id,
                    "created_by_id": self.actor_id,
                    "created_at": now,
                    "updated_at": now,
                    "search_text": customer.search_text(n for _, n in customer.accounts),
                }
                for customer in new_customers
            ]
            # Ids come back keyed by (platform, nickname), which is unique: asking RETURNING for
            # rows in parameter order makes SQLAlchemy insert them one statement each on SQLite
            # (and the FTS trigger then costs five times as much per row).
            table = Customer.__table__
            by_key = {(customer.platform, customer.nickname): customer for customer in new_customers}
            returning = insert(table).returning(table.c.id, table.c.platform, table.c.nickname)
            for customer_id, platform, nickname in connection.execute(returning, values):
                by_key[(platform, nickname)].id = customer_id
            reindex(connection, [(customer.id, v["search_text"]) for customer, v in zip(new_customers, values)])
        accounts = [
            {"customer_id": customer.id, "platform": platform, "nickname": nickname}
            for customer in (*new_customers, *changed_customers.values())
            for platform, nickname in customer.accounts
        ]
        if accounts:
            connection.execute(insert(CustomerAccount.__table__), accounts)
        if changed_customers:
            nicknames = self._nicknames(connection, list(changed_customers))
            table = Customer.__table__
            statement = (
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values(
                    platform=bindparam("b_platform"),
                    nickname=bindparam("b_nickname"),
                    phone=bindparam("b_phone"),
                    province=bindparam("b_province"),
                    city=bindparam("b_city"),
                    search_text=bindparam("b_search_text"),
                    updated_at=bindparam("b_updated_at"),
                )
            )
            texts = {cid: customer.search_text(nicknames.get(cid, ())) for cid, customer in changed_customers.items()}
            connection.execute(
                statement,
                [
                    {
                        "b_id": customer.id,
                        "b_platform": customer.platform,
                        "b_nickname": customer.nickname,
                        "b_phone": customer.phone,
                        "b_province": customer.province,
                        "b_city": customer.city,
                        "b_search_text": texts[customer.id],
                        "b_updated_at": now,
                    }
                    for customer in changed_customers.values()
                ],
            )
            reindex(
                connection,
                [(cid, texts[cid]) for cid, customer in changed_customers.items() if customer.search_changed],
            )
        if new_orders:
            connection.execute(
                insert(Order.__table__),
                [
                    {"order_no": order_no, "customer_id": order.customer.id, "platform": order.platform, **order.values}
                    for order_no, order in new_orders
                ],
            )
        if changed_orders:
            table = Order.__table__
            statement = (
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values({k: bindparam(f"b_{k}") for k in ORDER_COLUMNS})
            )
            connection.execute(
                statement,
                [
                    {"b_id": order.id} | {f"b_{k}": v for k, v in order.values.items()}
                    for order in changed_orders.values()
                ],
            )

    def _nicknames(self, connection: Connection, customer_ids: list[int]) -> dict[int, list[str]]:
        """Every nickname of these customers, the accounts just added included."""
        a = CustomerAccount.__table__.c
        nicknames: dict[int, list[str]] = {}
        for chunk in _chunks(sorted(customer_ids)):
            query = select(a.customer_id, a.nickname).where(a.customer_id.in_(chunk)).order_by(a.id)
            for customer_id, nickname in connection.execute(query):
                nicknames.setdefault(customer_id, []).append(nickname)
        return nicknames


class ReviewRows:
    """Applies ReviewRows: the rating of an order already imported, and its customer's latest review."""

    def units(self, rows: list[ReviewRow]) -> list[list[ReviewRow]]:
        return [[row] for row in rows]

    def apply(self, connection: Connection, rows: list[ReviewRow]) -> Counts:
        counts = Counts()
        o = Order.__table__.c
        orders = {}
        for chunk in _chunks(sorted({row.order_no for row in rows})):
            for r in connection.execute(select(o.id, o.order_no, o.customer_id, o.review).where(o.order_no.in_(chunk))):
                orders[r.order_no] = [r.id, r.customer_id, r.review]
        changed: dict[int, list] = {}
        for row in rows:
            order = orders.get(row.order_no)
            if order is None:
                counts.reject(row.line, RowError("no_such_order", order_no=row.order_no))
            elif order[2] == row.review:
                counts.skipped += 1
            else:
                order[2] = row.review
                changed[order[0]] = order
                counts.updated += 1
        if changed:
            table = Order.__table__
            connection.execute(
                update(table).where(table.c.id == bindparam("b_id")).values(review=bindparam("b_review")),
                [{"b_id": oid, "b_review": order[2]} for oid, order in changed.items()],
            )
            self._latest_reviews(connection, {order[1] for order in changed.values()})
        return counts

    def _latest_reviews(self, connection: Connection, customer_ids: set[int]) -> None:
        """Each customer's latest review: the rating of their most recent reviewed order."""
        o, c = Order.__table__.c, Customer.__table__.c
        for chunk in _chunks(sorted(customer_ids)):
            latest = {}
            query = (
                select(o.customer_id, o.review)
                .where(o.customer_id.in_(chunk), o.review.is_not(None))
                .order_by(o.created_at, o.id)
            )
            for customer_id, review in connection.execute(query):
                latest[customer_id] = review
            current = dict(connection.execute(select(c.id, c.latest_review).where(c.id.in_(chunk))).all())
            changes = [
                {"b_id": cid, "b_review": review} for cid, review in latest.items() if current.get(cid) != review
            ]
            if changes:
                connection.execute(
                    update(Customer.__table__)
                    .where(c.id == bindparam("b_id"))
                    .values(latest_review=bindparam("b_review")),
                    changes,
                )


@dataclass
class _Batch:
    rows: list  # OrderRow or ReviewRow
    rejected: list[tuple[int, RowError]]
    read: int  # rows read, blank ones aside


def _batches(table: Table, reader: RowReader, batch_size: int) -> Iterator[_Batch]:
    """Batches of about `batch_size` rows; a full batch goes on while the rows are of its last
    order (the line items of one order are decided together)."""
    batch = _Batch([], [], 0)
    for line, cells in table.rows():
        try:
            row, error = reader.read(line, cells), None
        except BlankRow:
            continue
        except RowError as rejected:
            row, error = None, rejected
        if batch.read >= batch_size and not (
            row is not None and batch.rows and batch.rows[-1].order_no == row.order_no
        ):
            yield batch
            batch = _Batch([], [], 0)
        if error is None:
            batch.rows.append(row)
        else:
            batch.rejected.append((line, error))
        batch.read += 1
    if batch.read:
        yield batch


def import_table(
    table: Table,
    reader: RowReader,
    counts: Counts,
    *,
    owner_id: int | None = None,
    actor_id: int | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Counts:
    """Import every row of `table`, committing batch by batch; `counts` holds the tally so far
    (also when this raises)."""
    rows = OrderRows(owner_id, actor_id) if reader.preset.kind == ORDERS else ReviewRows()
    total = table.approximate_rows
    progress(0, total)
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    default_cache = db.session.connection().exec_driver_sql("PRAGMA cache_size").scalar() if sqlite else None
    try:
        for batch in _batches(table, reader, BATCH_SIZE):
            for line, error in batch.rejected:
                counts.reject(line, error)
            if batch.rows:
                _apply(rows, batch.rows, counts, cache_kb=IMPORT_CACHE_KB if sqlite else None)
            counts.total += batch.read
            progress(counts.total, max(total, counts.total))
    finally:
        if sqlite:
            _restore_cache_size(int(default_cache))
    counts.rejected.sort(key=lambda r: r["line"])
    counts.notes.sort(key=lambda r: r["line"])
    return counts


def _restore_cache_size(kb: int) -> None:
    """Best effort: a failure here must not hide why the import stopped."""
    try:
        db.session.rollback()  # every batch is committed, or failed
        db.session.connection().exec_driver_sql(f"PRAGMA cache_size = {kb}")
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()


def _apply(rows, batch: list, counts: Counts, cache_kb: int | None = None) -> None:
    """Write a batch in one transaction; if the database refuses it, one order (or review) at a time."""
    connection = db.session.connection()
    if cache_kb:
        # A larger SQLite page cache while importing, on this connection: an import updates
        # indexes all over (search grams, nicknames, phones, order numbers), and with the
        # default 2 MB their pages are written out and read back within each batch, which
        # makes a large import about a third slower.
        connection.exec_driver_sql(f"PRAGMA cache_size = -{cache_kb}")
    try:
        result = rows.apply(connection, batch)
        db.session.commit()
    except (IntegrityError, DataError) as error:
        db.session.rollback()
        units = rows.units(batch)
        if len(units) == 1:
            for row in batch:
                counts.reject(row.line, RowError("not_saved", error=_first_line(error)))
            return
        for unit in units:
            _apply(rows, unit, counts)
        return
    counts.add(result)


def _first_line(error: Exception) -> str:
    message = str(getattr(error, "orig", None) or error).strip()
    return message.splitlines()[0][:200] if message else type(error).__name__
