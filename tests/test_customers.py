"""The customer registry (SPEC §3): register, check duplicates, edit, list, search, filter, export, page."""

import csv
import io
import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from app import phones
from app.blacklist import services as blacklist
from app.customers import services as customers
from app.extensions import db
from app.followups import services as followups
from app.models import (
    AuditEntry,
    BlacklistEntry,
    BlacklistReason,
    Complaint,
    Customer,
    CustomerAccount,
    CustomerGram,
    FollowUp,
    Layer,
    Order,
    Role,
    Tier,
    User,
)

PHONE_ERROR = "Not a valid mobile number. Type 11 digits, e.g. 138 1234 5678."
NICKNAME_TAKEN = "A customer with this nickname on this platform is already registered."
MAYBE_DUPLICATE = "This customer may already be registered. Open the existing record, or confirm to save anyway."


def customer_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Customer))


def reload(customer: Customer) -> Customer:
    db.session.expire_all()
    return db.session.get(Customer, customer.id)


def field_error(text: str, field: str) -> str | None:
    """The error shown under `field`, or None (a field checked as typed has its check's slot)."""
    match = re.search(rf'<small class="field-error" id="{field}-error">([^<]*)</small>', text) or re.search(
        rf'<small id="{field}-check" data-checks="{field}"[^>]*class="field-error">([^<]*)</small>', text
    )
    return match.group(1) if match else None


def result_names(text: str) -> list[str]:
    """Customer names in the results table, in order."""
    return re.findall(r'<td data-label="Name"><a href="/customers/\d+">([^<]*)</a>', text)


def registration(**values) -> dict:
    return {"name": "新顾客", "phone": "", "platform": "", "nickname": "", "source": "inquiry"} | values


# --- registration -----------------------------------------------------------------------------


def test_registration_form_is_short_for_sales(client, login_as):
    login_as(Role.SALES)
    text = client.get("/customers/new").text
    for name in ("name", "phone", "platform", "nickname", "source", "tags", "intent_notes"):
        assert f'name="{name}"' in text
    assert 'name="owner_id"' not in text  # sales register for themselves
    assert '<details class="more-fields" >' in text or '<details class="more-fields">' in text


def test_supervisor_registers_for_a_sales_user(client, login_as, make_user):
    login_as(Role.SUPERVISOR)
    seller = make_user(Role.SALES, display_name="Seller Wu")
    assert 'name="owner_id"' in client.get("/customers/new").text
    response = client.post("/customers/new", data=registration(name="分配的客户", owner_id=str(seller.id)))
    assert response.status_code == 302
    customer = db.session.scalar(select(Customer).where(Customer.name == "分配的客户"))
    assert customer.owner_id == seller.id
    assert "Seller Wu" in client.get(f"/customers/{customer.id}").text


def test_invalid_phone_is_refused_next_to_the_field_and_nothing_is_saved(client, login_as):
    login_as(Role.SALES)
    response = client.post("/customers/new", data=registration(phone="12345678901"))
    assert response.status_code == 422
    assert field_error(response.text, "phone") == PHONE_ERROR
    assert 'value="12345678901"' in response.text  # what was typed stays, to be corrected
    assert customer_count() == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_valid_phone_is_stored_e164_and_shown_in_local_form(client, login_as):
    user = login_as(Role.SALES)
    response = client.post("/customers/new", data=registration(name="赵六", phone="+86 138-0013-8000"))
    assert response.status_code == 302
    customer = db.session.scalar(select(Customer).where(Customer.name == "赵六"))
    assert response.headers["Location"] == f"/customers/{customer.id}"
    assert customer.phone == "+8613800138000"
    assert (customer.owner_id, customer.created_by_id) == (user.id, user.id)
    page = client.get(f"/customers/{customer.id}").text
    assert "Customer 赵六 registered." in page
    assert "138 0013 8000" in page and "+8613800138000" not in page
    assert 'value="138 0013 8000"' in client.get(f"/customers/{customer.id}/edit").text


def test_name_is_required(client, login_as):
    login_as(Role.SALES)
    response = client.post("/customers/new", data=registration(name=" "))
    assert response.status_code == 422
    assert field_error(response.text, "name") == "This field is required."
    assert customer_count() == 0


@pytest.mark.parametrize(
    "values, field, message",
    [
        ({"nickname": "没有平台"}, "nickname", "Choose the platform this nickname belongs to."),
        ({"email": "not-an-email"}, "email", "Not a valid email address."),
        ({"birthday": "1990-02-31"}, "birthday", "Not a valid date value."),
        ({"birthday": "9999-12-31"}, "birthday", "Choose a day from 1900-01-01 to 2100-12-31."),
        ({"birthday": "0001-01-01"}, "birthday", "Choose a day from 1900-01-01 to 2100-12-31."),
        ({"platform": "ebay"}, "platform", "Not a valid choice."),
    ],
)
def test_bad_values_get_a_message_next_to_their_field(client, login_as, values, field, message):
    login_as(Role.SALES)
    response = client.post("/customers/new", data=registration(**values))
    assert response.status_code == 422
    assert field_error(response.text, field) == message
    assert customer_count() == 0


def test_a_birthday_on_the_first_or_last_day_allowed_is_kept(client, login_as):
    login_as(Role.SALES)
    assert 'max="2100-12-31" min="1900-01-01"' in client.get("/customers/new").text  # the date picker's
    for day in ("1900-01-01", "2100-12-31"):
        assert client.post("/customers/new", data=registration(name=day, birthday=day)).status_code == 302
    assert sorted(str(c.birthday) for c in db.session.scalars(select(Customer))) == ["1900-01-01", "2100-12-31"]


