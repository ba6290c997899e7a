"""Substring search over the registry (app.search), on SQLite (FTS5 + grams) and PostgreSQL (grams).

The property: whatever the customers and the query, the registry finds exactly the customers
a naive Python substring filter finds.
"""

import html
import re
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, text, update

from app import search
from app.customers import services
from app.customers.services import SORTS
from app.extensions import db
from app.models import Customer, CustomerAccount, CustomerGram, Role, User
from app.search import grams_of, reindex, terms_of, text_for

CJK = "张三丰李四王五赵"
LETTERS = "abAB_"
DIGITS = "0138"


def found_ids(client, query: str) -> set[int]:
    """The customers the registry lists for `query` (as the search box sends it)."""
    response = client.get("/customers/", query_string={"q": query}, headers={"HX-Request": "true"})
    assert response.status_code == 200, response.text
    ids = {int(i) for i in re.findall(r'<a href="/customers/(\d+)">', response.text)}
    total = int(re.search(r"(\d+) customers?<", response.text).group(1))
    assert total == len(ids), f"{query!r}: the count says {total}, the list shows {len(ids)}"
    return ids


def naive_ids(customers: list[dict], query: str) -> set[int]:
    def fields(c):
        values = [c["name"], c["nickname"], c["phone"][3:] if c["phone"] else None, *c["tags"]]
        return [v.lower() for v in values if v]

    terms = query.lower().split()
    return {c["id"] for c in customers if all(any(t in f for f in fields(c)) for t in terms)}


def delete_customers() -> None:
    db.session.rollback()
    db.session.execute(delete(CustomerGram))
    db.session.execute(delete(CustomerAccount))
    db.session.execute(delete(Customer))
    db.session.commit()


@pytest.fixture(params=["narrow", "broad"])
def supervisor(request, app, client, login_as, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 1000)  # every hit on one page
    if request.param == "broad":
        # Terms with more hits than this take the other query plan (app.search.plan).
        monkeypatch.setattr(search, "BROAD", 1)
        monkeypatch.setattr(search, "BROAD_FTS", 1)
    login_as(Role.SUPERVISOR)
    return client


