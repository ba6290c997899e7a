"""One page of a query's rows, with the total for the pager (templates/_macros.html)."""

from dataclasses import dataclass

from sqlalchemy import Select, func, select

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
        counted = options.get("count_query", query)
        total = db.session.scalar(select(func.count()).select_from(counted.order_by(None).subquery()))
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