def test_phone_is_checked_as_typed(client, login_as):
    login_as(Role.SALES)
    response = client.get("/customers/check?phone=138 1234 5678", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text and '<div id="checks"' in response.text
    # What the check says goes right under the phone field (an out-of-band swap), in place of
    # whatever it said before, a submitted form's error included.
    slot = re.search(r'<small id="phone-check"[^>]*hx-swap-oob="true"[^>]*>(.*?)</small>', response.text, re.S)
    assert slot.group(1).strip() == "✓ 138 1234 5678" and 'class="ok"' in slot.group(0)
    response = client.get("/customers/check?phone=12345678901", headers={"HX-Request": "true"})
    slot = re.search(r'<small id="phone-check"[^>]*>(.*?)</small>', response.text, re.S)
    assert slot.group(1).strip() == PHONE_ERROR and 'class="field-error"' in slot.group(0)
    assert "Already registered" not in response.text


def test_duplicate_phone_is_shown_before_saving(client, login_as, make_customer):
    user = login_as(Role.SALES)
    existing = make_customer(owner=user, name="老顾客", phone="+8613812345678")
    response = client.get(
        "/customers/check",
        query_string={"phone": "138-1234-5678", "platform": "", "nickname": ""},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "Already registered:" in response.text
    assert f'<a href="/customers/{existing.id}">open this record</a>' in response.text
    assert "老顾客" in response.text


def test_duplicate_nickname_is_shown_before_saving(client, login_as, make_customer):
    login_as(Role.SUPERVISOR)
    existing = make_customer(name="旺旺老客", platform="taobao", nickname="tb_happy")
    response = client.get("/customers/check?phone=&platform=taobao&nickname=tb_happy", headers={"HX-Request": "true"})
    assert f"/customers/{existing.id}" in response.text
    other_platform = client.get("/customers/check?phone=&platform=jd&nickname=tb_happy", headers={"HX-Request": "true"})
    assert "Already registered" not in other_platform.text


def test_duplicate_check_while_editing_ignores_the_record_itself(client, login_as, make_customer):
    user = login_as(Role.SALES)
    customer = make_customer(owner=user, phone="+8613812345678")
    response = client.get(f"/customers/check?phone=13812345678&id={customer.id}", headers={"HX-Request": "true"})
    assert "Already registered" not in response.text


def test_duplicate_phone_holds_the_registration_until_confirmed(client, login_as, make_customer):
    user = login_as(Role.SALES)
    existing = make_customer(owner=user, name="老顾客", phone="+8613812345678")
    response = client.post("/customers/new", data=registration(name="同号新客", phone="13812345678"))
    assert response.status_code == 422
    assert MAYBE_DUPLICATE in response.text
    assert f'<a href="/customers/{existing.id}">open this record</a>' in response.text
    assert 'name="confirm_duplicate"' in response.text
    assert 'value="同号新客"' in response.text  # the form keeps what was typed
    assert customer_count() == 1

    response = client.post(
        "/customers/new", data=registration(name="同号新客", phone="13812345678", confirm_duplicate="1")
    )
    assert response.status_code == 302
    assert customer_count() == 2


def test_duplicate_platform_nickname_is_a_hard_error(client, login_as, make_customer):
    login_as(Role.SALES)
    make_customer(name="旺旺老客", platform="taobao", nickname="tb_happy")
    data = registration(name="抢名字", platform="taobao", nickname=" tb_happy ", confirm_duplicate="1")
    response = client.post("/customers/new", data=data)
    assert response.status_code == 422
    assert field_error(response.text, "nickname") == NICKNAME_TAKEN
    assert customer_count() == 1
    # The same nickname on another platform is another person.
    response = client.post("/customers/new", data=data | {"platform": "jd"})
    assert response.status_code == 302
    assert customer_count() == 2


def test_registration_records_tags_and_audit(client, login_as):
    user = login_as(Role.SALES)
    client.post("/customers/new", data=registration(name="带标签", tags=" 回头客， 定制 ,,大码 "))
    customer = db.session.scalar(select(Customer).where(Customer.name == "带标签"))
    assert customer.tags == "回头客,定制,大码"
    entry, opened = db.session.scalars(
        select(AuditEntry).where(AuditEntry.customer_id == customer.id).order_by(AuditEntry.id)
    )
    assert (entry.action, entry.actor_id) == ("customer.registered", user.id)
    assert entry.after["name"] == "带标签" and entry.after["owner_id"] == user.id
    # Registered for herself, the customer is in her queue at once: first contact, cycle 1.
    assert (opened.action, opened.after["cycle"], opened.after["kind"]) == ("follow_up.opened", 1, "first_contact")


# --- editing ----------------------------------------------------------------------------------


def test_edit_form_is_prefilled(client, login_as, make_customer):
    user = login_as(Role.SALES)
    customer = make_customer(owner=user, name="预填", province="浙江", tags="回头客")
    text = client.get(f"/customers/{customer.id}/edit").text
    assert 'value="预填"' in text and 'value="浙江"' in text and 'value="回头客"' in text
    assert "Edit 预填" in text


def test_edit_with_errors_shows_them_next_to_the_fields_and_changes_nothing(client, login_as, make_customer):
    user = login_as(Role.SALES)
    customer = make_customer(owner=user, name="原名", phone="+8613812345678")
    response = client.post(f"/customers/{customer.id}/edit", data=registration(name="新名", phone="999", email="nope"))
    assert response.status_code == 422
    assert field_error(response.text, "phone") == PHONE_ERROR
    assert field_error(response.text, "email") == "Not a valid email address."
    assert field_error(response.text, "name") is None
    customer = reload(customer)
    assert (customer.name, customer.phone) == ("原名", "+8613812345678")
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_edit_to_a_taken_nickname_is_refused(client, login_as, make_customer):
    user = login_as(Role.SALES)
    make_customer(name="别人", platform="taobao", nickname="taken_nick")
    customer = make_customer(owner=user, name="自己", platform="taobao", nickname="mine")
    response = client.post(
        f"/customers/{customer.id}/edit", data=registration(name="自己", platform="taobao", nickname="taken_nick")
    )
    assert response.status_code == 422
    assert field_error(response.text, "nickname") == NICKNAME_TAKEN
    assert reload(customer).nickname == "mine"
    # Saving without changing its own nickname is fine.
    response = client.post(
        f"/customers/{customer.id}/edit", data=registration(name="自己", platform="taobao", nickname="mine")
    )
    assert response.status_code == 302


def test_edit_saves_and_records_what_changed(client, login_as, make_customer):
    user = login_as(Role.SALES)
    customer = make_customer(owner=user, name="旧名字", phone="+8613812345678")
    response = client.post(
        f"/customers/{customer.id}/edit", data=registration(name="新名字", phone="138 1234 5678", province="江苏")
    )
    assert response.status_code == 302 and response.headers["Location"] == f"/customers/{customer.id}"
    customer = reload(customer)
    assert (customer.name, customer.province, customer.phone) == ("新名字", "江苏", "+8613812345678")
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.customer_id == customer.id))
    assert entry.action == "customer.edited" and entry.actor_id == user.id
    assert entry.before == {"name": "旧名字", "province": None}
    assert entry.after == {"name": "新名字", "province": "江苏"}
    page = client.get(f"/customers/{customer.id}").text
    assert "Changes saved." in page
    assert "Name: 旧名字 → 新名字" in page