customer_values = st.fixed_dictionaries(
    {
        "name": st.text(CJK + LETTERS, min_size=1, max_size=6),
        "nickname": st.none() | st.text(LETTERS + DIGITS, min_size=1, max_size=8),
        "phone": st.none() | st.text(DIGITS, min_size=8, max_size=8).map(lambda d: f"+86138{d}"),
        "tags": st.lists(st.text(CJK + LETTERS, min_size=1, max_size=4), max_size=2),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(customers=st.lists(customer_values, min_size=1, max_size=8), data=st.data())
def test_search_finds_exactly_the_customers_holding_the_substring(supervisor, customers, data):
    delete_customers()  # the fixtures clean up after the test, not after each example
    nicknames = set()
    rows = []
    for values in customers:
        if values["nickname"] in nicknames:
            values["nickname"] = None  # (platform, nickname) is unique
        nicknames.add(values["nickname"])
        rows.append(
            Customer(
                name=values["name"],
                platform="taobao" if values["nickname"] else None,
                nickname=values["nickname"],
                phone=values["phone"],
                tags=",".join(values["tags"]),
            )
        )
    db.session.add_all(rows)
    db.session.commit()
    for values, row in zip(customers, rows):
        values["id"] = row.id

    def substring_of_a_field():
        c = data.draw(st.sampled_from(customers))
        field = data.draw(
            st.sampled_from([v for v in (c["name"], c["nickname"], c["phone"] and c["phone"][3:], *c["tags"]) if v])
        )
        start = data.draw(st.integers(0, len(field) - 1))
        length = data.draw(st.integers(1, 5))
        return field[start : start + length]

    for _ in range(4):
        terms = data.draw(
            st.lists(
                st.one_of(st.builds(substring_of_a_field), st.text(CJK + LETTERS + DIGITS, min_size=1, max_size=5)),
                min_size=1,
                max_size=2,
            )
        )
        query = " ".join(terms)
        assert found_ids(supervisor, query) == naive_ids(customers, query), query


# --- the index stays in step with the records -------------------------------------------------


def test_text_for_lowercases_each_field_on_its_own_line():
    assert (
        text_for(" 张三 ", "NiCk", "+8613812345678", "WX_id", "回头客, VIP ,")
        == "张三\nnick\n13812345678\nwx_id\n回头客\nvip"
    )
    assert text_for("李四") == "李四"


def test_grams_are_the_pairs_and_each_fields_last_character():
    assert grams_of("张三丰\nab") == {"张三", "三丰", "丰", "ab", "b"}
    assert grams_of("x") == {"x"}


def _grams(customer_id: int) -> set[str]:
    return set(db.session.scalars(select(CustomerGram.gram).where(CustomerGram.customer_id == customer_id)))


def _fts_hits(term: str) -> set[int]:
    rows = db.session.execute(text("SELECT rowid FROM customer_fts WHERE customer_fts MATCH :q"), {"q": f'"{term}"'})
    return {row[0] for row in rows}


def test_editing_a_customer_updates_the_search(client, login_as, make_customer):
    user = login_as(Role.SALES)
    customer = make_customer(owner=user, name="张三丰", phone="+8613812345678", tags="太极")
    assert found_ids(client, "张三丰") == {customer.id}

    response = client.post(
        f"/customers/{customer.id}/edit",
        data={"name": "李四光", "phone": "139 8765 4321", "tags": "地质", "source": "inquiry"},
    )
    assert response.status_code == 302

    for gone in ("张三丰", "三丰", "张", "12345678", "太极"):
        assert found_ids(client, gone) == set(), gone
    for present in ("李四光", "四光", "光", "98765", "地质", "李 4321"):
        assert found_ids(client, present) == {customer.id}, present

    db.session.expire_all()
    stored = db.session.get(Customer, customer.id).search_text
    assert stored == "李四光\n13987654321\n地质"
    assert _grams(customer.id) == grams_of(stored)
    if db.engine.dialect.name == "sqlite":
        assert _fts_hits("李四光") == {customer.id}
        assert _fts_hits("张三丰") == set()


def test_changing_a_customer_through_the_orm_updates_the_search(client, login_as, make_customer):
    login_as(Role.SUPERVISOR)
    customer = make_customer(name="王五", nickname=None)
    customer.nickname, customer.platform = "Golden_Fish", "taobao"
    db.session.commit()
    assert found_ids(client, "golden") == {customer.id}
    assert found_ids(client, "n_f") == {customer.id}
    customer.nickname = None
    db.session.commit()
    assert found_ids(client, "golden") == set()
    assert _grams(customer.id) == grams_of("王五\n" + customer.phone[3:])


def test_bulk_writers_reindex(client, login_as, make_customer):
    """The importer writes with Core statements and then calls reindex, as here."""
    login_as(Role.SUPERVISOR)
    customer = make_customer(name="旧名")
    new_text = text_for("新名字", None, customer.phone)
    connection = db.session.connection()
    connection.execute(update(Customer).where(Customer.id == customer.id).values(name="新名字", search_text=new_text))
    reindex(connection, [(customer.id, new_text)])
    db.session.commit()
    assert found_ids(client, "新名字") == {customer.id}
    assert found_ids(client, "名字") == {customer.id}
    assert found_ids(client, "旧") == set()


def test_terms_separated_by_spaces_are_anded(client, login_as, make_customer):
    login_as(Role.SUPERVISOR)
    both = make_customer(name="张三丰", tags="太极拳")
    name_only = make_customer(name="张三", tags="书法")
    tag_only = make_customer(name="李四", tags="太极拳")
    assert found_ids(client, "张三") == {both.id, name_only.id}
    assert found_ids(client, "太极") == {both.id, tag_only.id}
    assert found_ids(client, "张三 太极") == {both.id}
    assert found_ids(client, "  太极拳\t张  ") == {both.id}
    assert found_ids(client, "张三 太极 书法") == set()
    # A term of each length, together.
    assert found_ids(client, "丰 三丰 太极拳") == {both.id}


def test_empty_query_lists_everyone(client, login_as, make_customer):
    login_as(Role.SUPERVISOR)
    ids = {make_customer().id for _ in range(3)}
    assert found_ids(client, "") == ids
    assert found_ids(client, "   ") == ids


@pytest.mark.parametrize("broad_above", [1000, 1])
def test_paging_through_search_results_shows_each_match_once(
    app, client, login_as, make_customer, monkeypatch, broad_above
):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    monkeypatch.setattr(search, "BROAD", broad_above)
    monkeypatch.setattr(search, "BROAD_FTS", broad_above)
    login_as(Role.SUPERVISOR)
    matches = {make_customer(name=f"王小{n}").id for n in range(5)}
    make_customer(name="李大")
    seen = []
    for page in (1, 2, 3):
        text_ = client.get("/customers/", query_string={"q": "王 小", "sort": "name", "page": page}).text
        assert "5 customers" in text_ and f"Page {page} of 3" in text_
        seen += [int(i) for i in re.findall(r'<a href="/customers/(\d+)">', text_)]
    assert sorted(seen) == sorted(matches)


def test_a_forged_search_longer_than_the_box_is_cut():
    """The box stops at MAX_QUERY characters; a longer (forged) query must not become thousands
    of conditions (SQLite refused it, PostgreSQL planned it for minutes)."""
    assert len(search.terms_of("长x " * 1666)) == search.MAX_QUERY // 3 + 1
    assert search.terms_of("张三 小猫") == ["张三", "小猫"]


# --- the registry's pages: counted up to a cap, paged on from a row past it ----------------------


def _listed(client, query: str, sort: str) -> tuple[list[int], str, list[str]]:
    """Every customer the registry lists for `query` in `sort` order, following its "Next"
    links from the first page to the last; the count shown; each page's URL."""
    url = "/customers/?" + urlencode({"q": query, "sort": sort})
    ids, urls, count = [], [], None
    while url:
        urls.append(url)
        text_ = client.get(url, headers={"HX-Request": "true"}).text
        shown = re.search(r'class="results-head">\s*<span>([^<]*)</span>', text_).group(1)
        assert count in (None, shown), "the count changed from one page to the next"
        count = shown
        ids += [int(i) for i in re.findall(r'<a href="/customers/(\d+)">', text_)]
        following = re.search(r'<a href="([^"]+)"[^>]*rel="next"', text_)
        url = html.unescape(following.group(1)) if following else None
        assert len(urls) < 50
    return ids, count, urls


def _plain(user: User, query: str, sort: str) -> list[int]:
    """The same list from a plain LIKE query: the straightforward computation."""
    statement = select(Customer.id).where(*[Customer.search_text.contains(t, autoescape=True) for t in terms_of(query)])
    if not user.sees_everyone:
        statement = statement.where(Customer.owner_id == user.id)
    return list(db.session.scalars(statement.order_by(*SORTS[sort])))


ONE_DAY = timedelta(days=1)
list_values = st.fixed_dictionaries(
    {
        "name": st.text("张三李王ab", min_size=1, max_size=3),
        "tags": st.sampled_from(["", "小猫", "小狗,张"]),
        "last_paid_at": st.none() | st.integers(0, 3),  # few values: ties, and empty ones
        "total_spend": st.sampled_from(["0", "10.50", "99"]),
        "created_at": st.integers(0, 2),
        "mine": st.booleans(),
    }
)


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.SALES])
@pytest.mark.parametrize("broad_above", [1000, 1])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(customers=st.lists(list_values, min_size=1, max_size=14), data=st.data())
def test_every_page_lists_what_a_plain_like_query_lists(
    app, client, make_user, login, monkeypatch, role, broad_above, customers, data
):
    """Counts up to 3 and pages of 2 here, so that the count is capped and pages are read
    on from a row (keyset) past the first two; every sort order, a supervisor and a sales user,
    both query plans. Following "Next" from the first page lists every match once, in the
    order of the plain query; "Previous" from the last page comes back through the same pages."""
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    monkeypatch.setattr(services, "COUNT_CAP", 3)
    monkeypatch.setattr(search, "BROAD", broad_above)
    monkeypatch.setattr(search, "BROAD_FTS", broad_above)
    delete_customers()
    # The same two people in every example (by id: PostgreSQL returns rows in no given order),
    # since the client stays signed in as the first example's user.
    user = db.session.scalar(select(User).where(User.role == role).order_by(User.id)) or make_user(role)
    other = (
        db.session.scalar(select(User).where(User.role == Role.SALES, User.id != user.id).order_by(User.id))
        or make_user()
    )
    login(user)
    start = datetime(2026, 1, 1)
    db.session.add_all(
        Customer(
            name=values["name"],
            tags=values["tags"],
            phone=None,
            owner_id=user.id if values["mine"] else other.id,
            last_paid_at=None if values["last_paid_at"] is None else start + values["last_paid_at"] * ONE_DAY,
            total_spend=Decimal(values["total_spend"]),
            created_at=start + values["created_at"] * ONE_DAY,
        )
        for values in customers
    )
    db.session.commit()
    query = data.draw(st.sampled_from(["", "张", "小", "小猫", "张 小", "a", "李王"]))
    for sort in SORTS:
        ids, count, urls = _listed(client, query, sort)
        expected = _plain(user, query, sort)
        assert ids == expected, (query, sort)
        n = len(expected)
        assert count == (f"{n} customer{'s' if n != 1 else ''}" if n <= 3 else "3+ customers"), count
        if n > 6:
            assert any("after=" in url for url in urls)  # past the counted rows: on from a row
        # Back from the last page: the same pages, in reverse.
        if len(urls) > 1:
            text_ = client.get(urls[-1], headers={"HX-Request": "true"}).text
            back = []
            while True:
                back = [int(i) for i in re.findall(r'<a href="/customers/(\d+)">', text_)] + back
                previous = re.search(r'<a href="([^"]+)"[^>]*rel="prev"', text_)
                if not previous:
                    break
                text_ = client.get(html.unescape(previous.group(1)), headers={"HX-Request": "true"}).text
            assert back == expected[: len(back)] and len(back) >= len(expected) - 2, (query, sort)


def test_a_malformed_cursor_reads_the_page_by_position(client, login_as, make_customer):
    login_as(Role.SUPERVISOR)
    make_customer(name="张三")
    for cursor in ("", "x", "v~1", "vnot-a-date~5", "n~0", "v1e999~3", "~~", "n~99999999999"):
        for name in ("after", "before"):
            response = client.get("/customers/", query_string={name: cursor, "sort": "recent", "q": "张"})
            assert response.status_code == 200
            assert "1 customer<" in response.text
