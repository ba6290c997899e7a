"""One page of a query's rows, with the total for the pager (templates/_macros.html)."""

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func, literal, literal_column, select, tuple_

from .extensions import db


@dataclass
class Page:
    items: list
    total: int
    number: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def count_of(query: Select) -> int:
    """How many rows `query` gives. A query may carry its total, or an equivalent query cheaper
    to count (filtered() does)."""
    options = query.get_execution_options()
    total = options.get("known_total")
    if total is None:
        total = count_up_to(options.get("count_query", query), None)
    return total


def page_of(query: Select, number: int, size: int) -> Page:
    def fetch(number: int) -> list:
        return list(db.session.scalars(query.limit(size).offset((number - 1) * size)))

    number = max(1, number)
    items = fetch(number)
    if 0 < len(items) < size or (number == 1 and not items):
        return Page(items, (number - 1) * size + len(items), number, size)  # the last page: no need to count
    total = count_of(query)
    last = max(1, -(-total // size))
    if number > last:
        number = last
        items = fetch(number)
    return Page(items, total, number, size)


# --- a long list: counted up to a cap, paged by keyset past it ---------------------------------


@dataclass(frozen=True)
class SortKey:
    """A list's order: `column`, then the id, both ascending or both descending. A `nullable`
    column's empty values come last (descending: `DESC NULLS LAST`, SQLite's own order)."""

    column: ColumnElement
    id: ColumnElement
    descending: bool
    nullable: bool = False

    def order(self, reverse: bool = False) -> list:
        descending = self.descending != reverse
        column = self.column.desc() if descending else self.column.asc()
        if self.nullable:
            column = column.nulls_first() if reverse else column.nulls_last()
        return [column, self.id.desc() if descending else self.id.asc()]

    def _beyond(self, value, row_id: int, reverse: bool):
        """Rows with a non-empty value strictly past (value, row_id) in this order (or before it, `reverse`)."""
        after = tuple_(self.column, self.id)
        if self.descending != reverse:
            return after < tuple_(literal(value, self.column.type), literal(row_id, self.id.type))
        return after > tuple_(literal(value, self.column.type), literal(row_id, self.id.type))

    def at(self, query: Select, offset: int, limit: int, split: bool = False) -> list:
        """Up to `limit` rows of `query` in this order from position `offset`. With `split`, a
        nullable column is read in two parts as in read() (PostgreSQL: else it sorts every row)."""
        if not (split and self.nullable):
            return _rows(query.order_by(*self.order()).offset(offset).limit(limit))
        column, ids = self.column, self.id
        by_id = ids.desc() if self.descending else ids.asc()
        by_value = [column.desc() if self.descending else column.asc(), by_id]
        rows = _rows(query.where(column.is_not(None)).order_by(*by_value).offset(offset).limit(limit))
        if len(rows) < limit:
            if rows:
                valued = offset + len(rows)
            else:  # past the rows with a value: how many there are (a deep page only)
                valued = count_up_to(query.where(column.is_not(None)), None)
            empty = query.where(column.is_(None)).order_by(by_id)
            rows += _rows(empty.offset(max(0, offset - valued)).limit(limit - len(rows)))
        return rows

    def read(self, query: Select, value, row_id: int, limit: int, reverse: bool = False) -> list:
        """Up to `limit` rows of `query` after the row (value, row_id) in this order, or, with
        `reverse`, before it (nearest first).

        A nullable column is read in two parts, its values and then its empty ones: a single
        condition `(value, id) < (…) OR value IS NULL` would keep the database from starting
        at the row in the sort order's index, and PostgreSQL's index on the column is in the
        order `DESC NULLS FIRST` (each part's order is the same as either).
        """
        column, ids = self.column, self.id
        if not self.nullable:
            return _rows(query.where(self._beyond(value, row_id, reverse)).order_by(*self.order(reverse)).limit(limit))
        descending = self.descending != reverse
        by_id = ids.desc() if descending else ids.asc()
        by_value = [column.desc() if descending else column.asc(), by_id]
        nulls_first = reverse  # in the list's order the empty values come last
        if value is None:
            beyond_id = ids < row_id if descending else ids > row_id
            parts = [query.where(column.is_(None), beyond_id).order_by(by_id)]
            if nulls_first:
                parts.append(query.where(column.is_not(None)).order_by(*by_value))
        else:
            parts = [query.where(column.is_not(None), self._beyond(value, row_id, reverse)).order_by(*by_value)]
            if not nulls_first:
                parts.append(query.where(column.is_(None)).order_by(by_id))
        rows = []
        for part in parts:
            rows += _rows(part.limit(limit - len(rows)))
            if len(rows) >= limit:
                break
        return rows


def _rows(query: Select) -> list:
    return list(db.session.execute(query).all())


def count_up_to(query: Select, cap: int | None) -> int:
    """How many rows `query` has, counting at most cap + 1 of them (None: all)."""
    query = query.order_by(None)
    if not query._distinct:
        # Not the selected columns: SQLite reads each counted row for them, where an index
        # alone would do (a segment + region filter's 834 rows: 1.1 ms against 0.06 ms).
        query = query.with_only_columns(literal_column("1"), maintain_column_froms=True)
    if cap is not None:
        query = query.limit(cap + 1)
    return db.session.scalar(select(func.count()).select_from(query.subquery()))