def test_saving_without_changes_records_nothing(client, login_as, make_customer):
    user = login_as(Role.SALES)
    customer = make_customer(owner=user, name="不变", phone="+8613812345678")
    client.post(f"/customers/{customer.id}/edit", data=registration(name="不变", phone="+86 13812345678"))
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_editing_keeps_a_deactivated_owner(client, login_as, make_user, make_customer):
    login_as(Role.SUPERVISOR)
    gone = make_user(Role.SALES, display_name="Gone Seller", active=False)
    customer = make_customer(owner=gone, name="留着", phone="+8613812345678")
    form = client.get(f"/customers/{customer.id}/edit").text
    assert re.search(rf'<option selected value="{gone.id}">Gone Seller</option>', form)
    response = client.post(
        f"/customers/{customer.id}/edit",
        data=registration(name="留着", phone="13812345678", city="杭州", owner_id=str(gone.id)),
    )
    assert response.status_code == 302
    customer = reload(customer)
    assert (customer.owner_id, customer.city) == (gone.id, "杭州")


def test_supervisor_reassigns_a_customer(client, login_as, make_user, make_customer):
    login_as(Role.SUPERVISOR)
    first, second = (
        make_user(Role.SALES, display_name="First Seller"),
        make_user(Role.SALES, display_name="Second Seller"),
    )
    customer = make_customer(owner=first, name="换人", phone="+8613812345678")
    response = client.post(
        f"/customers/{customer.id}/edit", data=registration(name="换人", phone="13812345678", owner_id=str(second.id))
    )
    assert response.status_code == 302
    assert reload(customer).owner_id == second.id
    [entry] = db.session.scalars(
        select(AuditEntry).where(AuditEntry.customer_id == customer.id, AuditEntry.action == "customer.owner_changed")
    )
    assert (entry.before, entry.after) == ({"owner_id": first.id}, {"owner_id": second.id})
    page = client.get(f"/customers/{customer.id}").text
    assert "Owner changed" in page
    assert "Owner: First Seller → Second Seller" in page  # people, not ids


# --- the list: search -------------------------------------------------------------------------


@pytest.fixture
def registry(login_as, make_customer):
    login_as(Role.SUPERVISOR)
    return {
        "zhang": make_customer(
            name="张三丰", platform="taobao", nickname="wudang_master", phone="+8613812345678", tags="回头客,太极"
        ),
        "wang": make_customer(
            name="王五六七", platform="jd", nickname="LuckyCat88", phone="+8613998765432", tags="大码"
        ),
        "alice": make_customer(name="Alice Smith", phone="+8615000001111", tags="VIP客户"),
    }


@pytest.mark.parametrize(
    "query, expected",
    [
        ("三", ["张三丰"]),  # one character
        ("三丰", ["张三丰"]),  # two characters
        ("张三丰", ["张三丰"]),  # three
        ("五六", ["王五六七"]),  # in the middle: substring, not prefix
        ("六七", ["王五六七"]),  # at the end
        ("王五六七", ["王五六七"]),
        ("七", ["王五六七"]),  # the last character alone
        ("丰张", []),  # wrong order
        ("alice", ["Alice Smith"]),
        ("SMITH", ["Alice Smith"]),
        ("i", ["Alice Smith"]),
        ("luckycat", ["王五六七"]),  # nickname, any case
        ("dang_ma", ["张三丰"]),  # an underscore is a character, not a wildcard
        ("%", []),
        ("_", ["张三丰"]),
        ("1234", ["张三丰"]),  # phone fragment
        ("9876", ["王五六七"]),
        ("15000", ["Alice Smith"]),
        ("+86", []),  # people search by the digits they type, not the stored form
        ("回头", ["张三丰"]),  # tag
        ("太极", ["张三丰"]),
        ("vip", ["Alice Smith"]),
        ("客", ["Alice Smith", "张三丰"]),  # tags of two customers
        ("张 1234", ["张三丰"]),  # terms are ANDed
        ("张 9876", []),
        ("  三丰   taobao ", []),  # the platform is not searched
    ],
)
def test_search_finds_substrings_of_name_nickname_phone_and_tags(client, registry, query, expected):
    response = client.get("/customers/", query_string={"q": query, "sort": "name"})
    assert response.status_code == 200
    assert sorted(result_names(response.text)) == sorted(expected)


def test_search_as_you_type_returns_only_the_results_block(client, registry):
    response = client.get("/customers/?q=三丰", headers={"HX-Request": "true"})
    assert response.status_code == 200
    text = response.text
    assert "<html" not in text and "<form" not in text
    assert text.strip().startswith('<section id="results"')
    assert result_names(text) == ["张三丰"]
    assert "1 customer" in text
    assert "HX-Request" in response.headers["Vary"]


