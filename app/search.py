"""Substring search over customers that works for Chinese, at any query length.

Each customer has a `search_text`: lower-cased name, nicknames (of every platform account),
phone digits, WeChat and tags, one field per line. Two indexes serve it:

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
from dataclasses import dataclass

from sqlalchemy import Connection, Select, and_, delete, event, func, inspect, literal_column, select, table
from sqlalchemy.orm import Session

from . import phones
from .models import Customer, CustomerAccount, CustomerGram

FIELD_SEPARATOR = "\n"
# The longest search the box takes: each term is a condition (SQLite refuses a query nested
# more than 1,000 deep) and, on SQLite, an estimate query (plan()).
MAX_QUERY = 100
# The largest code point: a 1-character term t matches grams in [t, t + MAX_CHAR).
MAX_CHAR = "\U0010ffff"


def text_for(
    name: str | None,
    nickname: str | None = None,
    phone: str | None = None,
    wechat: str | None = None,
    tags: str | None = None,
    other_nicknames: Iterable[str] = (),
) -> str:
    """The search text of a customer; `other_nicknames`: those of their other platform accounts."""
    nicknames = dict.fromkeys([nickname, *other_nicknames])  # each once, in order
    fields = [name, *nicknames, phones.national_digits(phone) if phone else None, wechat]
    fields += (tags or "").split(",")
    return FIELD_SEPARATOR.join(f.strip().lower() for f in fields if f and f.strip())


def text_of(customer: Customer) -> str:
    return text_for(
        customer.name,
        customer.nickname,
        customer.phone,
        customer.wechat,
        customer.tags,
        [account.nickname for account in customer.accounts],
    )


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
    ids = [cid for cid, _ in customers]
    for start in range(0, len(ids), 500):
        connection.execute(delete(CustomerGram).where(CustomerGram.customer_id.in_(ids[start : start + 500])))
    rows = [(gram, cid) for cid, text in customers for gram in grams_of(text)]
    if rows:
        # Plain tuples straight to the driver: a customer has ~18 grams, and SQLAlchemy's
        # handling of a dict per row was half the time of a 100,000-row import.
        mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        connection.exec_driver_sql(f"INSERT INTO customer_grams (gram, customer_id) VALUES ({mark}, {mark})", rows)


def terms_of(query: str) -> list[str]:
    """The search's terms. Past MAX_QUERY characters a query is cut: the search box stops there
    (and the registry's says so), so only a forged request is longer, and it must not build a
    query too deep for the database."""
    return [t for t in query[:MAX_QUERY].lower().split() if t]


# More expected matches than this, and a page is read in its sort order (plan()).
# Walking the sort order reads about 25 x customers / matches rows for a page of 25; looking
# the matches up reads one row per match: the two meet near 2,000 matches at 100k customers.
BROAD = 2000
# The same for a term of 3+ characters on SQLite: listing its matches from the FTS index costs
# more per match than from the grams (the phone fragment 1380001, 1,587 matches: 3.0 ms listed
# and looked up, 2.1 ms walking the order).
BROAD_FTS = 1000
# A term's matches are estimated by counting at most this many index entries.
ESTIMATE_CAP = 20_000


def _index_hits(term: str, dialect: str) -> Select | None:
    """The ids of the customers matching `term`, straight from an index (None: no such index)."""
    if len(term) >= 3 and dialect == "sqlite":
        phrase = '"' + term.replace('"', '""') + '"'
        return select(literal_column("rowid")).select_from(_FTS).where(_FTS_COLUMN.op("MATCH")(phrase))
    if len(term) == 1:
        return select(CustomerGram.customer_id).where(CustomerGram.gram >= term, CustomerGram.gram < term + MAX_CHAR)
    if len(term) == 2:
        return select(CustomerGram.customer_id).where(CustomerGram.gram == term)
    return None


@dataclass
class Plan:
    """How to match search terms: conditions on Customer to read a sorted page, and to count.

    `alone`: the terms' matches straight from an index, when that lists exactly the
    customers holding them (on SQLite, a single term of 3+ characters: the FTS index, which
    triggers keep in step with the table whoever writes to it), and `total` their number
    when already known. Either counts the terms alone without reading a customer row.
    """

    read: list
    count: list
    alone: Select | None = None
    total: int | None = None
    # SQLite, the narrowest term of 1 or 2 characters: the matching customers' ids, read by
    # walking that term's grams (each customer looked up and checked for the other terms as
    # it comes), so that a count that stops after some rows reads only those. `id IN (grams)`
    # lists every gram first (3.3 ms for the 16,000 of 小, against 0.7 ms for 1,001 rows).
    ids: Select | None = None
    # The terms are known to match more customers than this (a count capped below it is done).
    more_than: int | None = None
    # PostgreSQL: the page is read by looking every match up and sorting them (not by walking
    # the sort order), so the same pass can count them (list_page()).
    sorts_all: bool = False


def plan(session: Session, terms: list[str], dialect: str, narrowed: bool = False) -> Plan:
    """The best way to match `terms` (all of them) on this database.

    SQLite takes any `id IN (list)` to be short: given one, it looks every listed customer
    up by id and sorts them all, which is right for a few matches and 15 ms for 16,000;
    PostgreSQL does the same with the list, and made the list of a 3+ character term from
    every bigram's customers (all of "00"'s for a phone fragment: 150 ms).
    So each term's matches are estimated (a bounded count of its index entries), the
    narrowest term drives (its list is looked up, the others are checked on those rows),
    and when even all terms together are expected to match more than BROAD customers, the
    page is read by walking the sort order's index instead, checking each row, and stops
    at the page's end; counting them is still best driven by the narrowest term.
    """
    if not terms:
        return Plan([], [])
    sqlite = dialect == "sqlite"
    # PostgreSQL, a term of 3+ characters: its rarest bigram's customers, checked for the term.
    rarest: dict[str, str] = {}

    def entries(hits: Select, cap: int) -> Select:
        if not sqlite:
            # In the gram index's order: else, where the visibility map is not set yet (a table
            # just loaded, before autovacuum), PostgreSQL reads a common gram's first entries
            # from the table (a bitmap or sequential scan: 26 ms for 2,001 of 9,950, not 1.7).
            hits = hits.order_by(CustomerGram.gram, CustomerGram.customer_id)
        return select(func.count()).select_from(hits.limit(cap).subquery())

    def estimate(term: str, cap: int) -> int:
        if sqlite or len(term) <= 2:
            return session.scalar(entries(_index_hits(term, dialect), cap))
        grams = sorted(_bigrams(term))
        # Every bigram counted in one query (a phone fragment has up to 10).
        counts = list(
            session.execute(
                select(*(entries(_index_hits(gram, dialect), cap).scalar_subquery() for gram in grams))
            ).one()
        )
        rarest[term] = grams[counts.index(min(counts))]
        return min(counts)  # at least as many as the term's

    # First counted only past BROAD: the expected matches are at most the narrowest term's, so
    # when one term is within BROAD, the plan is the same as with every term counted further.
    # BROAD_FTS: only when nothing else narrows the list (`narrowed`: a sales user's own
    # customers, a filter), else walking the order finds few of the term's matches on the way.
    fts = sqlite and len(terms) == 1 and len(terms[0]) >= 3 and not narrowed
    broad_above = BROAD_FTS if fts else BROAD
    estimates = [estimate(term, broad_above + 1) for term in terms]
    if min(estimates) > BROAD and len(terms) > 1:
        estimates = [estimate(term, ESTIMATE_CAP) for term in terms]
    narrowest = estimates.index(min(estimates))
    customers = max(session.scalar(select(func.max(Customer.id))) or 1, *estimates)
    expected = customers
    for estimate in estimates:  # as if the terms were independent
        expected *= estimate / customers
    count = [
        matching(term, dialect, drive=number == narrowest, via=rarest.get(term)) for number, term in enumerate(terms)
    ]
    broad = expected > broad_above
    read = [matching(term, dialect, drive=False) for term in terms] if broad else count
    if not sqlite:
        # PostgreSQL counts a broad match best as it reads it (walking the rows, up to a cap).
        return Plan(read, read if broad else count, sorts_all=not broad)
    result = Plan(read, count)
    driver = terms[narrowest]
    if len(driver) <= 2:
        others = [matching(term, dialect, drive=False) for number, term in enumerate(terms) if number != narrowest]
        grams = _index_hits(driver, dialect).subquery()
        result.ids = select(Customer.id).join(grams, grams.c.customer_id == Customer.id).where(*others).distinct()
    if len(terms) == 1 and len(terms[0]) >= 3:  # FTS: one row per matching customer
        result.alone = _index_hits(terms[0], dialect)
        if estimates[0] <= broad_above:  # counted to the end
            result.total = estimates[0]
        else:
            result.more_than = broad_above
    return result


def _bigrams(term: str) -> set[str]:
    return {term[i : i + 2] for i in range(len(term) - 1)}


def matching(term: str, dialect: str, drive: bool = True, via: str | None = None):
    """A condition on Customer: its search text contains `term`.

    `id IN (ids from an index)`, not a correlated EXISTS, which SQLite runs once per customer
    (a scan of the whole table: 0.5 s at 100k customers for one character). With `drive`
    false, something else drives the query (see plan()) and the term is
    checked on each row it reads: a substring test of the search text, which the indexes
    only mirror (lower-cased on both sides), rather than building the term's whole list.
    """
    if not drive:
        return Customer.search_text.contains(term, autoescape=True)
    hits = _index_hits(term, dialect)
    if hits is not None:
        return Customer.id.in_(hits)
    if via is not None:  # one of the term's bigrams, the rarest (plan())
        return and_(Customer.id.in_(_index_hits(via, dialect)), Customer.search_text.contains(term, autoescape=True))
    bigrams = _bigrams(term)
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


# What a customer's search text is made of (text_of).
_SEARCHED = ("name", "nickname", "phone", "wechat", "tags", "accounts")


@event.listens_for(Session, "before_flush")
def _refresh_search_text(session: Session, flush_context, instances) -> None:
    changed = {
        o
        for o in (*session.new, *session.dirty)
        if isinstance(o, Customer)
        and (o in session.new or any(inspect(o).attrs[key].history.has_changes() for key in _SEARCHED))
    }
    # A renamed account changes its customer's text too.
    changed |= {
        o.customer for o in (*session.new, *session.dirty) if isinstance(o, CustomerAccount) and o.customer is not None
    }
    pending = session.info.setdefault("search_reindex", [])
    for customer in changed:
        if customer in session.deleted:
            continue
        text = text_of(customer)
        if customer in session.new or text != customer.search_text:
            customer.search_text = text
            pending.append(customer)
    # SQLite does not enforce foreign keys here: a deleted customer's grams go by hand.
    session.info.setdefault("search_forget", []).extend(o.id for o in session.deleted if isinstance(o, Customer))


@event.listens_for(Session, "after_flush")
def _refresh_grams(session: Session, flush_context) -> None:
    pending = session.info.pop("search_reindex", [])
    forget = session.info.pop("search_forget", [])
    if pending or forget:
        reindex(session.connection(), [(c.id, c.search_text) for c in pending] + [(cid, "") for cid in forget])
