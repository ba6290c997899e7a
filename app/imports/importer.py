"""Writing a file's rows to the database, a batch at a time, with SQLAlchemy Core.

For each batch: the customers and orders it names are loaded with one query each; every row
is then decided in memory (create, update, unchanged, or rejected with a reason), so a
rejected row writes nothing; then the batch is written with a few bulk statements and
committed. Should the database still refuse the batch (another user registered the same
nickname meanwhile), it is rolled back and retried a row at a time, each row in its own
transaction, so that only the offending row is rejected.

Decisions compare with what is stored, which makes an import idempotent: the same file
imported twice changes nothing the second time and reports every row as unchanged.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from ..extensions import db
from ..models import Customer, Order, Source, utcnow
from ..search import reindex, text_for
from .presets import ORDERS
from .rows import ORDER_COLUMNS, BlankRow, OrderRow, ReviewRow, RowReader
from .tables import Table
from .values import RowError

BATCH_SIZE = 5000
IMPORT_CACHE_KB = 128 * 1024  # SQLite page cache while importing (see _apply)
_CHUNK = 1000  # values per IN (...) list


@dataclass
class Counts:
    total: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    customers_created: int = 0
    rejected: list[dict] = field(default_factory=list)

    def reject(self, line: int, error: RowError) -> None:
        self.rejected.append({"line": line, "reason": error.reason, "code": error.code, "params": error.params})

    def add(self, other: "Counts") -> None:
        self.created += other.created
        self.updated += other.updated
        self.skipped += other.skipped
        self.customers_created += other.customers_created
        self.rejected += other.rejected

    @property
    def written(self) -> bool:
        return bool(self.created or self.updated)

    def summary(self) -> dict:
        return {
            "total": self.total,
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "rejected": len(self.rejected),
            "customers_created": self.customers_created,
        }


def _chunks(values: list, size: int = _CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class _Customer:
    __slots__ = ("id", "key", "name", "nickname", "phone", "province", "city", "wechat", "tags", "search_changed")

    def __init__(self, id, key, name, nickname, phone, province, city, wechat=None, tags=""):
        self.id, self.key, self.name, self.nickname = id, key, name, nickname
        self.phone, self.province, self.city, self.wechat, self.tags = phone, province, city, wechat, tags
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

    @property
    def search_text(self) -> str:
        return text_for(self.name, self.nickname, self.phone, self.wechat, self.tags)


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


class OrderRows:
    """Applies OrderRows: customers matched by platform + nickname (or created), orders
    upserted by order number."""

    def __init__(self, owner_id: int | None, actor_id: int | None):
        self.owner_id = owner_id
        self.actor_id = actor_id

    def _customers(self, connection: Connection, rows: list[OrderRow]) -> dict:
        by_platform: dict[str, set[str]] = {}
        for row in rows:
            by_platform.setdefault(row.platform, set()).add(row.nickname)
        c = Customer.__table__.c
        found = {}
        for platform, nicknames in by_platform.items():
            for chunk in _chunks(sorted(nicknames)):
                query = select(c.id, c.nickname, c.name, c.phone, c.province, c.city, c.wechat, c.tags).where(
                    c.platform == platform, c.nickname.in_(chunk)
                )
                for r in connection.execute(query):
                    key = (platform, r.nickname)
                    found[key] = _Customer(r.id, key, r.name, r.nickname, r.phone, r.province, r.city, r.wechat, r.tags)
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
        orders = self._orders(connection, rows)
        new_customers: list[_Customer] = []
        changed_customers: dict[int, _Customer] = {}
        new_orders: list[tuple[str, _Order]] = []
        changed_orders: dict[int, _Order] = {}

        for row in rows:
            key = (row.platform, row.nickname)
            customer = customers.get(key)
            order = orders.get(row.order_no)
            if order is not None and not order.belongs_to(customer):
                counts.reject(row.line, RowError("other_customer", order_no=row.order_no, nickname=order.nickname))
                continue
            # The row is accepted: from here on it is written, all of it.
            customer_changed = False
            if customer is None:
                customer = _Customer(None, key, row.name, row.nickname, row.phone, row.province, row.city)
                customers[key] = customer
                new_customers.append(customer)
                counts.customers_created += 1
            elif customer.fill(row) and customer.id is not None:
                changed_customers[customer.id] = customer
                customer_changed = True
            values = row.order_values()
            if order is None:
                order = _Order(None, None, customer, row.nickname, row.platform, values)
                orders[row.order_no] = order
                new_orders.append((row.order_no, order))
                counts.created += 1
            elif order.values != values:
                order.values = values
                if order.id is not None:
                    changed_orders[order.id] = order
                counts.updated += 1
            elif customer_changed:
                counts.updated += 1
            else:
                counts.skipped += 1

        self._write(connection, new_customers, changed_customers, new_orders, changed_orders)
        return counts

    def _write(self, connection, new_customers, changed_customers, new_orders, changed_orders) -> None:
        now = utcnow()
        if new_customers:
            values = [
                {
                    "name": customer.name,
                    "platform": customer.key[0],
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
                    "search_text": customer.search_text,
                }
                for customer in new_customers
            ]
            # Ids come back keyed by (platform, nickname), which is unique: asking RETURNING for
            # rows in parameter order makes SQLAlchemy insert them one statement each on SQLite
            # (and the FTS trigger then costs five times as much per row).
            table = Customer.__table__
            by_key = {customer.key: customer for customer in new_customers}
            returning = insert(table).returning(table.c.id, table.c.platform, table.c.nickname)
            for customer_id, platform, nickname in connection.execute(returning, values):
                by_key[(platform, nickname)].id = customer_id
            reindex(connection, [(customer.id, v["search_text"]) for customer, v in zip(new_customers, values)])
        if changed_customers:
            table = Customer.__table__
            statement = (
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values(
                    phone=bindparam("b_phone"),
                    province=bindparam("b_province"),
                    city=bindparam("b_city"),
                    search_text=bindparam("b_search_text"),
                    updated_at=bindparam("b_updated_at"),
                )
            )
            connection.execute(
                statement,
                [
                    {
                        "b_id": customer.id,
                        "b_phone": customer.phone,
                        "b_province": customer.province,
                        "b_city": customer.city,
                        "b_search_text": customer.search_text,
                        "b_updated_at": now,
                    }
                    for customer in changed_customers.values()
                ],
            )
            reindex(
                connection,
                [
                    (customer.id, customer.search_text)
                    for customer in changed_customers.values()
                    if customer.search_changed
                ],
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


class ReviewRows:
    """Applies ReviewRows: the rating of an order already imported, and its customer's latest review."""

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
    batch = _Batch([], [], 0)
    for line, cells in table.rows():
        try:
            batch.rows.append(reader.read(line, cells))
        except BlankRow:
            continue
        except RowError as error:
            batch.rejected.append((line, error))
        batch.read += 1
        if batch.read == batch_size:
            yield batch
            batch = _Batch([], [], 0)
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
    batch_size: int = BATCH_SIZE,
) -> Counts:
    """Import every row of `table`, committing batch by batch; `counts` holds the tally so far
    (also when this raises)."""
    rows = OrderRows(owner_id, actor_id) if reader.preset.kind == ORDERS else ReviewRows()
    total = table.approximate_rows
    progress(0, total)
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    default_cache = db.session.connection().exec_driver_sql("PRAGMA cache_size").scalar() if sqlite else None
    try:
        for batch in _batches(table, reader, batch_size):
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
    """Write a batch in one transaction; if the database refuses it, one row at a time."""
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
        if len(batch) == 1:
            counts.reject(batch[0].line, RowError("not_saved", error=_first_line(error)))
            return
        for row in batch:
            _apply(rows, [row], counts)
        return
    counts.add(result)


def _first_line(error: Exception) -> str:
    message = str(getattr(error, "orig", None) or error).strip()
    return message.splitlines()[0][:200] if message else type(error).__name__