def test_boosted_request_gets_the_whole_page(client, registry):
    response = client.get("/customers/?q=三丰", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in response.text and '<form id="filters"' in response.text


def test_no_match_says_so(client, registry):
    text = client.get("/customers/?q=没有这个人").text
    assert "No customer matches. Try fewer letters or clear a filter." in text
    assert "0 customers" in text


# --- the list: filters, sorting, pages --------------------------------------------------------


def shanghai(*args) -> datetime:
    """A shop-time (UTC+8) wall clock time as the naive UTC the database keeps."""
    return datetime(*args) - timedelta(hours=8)


@pytest.fixture
def varied(login_as, make_user, make_customer):
    login_as(Role.SUPERVISOR)
    seller = make_user(Role.SALES, display_name="Seller Qian")
    return {
        "seller": seller,
        "key": make_customer(
            name="Key Zhejiang",
            owner=seller,
            layer=Layer.KEY,
            tier=Tier.SVIP,
            province="浙江",
            source="order",
            total_spend=Decimal("3000"),
            last_paid_at=shanghai(2024, 3, 1, 0, 30),
        ),
        "middle": make_customer(
            name="Middle Jiangsu",
            owner=seller,
            layer=Layer.MIDDLE,
            tier=Tier.VIP,
            province="江苏",
            source="referral",
            total_spend=Decimal("2100"),
            last_paid_at=shanghai(2024, 3, 31, 23, 59),
        ),
        "bottom": make_customer(
            name="Bottom Zhejiang",
            layer=Layer.BOTTOM,
            province="浙江",
            source="order",
            total_spend=Decimal("100"),
            last_paid_at=shanghai(2024, 2, 29, 23, 59),
        ),
        "prospect": make_customer(name="Prospect Nowhere", source="inquiry"),
        "lost": make_customer(
            name="Lost Jiangsu",
            layer=Layer.LOST,
            province="江苏",
            source="import",
            total_spend=Decimal("500"),
            last_paid_at=shanghai(2024, 4, 1, 0, 0),
        ),
    }


@pytest.mark.parametrize(
    "args, expected",
    [
        ({}, {"Key Zhejiang", "Middle Jiangsu", "Bottom Zhejiang", "Prospect Nowhere", "Lost Jiangsu"}),
        ({"owner": "SELLER"}, {"Key Zhejiang", "Middle Jiangsu"}),
        ({"owner": "none"}, {"Bottom Zhejiang", "Prospect Nowhere", "Lost Jiangsu"}),
        ({"layer": "key"}, {"Key Zhejiang"}),
        ({"layer": "prospect"}, {"Prospect Nowhere"}),
        ({"tier": "vip"}, {"Middle Jiangsu"}),
        ({"tier": "none"}, {"Bottom Zhejiang", "Prospect Nowhere", "Lost Jiangsu"}),
        ({"province": "浙江"}, {"Key Zhejiang", "Bottom Zhejiang"}),
        ({"province": " 江苏 "}, {"Middle Jiangsu", "Lost Jiangsu"}),
        ({"source": "order"}, {"Key Zhejiang", "Bottom Zhejiang"}),
        ({"source": "referral"}, {"Middle Jiangsu"}),
        # Dates are the shop's calendar days, both ends included.
        ({"last_order_from": "2024-03-01"}, {"Key Zhejiang", "Middle Jiangsu", "Lost Jiangsu"}),
        ({"last_order_to": "2024-03-31"}, {"Key Zhejiang", "Middle Jiangsu", "Bottom Zhejiang"}),
        ({"last_order_from": "2024-03-01", "last_order_to": "2024-03-31"}, {"Key Zhejiang", "Middle Jiangsu"}),
        ({"last_order_from": "2024-03-02", "last_order_to": "2024-03-30"}, set()),
        ({"province": "浙江", "layer": "bottom", "q": "zhe"}, {"Bottom Zhejiang"}),
    ],
)
def test_filters(client, varied, args, expected):
    args = {k: (str(varied["seller"].id) if v == "SELLER" else v) for k, v in args.items()}
    response = client.get("/customers/", query_string=args)
    assert response.status_code == 200
    assert set(result_names(response.text)) == expected


@pytest.mark.parametrize(
    "sort, expected",
    [
        ("recent", ["Lost Jiangsu", "Middle Jiangsu", "Key Zhejiang", "Bottom Zhejiang", "Prospect Nowhere"]),
        ("spend", ["Key Zhejiang", "Middle Jiangsu", "Lost Jiangsu", "Bottom Zhejiang", "Prospect Nowhere"]),
        ("name", ["Bottom Zhejiang", "Key Zhejiang", "Lost Jiangsu", "Middle Jiangsu", "Prospect Nowhere"]),
        ("created", ["Lost Jiangsu", "Prospect Nowhere", "Bottom Zhejiang", "Middle Jiangsu", "Key Zhejiang"]),
    ],
)
def test_sorting(client, varied, sort, expected):
    for offset, key in enumerate(("key", "middle", "bottom", "prospect", "lost")):
        varied[key].created_at = datetime(2024, 1, 1) + timedelta(hours=offset)
    db.session.commit()
    assert result_names(client.get(f"/customers/?sort={sort}").text) == expected


def test_default_sort_is_by_last_order(client, varied):
    assert result_names(client.get("/customers/").text)[0] == "Lost Jiangsu"


@pytest.mark.parametrize(
    "args",
    [
        {"layer": "nonsense"},
        {"tier": "gold"},
        {"source": "<script>"},
        {"owner": "abc"},
        {"owner": "999999"},
        {"last_order_from": "not-a-date"},
        {"last_order_to": "2024-13-45"},
        {"sort": "drop table"},
        {"page": "abc"},
        {"page": "-3"},
        {"page": "99999"},
        {"page": "99999999999999999999"},
        {"page": str(2**63)},
        {"owner": "99999999999999999999"},
        {"last_order_from": "0001-01-01"},
        {"last_order_to": "9999-12-31"},
        {"q": "长x " * 1666},
        {"endpoint": "x", "_external": "1", "fmt": "x"},  # names url_for would choke on
        {"q": '"'},
        {"q": "'; --"},
        {"q": 'a"b"c'},
        {"q": "abc*"},
        {"q": "NEAR(a b)"},
        {"q": "-abc"},
        {"q": "x OR y"},
        {"q": "^ab"},
        {"q": "😀😀😀"},
        {"q": "a" * 500},
        {"province": "省" * 100},
    ],
)
def test_invalid_filter_values_do_not_break_the_list(client, varied, args):
    response = client.get("/customers/", query_string=args)
    assert response.status_code == 200
    assert '<section id="results"' in response.text
    htmx = client.get("/customers/", query_string=args, headers={"HX-Request": "true"})
    assert htmx.status_code == 200
    export = client.get("/customers/export.csv", query_string=args)
    assert export.status_code == 200


@pytest.mark.parametrize("args", [{"q": "a\x00b"}, {"q": "\x00"}, {"province": "浙\x00"}])
def test_nul_characters_are_refused_not_a_server_error(client, varied, args):
    response = client.get("/customers/", query_string=args)
    assert response.status_code == 400
    assert client.get("/customers/export.csv", query_string=args).status_code == 400


def test_nul_character_in_a_form_is_refused(client, login_as):
    login_as(Role.SALES)
    assert client.post("/customers/new", data=registration(name="a\x00b")).status_code == 400
    assert customer_count() == 0


def test_markup_in_customer_data_is_shown_as_text(client, login_as):
    login_as(Role.SALES)
    client.post("/customers/new", data=registration(name="<script>alert(1)</script>", tags="<b>x</b>"))
    customer = db.session.scalar(select(Customer))
    for path in (f"/customers/{customer.id}", "/customers/", f"/customers/{customer.id}/edit"):
        text = client.get(path).text
        assert "<script>alert(1)</script>" not in text and "<b>x</b>" not in text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text, path


@pytest.mark.parametrize("name, day", [("last_order_from", "0001-01-01"), ("last_order_to", "9999-12-31")])
def test_a_day_out_of_range_is_ignored_and_explained(client, varied, name, day):
    response = client.get("/customers/", query_string={name: day, "layer": "key"})
    assert response.status_code == 200
    assert field_error(response.text, name) == "Choose a day from 1900-01-01 to 2100-12-31."
    assert set(result_names(response.text)) == {"Key Zhejiang"}
    assert client.get("/customers/export.csv", query_string={name: day}).status_code == 200


def test_a_search_too_long_is_explained_under_the_box(client, varied):
    response = client.get("/customers/", query_string={"q": "张" * 101})
    assert response.status_code == 200
    assert field_error(response.text, "q") == "Search for at most 100 characters."
    assert 'maxlength="100"' in response.text


def test_the_export_links_keep_the_filters_whatever_their_names(client, varied):
    text = client.get("/customers/", query_string={"province": "浙江", "page": "1", "endpoint": "x"}).text
    assert 'href="/customers/export.csv?province=%E6%B5%99%E6%B1%9F&amp;endpoint=x"' in text


def test_invalid_filter_is_ignored_and_explained(client, varied):
    response = client.get("/customers/?last_order_from=2024-02-30&layer=key")
    assert field_error(response.text, "last_order_from") == "Not a valid date value."
    assert set(result_names(response.text)) == {"Key Zhejiang"}  # the valid filter still applies


def test_pagination(client, app, monkeypatch, login_as, make_customer):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    login_as(Role.SUPERVISOR)
    for n in range(5):
        make_customer(name=f"Page Customer {n}")
    make_customer(name="Someone Else")
    first = client.get("/customers/?q=page&sort=name").text
    assert result_names(first) == ["Page Customer 0", "Page Customer 1"]
    assert "Page 1 of 3" in first and "5 customers" in first
    assert 'rel="prev"' not in first
    next_url = re.search(r'<a href="([^"]+)" hx-get="[^"]+"[^>]*rel="next"', first).group(1).replace("&amp;", "&")
    assert "q=page" in next_url and "sort=name" in next_url and "page=2" in next_url

    second = client.get(next_url, headers={"HX-Request": "true"}).text
    assert "<html" not in second
    assert result_names(second) == ["Page Customer 2", "Page Customer 3"]
    assert "Page 2 of 3" in second and 'rel="prev"' in second and 'rel="next"' in second

    last = client.get("/customers/?q=page&sort=name&page=3").text
    assert result_names(last) == ["Page Customer 4"] and 'rel="next"' not in last
    # Past the end: the last page; before the start: the first.
    assert result_names(client.get("/customers/?q=page&sort=name&page=42").text) == ["Page Customer 4"]
    assert result_names(client.get("/customers/?q=page&sort=name&page=0").text)[0] == "Page Customer 0"
    huge = client.get("/customers/?q=page&sort=name&page=99999999999999999999").text
    assert result_names(huge) == ["Page Customer 4"] and "Page 3 of 3" in huge


def test_empty_registry_invites_a_first_registration(client, login_as):
    login_as(Role.SALES)
    text = client.get("/customers/").text
    assert "No customers yet." in text and "Register the first one" in text


# --- export -----------------------------------------------------------------------------------

HEADER = [
    "ID",
    "Name",
    "Platform",
    "Platform nickname",
    "Mobile phone",
    "Province",
    "City",
    "Tags",
    "Source",
    "Owner",
    "Layer",
    "Activity",
    "Tier",
    "Paid orders",
    "Total spend",
    "Last paid order",
]


def test_export_csv_has_bom_header_and_the_filtered_rows(client, varied):
    response = client.get("/customers/export.csv?province=浙江&sort=spend")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == "attachment; filename=customers.csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == HEADER
    assert [row[1] for row in rows[1:]] == ["Key Zhejiang", "Bottom Zhejiang"]
    key = dict(zip(HEADER, rows[1]))
    assert key["Mobile phone"] == phones.display(varied["key"].phone)  # as the list shows it
    assert key["Owner"] == "Seller Qian"
    assert (key["Layer"], key["Tier"], key["Province"], key["Source"]) == ("Key", "SVIP", "浙江", "Order")
    assert Decimal(key["Total spend"]) == Decimal("3000")
    assert key["Last paid order"] == "2024-03-01 00:30"  # shop time
    assert dict(zip(HEADER, rows[2]))["Owner"] == "Unassigned"


def test_the_export_speaks_the_readers_language(client, varied):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    rows = list(csv.reader(io.StringIO(client.get("/customers/export.csv?sort=spend").data.decode("utf-8-sig"))))
    assert rows[0][:5] == ["ID", "姓名", "平台", "平台昵称（旺旺名）", "手机号"]
    key = dict(zip(rows[0], rows[1]))
    assert (key["分层"], key["来源"], key["会员等级"]) == ("重点客户", "订单", "SVIP")


def test_export_csv_follows_the_search(client, registry):
    rows = list(csv.reader(io.StringIO(client.get("/customers/export.csv?q=三丰").data.decode("utf-8-sig"))))
    assert [row[1] for row in rows[1:]] == ["张三丰"]
    assert rows[1][7] == "回头客,太极"


def test_export_xlsx_opens_with_the_filtered_rows(client, varied):
    response = client.get("/customers/export.xlsx?source=order&sort=name")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == "attachment; filename=customers.xlsx"
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == HEADER
    assert [row[1] for row in rows[1:]] == ["Bottom Zhejiang", "Key Zhejiang"]
    key = dict(zip(HEADER, rows[2]))
    assert key["Total spend"] == 3000 and key["Paid orders"] == 0 and key["Owner"] == "Seller Qian"


def test_exports_never_carry_formulas(client, login_as, make_customer):
    login_as(Role.SUPERVISOR)
    make_customer(
        name='=HYPERLINK("http://evil.example","点我")',
        platform="taobao",
        nickname="@SUM(1+1)",
        tags="-2+3,ok",
        city="+city",
    )
    rows = list(csv.reader(io.StringIO(client.get("/customers/export.csv").data.decode("utf-8-sig"))))
    row = dict(zip(HEADER, rows[1]))
    assert row["Name"] == '\'=HYPERLINK("http://evil.example","点我")'
    assert (row["Platform nickname"], row["Tags"], row["City"]) == ("'@SUM(1+1)", "'-2+3,ok", "'+city")

    sheet = load_workbook(io.BytesIO(client.get("/customers/export.xlsx").data)).active
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    assert cells[1].value.startswith("'=HYPERLINK")


def test_export_links_carry_the_current_filters(client, varied):
    text = client.get("/customers/?province=浙江&page=1").text
    assert 'href="/customers/export.csv?province=%E6%B5%99%E6%B1%9F"' in text
    assert 'href="/customers/export.xlsx?province=%E6%B5%99%E6%B1%9F"' in text


def test_export_of_many_rows_is_complete(client, login_as, make_customer):
    login_as(Role.SUPERVISOR)
    customers = [Customer(name=f"批量{n:04d}", phone=None) for n in range(1200)]
    db.session.add_all(customers)
    db.session.commit()
    rows = list(csv.reader(io.StringIO(client.get("/customers/export.csv?sort=name").data.decode("utf-8-sig"))))
    assert len(rows) == 1201
    assert rows[1][1] == "批量0000" and rows[-1][1] == "批量1199"


# --- the customer page ------------------------------------------------------------------------


def test_customer_page_shows_figures(client, login_as, make_customer):
    user = login_as(Role.SALES)
    customer = make_customer(
        owner=user,
        name="看数据",
        platform="taobao",
        nickname="tb_fig",
        paid_order_count=3,
        total_spend=Decimal("300"),
        layer=Layer.KEY,
        tier=Tier.VIP,
        wechat="wx_fig",
        flag_bad_reviewer=True,
    )
    text = client.get(f"/customers/{customer.id}").text
    assert "看数据" in text and "Taobao · tb_fig" in text and "wx_fig" in text
    assert "¥300.00" in text and "¥100.00" in text  # total and average
    assert "Key" in text and "VIP" in text
    assert "Left a neutral or bad review recently: no marketing messages." in text


def test_timeline_shows_registration_edits_and_orders(client, login_as, make_order):
    user = login_as(Role.SALES)
    client.post("/customers/new", data=registration(name="时间线"))
    customer = db.session.scalar(select(Customer).where(Customer.name == "时间线"))
    client.post(f"/customers/{customer.id}/edit", data=registration(name="时间线", city="杭州"))
    make_order(customer, days_ago=-1, amount="88.50", items="真丝围巾", order_no="TB20240001")
    make_order(customer, days_ago=30, amount="10", status="refunded", order_no="TB20230001")

    text = client.get(f"/customers/{customer.id}").text
    timeline = text[text.index('<ol class="timeline">') :]
    assert "Order TB20240001" in timeline and "¥88.50" in timeline and "真丝围巾" in timeline
    assert "Completed" in timeline and "Refunded" in timeline
    assert "Registered" in timeline and user.display_name in timeline
    assert "Edited" in timeline and "City:  → 杭州" in timeline
    # Newest first: tomorrow's order, then the edit, the registration, last month's order.
    positions = [timeline.index(s) for s in ("TB20240001", "Edited", "Registered", "TB20230001")]
    assert positions == sorted(positions)


def test_empty_timeline(client, login_as, make_customer):
    user = login_as(Role.SALES)
    customer = make_customer(owner=user)
    assert "Nothing has happened with this customer yet." in client.get(f"/customers/{customer.id}").text


def test_recording_a_complaint(client, login_as, make_customer):
    user = login_as(Role.SALES)
    customer = make_customer(owner=user)
    response = client.post(f"/customers/{customer.id}/complaints", data={"note": "物流太慢，包装破损"})
    assert response.status_code == 302 and response.headers["Location"] == f"/customers/{customer.id}"
    text = client.get(f"/customers/{customer.id}").text
    assert "Complaint recorded." in text
    assert "物流太慢，包装破损" in text
    assert "0 / 1" in text  # refunds / complaints
    customer = reload(customer)
    assert customer.complaint_count == 1
    [complaint] = db.session.scalars(select(Complaint).where(Complaint.customer_id == customer.id))
    assert complaint.recorded_by_id == user.id
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "customer.complaint"))
    assert entry.customer_id == customer.id and entry.actor_id == user.id


