"""Substring search over customers that works for Chinese, at any query length.

Each customer has a `search_text`: lower-cased name, nickname, phone digits, WeChat and
tags, one field per line. Two indexes serve it:

* SQLite: the FTS5 table `customer_fts` (trigram tokenizer, external content kept in sync by
  triggers, see the initial migration) answers terms of 3+ characters.
* Both databases: `customer_grams` holds every 2-character gram of each field plus the
  field's last character alone. A 2-character term is one exact lookup; a 1-character term
  is a prefix range over the grams (every occurrence of a character starts a gram, the
  last one included). A trigram index cannot answer those (it matches nothing under 3
  characters) and `LIKE '%…%'` is a full scan.
* PostgreSQL has no FTS5; pg_trgm ignores CJK in many locales and needs 3+ characters, and
  pg_bigm is an extension that is rarely installed. So PostgreSQL answers 3+ character
  terms the way pg_bigm does, from the same gram table: customers holding every bigram of
  the term, then rechecked with LIKE on those few rows.

The grams are rewritten in Python after every ORM flush that touches a customer (the
listeners below); bulk writers (the importer, the bench generator) call `reindex`.
"""

from collections.abc import Iterable

from sqlalchemy import Connection, and_, delete, event, exists, func, insert, literal_column, select, table
from sqlalchemy.orm import Session

from . import phones
from .models import Customer, CustomerGram

FIELD_SEPARATOR = "\n"
# The largest code point: a 1-character term t matches grams in [t, t + MAX_CHAR).
MAX_CHAR = "\U0010ffff"


def text_for(
    name: str | None,
    nickname: str | None = None,
    phone: str | None = None,
    wechat: str | None = None,
    tags: str | None = None,
) -> str:
    fields = [name, nickname, phones.national_digits(phone) if phone else None, wechat]
    fields += (tags or "").split(",")
    return FIELD_SEPARATOR.join(f.strip().lower() for f in fields if f and f.strip())


def grams_of(text: str) -> set[str]:
    grams = set()
    for field in text.split(FIELD_SEPARATOR):
        grams.update(field[i : i + 2] for i in range(len(field) - 1))
        if field:
            grams.add(field[-1])
    return grams


def reindex(connection: Connection, customers: Iterable[tuple[int, str]]) -> None:
    """Rewrite the grams of (customer id, search text) pairs."""
    customers = list(customers)
    if not customers:
        return
    ids = [cid for cid, _ in customers]
    for start in range(0, len(ids), 500):
        connection.execute(
            delete(CustomerGram).where(CustomerGram.customer_id.in_(ids[start : start + 500]))
        )
    rows = [{"gram": g, "customer_id": cid} for cid, text in customers for g in grams_of(text)]
    for start in range(0, len(rows), 5000):
        connection.execute(insert(CustomerGram), rows[start : start + 5000])


def terms_of(query: str) -> list[str]:
    return [t for t in query.lower().split() if t]


def matching(term: str, dialect: str):
    """A condition on Customer: its search text contains `term`."""
    if len(term) >= 3 and dialect == "sqlite":
        phrase = '"' + term.replace('"', '""') + '"'
        fts_hits = select(literal_column("rowid")).select_from(_FTS).where(_FTS_COLUMN.op("MATCH")(phrase))
        return Customer.id.in_(fts_hits)
    if len(term) == 1:
        hit = and_(CustomerGram.gram >= term, CustomerGram.gram < term + MAX_CHAR)
        return exists().where(CustomerGram.customer_id == Customer.id, hit)
    if len(term) == 2:
        return exists().where(CustomerGram.customer_id == Customer.id, CustomerGram.gram == term)
    bigrams = {term[i : i + 2] for i in range(len(term) - 1)}
    # Customers holding every bigram of the term; the text itself then confirms the order.
    holders = (
        select(CustomerGram.customer_id)
        .where(CustomerGram.gram.in_(bigrams))
        .group_by(CustomerGram.customer_id)
        .having(func.count() == len(bigrams))
    )
    return and_(Customer.id.in_(holders), Customer.search_text.contains(term, autoescape=True))


_FTS = table("customer_fts")
_FTS_COLUMN = literal_column("customer_fts")


@event.listens_for(Session, "before_flush")
def _refresh_search_text(session: Session, flush_context, instances) -> None:
    changed = [o for o in (*session.new, *session.dirty) if isinstance(o, Customer)]
    pending = session.info.setdefault("search_reindex", [])
    for customer in changed:
        text = text_for(customer.name, customer.nickname, customer.phone, customer.wechat, customer.tags)
        if customer in session.new or text != customer.search_text:
            customer.search_text = text
            pending.append(customer)


@event.listens_for(Session, "after_flush")
def _refresh_grams(session: Session, flush_context) -> None:
    pending = session.info.pop("search_reindex", [])
    if pending:
        reindex(session.connection(), [(c.id, c.search_text) for c in pending])
