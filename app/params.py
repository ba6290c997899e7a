"""Numbers and days from users, kept to what the database and the calendar can hold.

A number in a URL or a form is one of three kinds, each read one way everywhere:
- a record's id (`record_id`): the record named by a link. One the database cannot hold, or
  that is not a number at all, names no record: 404, as the `RowId` converter answers for
  an id in a path (app/__init__.py).
- a page number (`page_number`): the pager's. A malformed one is the first page, a huge one
  is read as MAX_ID; app.pagination then shows the last page there is.
- ids posted in a form (the ticked customers): the form field says which one is wrong
  (app.assignment.forms).
Days are kept within FIRST_DAY..LAST_DAY (`DayField` in app/forms.py, the import's times in
app/imports/values.py).
"""

from datetime import date

from flask import abort
from werkzeug.datastructures import MultiDict

# Ids are 32-bit integers on PostgreSQL (SQLite's are 64-bit; a larger number is no id of ours
# there either).
MAX_ID = 2**31 - 1

# The days a user may give (a birthday, a filter, an audited period, an order's time in a
# report). A shop day becomes a UTC moment (app.shop_calendar), which overflows in years 1
# and 9999; no order, customer or period of the shop lies outside these.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2100, 12, 31)


def whole_number(value: str | None) -> int | None:
    """A plain whole number as a browser sends it (ASCII digits only), else None.

    str.isdigit() alone accepts "²", which int() refuses.
    """
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def is_id(number: int | None) -> bool:
    return number is not None and 0 < number <= MAX_ID


def record_id(values: MultiDict, name: str) -> int | None:
    """The id of the record `values[name]` names (request.args or request.form); None when
    absent or empty; 404 when it cannot be an id."""
    raw = values.get(name, "")
    if not raw.strip():
        return None
    number = whole_number(raw)
    if not is_id(number):
        abort(404)
    return number


def page_number(values: MultiDict) -> int:
    """The page asked for in `page` (1 when absent or malformed), at most MAX_ID.

    Capped so that the query's OFFSET stays a number the database can hold; any page past the
    last one shows the last one (app.pagination).
    """
    number = whole_number(values.get("page"))
    return min(number, MAX_ID) if number else 1