def test_a_complaint_appears_once_on_the_timeline(client, login_as, make_customer):
    user = login_as(Role.SALES)
    customer = make_customer(owner=user)
    client.post(f"/customers/{customer.id}/complaints", data={"note": "只记一次"})
    text = client.get(f"/customers/{customer.id}").text
    timeline = text[text.index('<ol class="timeline">') :]
    assert timeline.count("<li") == 1
    assert timeline.count("只记一次") == 1


def test_empty_complaint_is_refused_next_to_the_field(client, login_as, make_customer):
    user = login_as(Role.SALES)
    customer = make_customer(owner=user)
    response = client.post(f"/customers/{customer.id}/complaints", data={"note": "  "})
    assert response.status_code == 422
    assert field_error(response.text, "note") == "This field is required."
    assert reload(customer).complaint_count == 0


# --- platform accounts ------------------------------------------------------------------------


def accounts_of(customer_id: int) -> list[tuple[str, str]]:
    query = select(CustomerAccount.platform, CustomerAccount.nickname).where(CustomerAccount.customer_id == customer_id)
    return sorted(db.session.execute(query).all())


def test_a_registered_nickname_is_the_customers_first_account(client, login_as):
    login_as(Role.SALES)
    client.post("/customers/new", data=registration(name="有旺旺", platform="taobao", nickname="tb_cat"))
    customer = db.session.scalar(select(Customer))
    assert accounts_of(customer.id) == [("taobao", "tb_cat")]


def test_a_nickname_held_as_another_customers_second_account_is_taken(client, login_as, make_customer):
    login_as(Role.SUPERVISOR)
    holder = make_customer(name="两个号", platform="1688", nickname="yiwu_shop")
    holder.accounts.append(CustomerAccount(platform="taobao", nickname="tb_second"))
    db.session.commit()
    check = client.get("/customers/check?phone=&platform=taobao&nickname=tb_second", headers={"HX-Request": "true"})
    assert f'<a href="/customers/{holder.id}">open this record</a>' in check.text
    response = client.post("/customers/new", data=registration(platform="taobao", nickname="tb_second"))
    assert response.status_code == 422
    assert field_error(response.text, "nickname") == NICKNAME_TAKEN
    assert customer_count() == 1


def test_editing_the_nickname_renames_the_account_and_clearing_it_removes_it(client, login_as, make_customer):
    user = login_as(Role.SALES)
    customer = make_customer(owner=user, name="改旺旺", platform="taobao", nickname="old_nick")
    customer.accounts.append(CustomerAccount(platform="1688", nickname="yiwu_shop"))
    db.session.commit()
    response = client.post(
        f"/customers/{customer.id}/edit", data=registration(name="改旺旺", platform="taobao", nickname="new_nick")
    )
    assert response.status_code == 302
    assert accounts_of(customer.id) == [("1688", "yiwu_shop"), ("taobao", "new_nick")]
    assert result_names(client.get("/customers/?q=new_nick").text) == ["改旺旺"]
    assert result_names(client.get("/customers/?q=old_nick").text) == []
    assert result_names(client.get("/customers/?q=yiwu").text) == ["改旺旺"]  # every account is searchable

    client.post(f"/customers/{customer.id}/edit", data=registration(name="改旺旺"))
    assert accounts_of(customer.id) == [("1688", "yiwu_shop")]


# --- merging two records of one person --------------------------------------------------------


@pytest.fixture
def two_records(make_user, make_customer, make_order):
    """One buyer registered twice: by hand by one sales person, and imported with a Taobao account."""
    ann, bob = make_user(Role.SALES), make_user(Role.SALES)
    kept = make_customer(owner=ann, name="王芳", phone="+8613812345678", tags="回头客", province=None)
    other = make_customer(
        owner=bob,
        name="小猫",
        platform="taobao",
        nickname="小猫",
        phone="+8613912345678",
        province="浙江",
        city="杭州",
        wechat="cat_wx",
        tags="定制,回头客",
        source="import",
    )
    make_order(kept, days_ago=20, amount="100")
    make_order(other, days_ago=10, amount="250", review="bad")
    make_order(other, days_ago=5, amount="80", status="unpaid")
    db.session.add(Complaint(customer_id=other.id, note="发货慢"))
    followups.start(kept)
    followups.start(other)
    blacklist.add(other.phone, BlacklistReason.OPT_OUT, source="sms", actor=None, customer_id=other.id)
    db.session.commit()
    return {"kept": kept.id, "other": other.id, "ann": ann.id, "bob": bob.id}


def test_merge_moves_everything_to_the_kept_record(make_user, two_records):
    supervisor = make_user(Role.SUPERVISOR)
    kept, other = db.session.get(Customer, two_records["kept"]), db.session.get(Customer, two_records["other"])
    other_task = followups.open_task_of(other.id).id
    moved = customers.merge(kept, other, supervisor)
    db.session.commit()

    assert db.session.get(Customer, two_records["other"]) is None
    kept = db.session.get(Customer, two_records["kept"])
    assert accounts_of(kept.id) == [("taobao", "小猫")]
    for model in (Order, Complaint, FollowUp, BlacklistEntry):
        assert set(db.session.scalars(select(model.customer_id))) == {kept.id}, model
    # The kept record keeps what it had and gains what it lacked; tags are joined.
    assert (kept.name, kept.phone, kept.owner_id, kept.source) == (
        "王芳",
        "+8613812345678",
        two_records["ann"],
        "inquiry",
    )
    assert (kept.platform, kept.nickname, kept.province, kept.city, kept.wechat) == (
        "taobao",
        "小猫",
        "浙江",
        "杭州",
        "cat_wx",
    )
    assert kept.tags == "回头客,定制"
    # One open follow-up, the kept record's; the other's is cancelled, its history kept.
    tasks = dict(db.session.execute(select(FollowUp.id, FollowUp.status)).all())
    assert tasks[other_task] == "cancelled" and list(tasks.values()).count("open") == 1
    # Figures at once from both records' orders: 100 + 250 paid, one complaint, the bad review.
    assert (kept.paid_order_count, kept.total_spend, kept.complaint_count) == (2, Decimal("350.00"), 1)
    assert kept.latest_review == "bad"
    # One audit entry says it all; the other record's history is on the kept one's timeline.
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "customer.merged"))
    assert (entry.customer_id, entry.subject, entry.actor_id) == (
        kept.id,
        f"customer:{two_records['other']}",
        supervisor.id,
    )
    assert entry.before["name"] == "小猫" and entry.before["phone"] == "+8613912345678"
    assert entry.after == moved
    assert (moved["orders"], moved["complaints"], moved["follow_ups"], moved["blacklist"]) == (2, 1, 1, 1)
    assert moved["accounts"] == ["taobao:小猫"] and moved["cancelled_follow_up"] == other_task
    assert moved["history"] >= 2  # registered... and follow-up opened, blacklisted
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.customer_id.is_(None))) == 0
    # Searchable by everything it now holds; the deleted record's index entries are gone.
    assert set(db.session.scalars(select(CustomerGram.customer_id))) == {kept.id}
    assert "小猫" in kept.search_text and "cat_wx" in kept.search_text


def test_a_kept_record_without_a_follow_up_takes_the_others_for_its_owner(make_user, make_customer, two_records):
    supervisor = make_user(Role.SUPERVISOR)
    kept, other = db.session.get(Customer, two_records["kept"]), db.session.get(Customer, two_records["other"])
    followups.assign([kept.id], None, supervisor)  # nobody owns it: its task is cancelled
    followups.assign([kept.id], db.session.get(User, two_records["ann"]), supervisor)  # ...and reopened
    db.session.execute(update(FollowUp).where(FollowUp.customer_id == kept.id).values(status="cancelled"))
    other.cycle, other.unconverted_streak = 3, 2
    db.session.commit()
    other_task = followups.open_task_of(other.id).id

    customers.merge(kept, other, supervisor)
    db.session.commit()
    task = db.session.get(FollowUp, other_task)
    assert (task.customer_id, task.status, task.assignee_id) == (kept.id, "open", two_records["ann"])
    kept = db.session.get(Customer, kept.id)
    assert (kept.cycle, kept.unconverted_streak) == (3, 2)


def test_an_unowned_kept_record_takes_the_others_owner(make_user, make_customer, make_order):
    supervisor, bob = make_user(Role.SUPERVISOR), make_user(Role.SALES)
    kept = make_customer(name="无人")
    other = make_customer(owner=bob, name="有人", platform="jd", nickname="jd_cat")
    followups.start(other)
    db.session.commit()
    customers.merge(kept, other, supervisor)
    db.session.commit()
    kept = db.session.get(Customer, kept.id)
    assert kept.owner_id == bob.id
    assert followups.open_task_of(kept.id).assignee_id == bob.id


def test_a_supervisor_finds_compares_and_merges_two_records(client, login_as, run_jobs, two_records):
    login_as(Role.SUPERVISOR)
    kept, other = two_records["kept"], two_records["other"]
    page = client.get(f"/customers/{kept}").text
    assert f'href="/customers/{kept}/merge" id="merge-link">Merge with another record…</a>' in page

    search = client.get(f"/customers/{kept}/merge", query_string={"q": "小猫"}, headers={"HX-Request": "true"})
    assert search.status_code == 200 and search.text.lstrip().startswith('<section id="candidates"')
    assert f'href="/customers/{kept}/merge?other={other}">小猫</a>' in search.text
    assert f"other={kept}" not in search.text  # not itself

    compare = client.get(f"/customers/{kept}/merge", query_string={"other": other}).text
    assert re.search(r'id="kept">\s*<h2>Kept: <a href="/customers/\d+">王芳</a>', compare)
    assert "Merged into it, then deleted" in compare and "Taobao · 小猫" in compare
    assert "The phones differ: the kept record keeps 138 1234 5678, and 139 1234 5678 is dropped" in compare
    assert f'href="/customers/{other}/merge?other={kept}">Keep the other record instead' in compare

    response = client.post(f"/customers/{kept}/merge", data={"other": other})
    assert response.status_code == 302 and response.headers["Location"] == f"/customers/{kept}"
    page = client.get(f"/customers/{kept}").text
    assert "The record of 小猫 was merged into this one." in page
    merged = " ".join(page[page.index("Merged with another record</strong>") :].split())[:200]
    assert merged.startswith(
        f"Merged with another record</strong> · 小猫 (record {other}) joined this one: 2 orders, 1 follow-up"
    )
    assert "Taobao 小猫" in merged  # the account as people read it, not taobao:小猫
    assert client.get(f"/customers/{other}").status_code == 404
    run_jobs()  # the layers rank everyone's spend again
    assert db.session.get(Customer, kept).layer == Layer.NEW


def test_merge_candidates_before_anything_is_typed_share_the_phone(client, login_as, make_customer):
    login_as(Role.SUPERVISOR)
    kept = make_customer(name="甲", phone="+8613812345678")
    twin = make_customer(name="乙", phone="+8613812345678")
    make_customer(name="丙", phone="+8613912345678")
    page = client.get(f"/customers/{kept.id}/merge").text
    assert "Records with the same phone:" in page
    assert f"other={twin.id}" in page and "丙" not in page


@pytest.mark.parametrize("data", [{}, {"other": ""}, {"other": "abc"}, {"other": "99999999999"}, {"other": "self"}])
def test_a_merge_without_another_record_is_refused_and_changes_nothing(client, login_as, make_customer, data):
    login_as(Role.SUPERVISOR)
    customer = make_customer(name="独一份")
    if data.get("other") == "self":
        data = {"other": str(customer.id)}
    response = client.post(f"/customers/{customer.id}/merge", data=data)
    assert response.status_code == 422
    assert re.search(r'<p class="field-error" id="other-error">Choose (the|another) record', response.text)
    assert customer_count() == 1 and db.session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_sales_cannot_merge(client, login_as, make_customer):
    user = login_as(Role.SALES)
    kept, other = make_customer(owner=user, name="我的"), make_customer(owner=user, name="也是我的")
    assert "Merge with another record" not in client.get(f"/customers/{kept.id}").text
    assert client.get(f"/customers/{kept.id}/merge").status_code == 403
    assert client.post(f"/customers/{kept.id}/merge", data={"other": other.id}).status_code == 403
    assert customer_count() == 2


def test_a_merged_records_number_is_never_given_to_another_customer(client, login_as, make_customer):
    """Old links and the merge's history name the merged record by its number: a new
    customer must not take it (SQLite reused the largest id once it was deleted)."""
    supervisor = login_as(Role.SUPERVISOR)
    kept = make_customer(name="留下的")
    other = make_customer(name="并入的")  # the largest id so far
    customers.merge(kept, other, supervisor)
    db.session.commit()
    newcomer = make_customer(name="新来的")
    assert newcomer.id > other.id
    assert client.get(f"/customers/{other.id}").status_code == 404
