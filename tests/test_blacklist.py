"""The admins' blacklist (SPEC §6): search, add, remove with its history, import, export, who may."""

import csv
import io
import re
from datetime import timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from app.blacklist import services as blacklist
from app.extensions import db
from app.imports.tables import XLSX_MAX_UNPACKED
from app.models import AuditEntry, BlacklistEntry, BlacklistReason, ImportRun, Role, utcnow

HX = {"HX-Request": "true"}


@pytest.fixture
def admin(login_as):
    return login_as(Role.ADMIN, locale="en", display_name="Admin Wang")


def entries(**where) -> list[BlacklistEntry]:
    db.session.expire_all()
    query = select(BlacklistEntry).filter_by(**where).order_by(BlacklistEntry.id)
    return list(db.session.scalars(query))


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def words(html: str) -> str:
    """What the reader sees: the text without tags, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace(" ·", "·").replace("· ", "·").replace("·", " · ")


def field_error(page: str, name: str) -> str | None:
    match = re.search(rf'<small class="field-error" id="{name}-error">(.*?)</small>', page, re.S)
    return match.group(1).strip() if match else None


def listed_phones(page: str) -> list[str]:
    """The phones of the list's rows, as shown (local form)."""
    return re.findall(r'<a href="/blacklist/\d+">([^<]+)</a>', page)


def put(phone: str, reason=BlacklistReason.MANUAL, source="form", days_ago: float = 0, **values) -> BlacklistEntry:
    entry = blacklist.add(phone, reason, source=source, actor=None, **values)
    entry.added_at = utcnow() - timedelta(days=days_ago)
    db.session.commit()
    return entry


# --- the database -----------------------------------------------------------------------------


def test_the_database_keeps_one_active_entry_per_phone(app):
    db.session.add(BlacklistEntry(phone="+8613800000001", reason="manual", source="form"))
    db.session.commit()
    db.session.add(BlacklistEntry(phone="+8613800000001", reason="bad_review", source="form"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    # Removed entries are history: any number of them beside the active one.
    for _ in range(2):
        db.session.add(
            BlacklistEntry(
                phone="+8613800000001", reason="manual", source="form", removed_at=utcnow(), removal_reason="x"
            )
        )
    db.session.commit()
    assert len(entries(phone="+8613800000001")) == 3


# --- the list -----------------------------------------------------------------------------------


def test_the_list_searches_by_phone_fragment_reason_source_and_day(client, admin):
    put("+8613811112222", BlacklistReason.BAD_REVIEW, days_ago=40)
    put("+8613933334444", BlacklistReason.OPT_OUT, source="follow_up:7", days_ago=5)
    put("+8615055556666", BlacklistReason.COMPLAINTS, source="import:3", days_ago=1)
    gone = put("+8613711110000", BlacklistReason.MANUAL)
    blacklist.remove(gone, "误加", admin)
    db.session.commit()

    def phones(query: str) -> list[str]:
        response = client.get(f"/blacklist/?{query}", headers=HX)
        assert response.status_code == 200
        assert "<html" not in response.text  # the results block alone
        return listed_phones(response.text)

    assert phones("") == ["150 5555 6666", "139 3333 4444", "138 1111 2222"]  # active ones, newest first
    assert phones("q=1111") == ["138 1111 2222"]
    assert phones("q=139 3333") == ["139 3333 4444"]
    assert phones("q=%2B86%20150") == ["150 5555 6666"]
    assert phones("q=1111&status=all") == ["137 1111 0000", "138 1111 2222"]
    assert phones("status=removed") == ["137 1111 0000"]
    assert phones("reason=opt_out") == ["139 3333 4444"]
    assert phones("source=follow_up") == ["139 3333 4444"]
    assert phones("source=import") == ["150 5555 6666"]
    assert phones("source=form&status=all") == ["137 1111 0000", "138 1111 2222"]
    day = (utcnow() - timedelta(days=10)).date().isoformat()
    assert phones(f"added_from={day}") == ["150 5555 6666", "139 3333 4444"]
    assert phones(f"added_to={day}") == ["138 1111 2222"]
    # An invalid filter is said by its field and ignored.
    page = client.get("/blacklist/?reason=nonsense&added_from=0001-01-01").text
    assert field_error(page, "added_from") == "Choose a day from 1900-01-01 to 2100-12-31."
    assert listed_phones(page) == ["150 5555 6666", "139 3333 4444", "138 1111 2222"]
    assert "No entry matches" in client.get("/blacklist/?q=000000000").text


def test_the_list_shows_reasons_sources_and_the_customer(client, admin, make_customer):
    customer = make_customer(name="王先生", phone="+8613811112222")
    put("+8613811112222", BlacklistReason.BAD_REVIEW, note="差评三次", customer_id=customer.id)
    page = client.get("/blacklist/").text
    row = page[page.index("138 1111 2222") :]
    assert "Bad review" in row and "Blacklist page" in row and "差评三次" in row
    assert f'<a href="/customers/{customer.id}">王先生</a>' in row
    assert 'class="striped cards blacklist"' in page  # cards on a phone
    assert 'data-label="Reason"' in page


# --- adding ---------------------------------------------------------------------------------------


def test_an_admin_adds_a_number_linked_to_the_one_customer_who_has_it(client, admin, make_customer):
    customer = make_customer(name="李女士", phone="+8613812345678")
    response = client.post(
        "/blacklist/new", data={"phone": "138 1234 5678", "reason": "complaints", "note": " 多次投诉 "}
    )
    assert response.status_code == 302
    [entry] = entries()
    assert response.headers["Location"] == f"/blacklist/{entry.id}"
    assert (entry.phone, entry.reason, entry.note, entry.source) == ("+8613812345678", "complaints", "多次投诉", "form")
    assert (entry.customer_id, entry.added_by_id, entry.removed_at) == (customer.id, admin.id, None)
    audit = db.session.scalar(select(AuditEntry))
    assert (audit.action, audit.customer_id, audit.actor_id) == ("blacklist.added", customer.id, admin.id)
    assert audit.after == {"reason": "complaints", "note": "多次投诉", "source": "form"}
    page = client.get(response.headers["Location"]).text
    assert "138 1234 5678 is blacklisted: it receives no SMS of any kind." in page
    assert f'<a href="/customers/{customer.id}">李女士</a>' in page
    customer_page = client.get(f"/customers/{customer.id}").text
    assert "The phone is blacklisted (Complaints / returns) since" in customer_page


def test_a_number_two_customers_share_is_linked_to_neither(client, admin, make_customer):
    make_customer(phone="+8613812345678")
    make_customer(phone="+8613812345678")
    assert client.post("/blacklist/new", data={"phone": "13812345678", "reason": "manual"}).status_code == 302
    assert entries()[0].customer_id is None


@pytest.mark.parametrize(
    "phone, message",
    [
        ("", "Type the number to blacklist."),
        ("12345", "Not a valid mobile number. Type 11 digits, e.g. 138 1234 5678."),
        ("010 1234 5678", "Not a valid mobile number. Type 11 digits, e.g. 138 1234 5678."),
    ],
)
def test_an_invalid_number_is_said_by_the_phone_field(client, admin, phone, message):
    response = client.post("/blacklist/new", data={"phone": phone, "reason": "manual"})
    assert response.status_code == 422
    assert field_error(response.text, "phone") == message
    assert entries() == [] and audit_actions() == []


def test_a_number_blacklisted_already_is_said_by_the_phone_field_and_nothing_is_written(client, admin):
    first = put("+8613812345678", BlacklistReason.OPT_OUT)
    response = client.post("/blacklist/new", data={"phone": "+86 138-1234-5678", "reason": "manual", "note": "x"})
    assert response.status_code == 422
    assert field_error(response.text, "phone") == "This number is blacklisted already: nothing was changed."
    assert f'href="/blacklist/{first.id}"' in response.text  # its entry, to open
    assert [(e.id, e.reason, e.note) for e in entries()] == [(first.id, "opt_out", None)]
    assert audit_actions() == ["blacklist.added"]  # put()'s own


def test_of_two_admins_adding_a_number_at_once_the_database_refuses_the_second(client, admin):
    """Both pass the check; the unique index refuses the second at commit: the same message, no 500."""

    def another_admin_adds_it_first(connection, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO blacklist") and not raced:
            raced.append(True)
            cursor.execute(
                "INSERT INTO blacklist (phone, reason, source, added_at) "
                "VALUES ('+8613812345678', 'manual', 'form', '2026-01-01 00:00:00')"
            )

    raced = []
    event.listen(db.engine, "before_cursor_execute", another_admin_adds_it_first)
    try:
        response = client.post("/blacklist/new", data={"phone": "13812345678", "reason": "bad_review"})
    finally:
        event.remove(db.engine, "before_cursor_execute", another_admin_adds_it_first)
    assert raced
    assert response.status_code == 422
    assert field_error(response.text, "phone") == "This number is blacklisted already: nothing was changed."


# --- removing, and the history ------------------------------------------------------------------


def test_removing_needs_a_reason_and_keeps_the_entry_as_history(client, admin, make_user, login, make_customer):
    owner = make_user(Role.SALES, locale="en")
    customer = make_customer(owner=owner, name="赵先生", phone="+8613812345678")
    entry = put("+8613812345678", BlacklistReason.BAD_REVIEW, note="差评", customer_id=customer.id, days_ago=3)

    response = client.post(f"/blacklist/{entry.id}/remove", data={"removal_reason": "  "})
    assert response.status_code == 422
    assert field_error(response.text, "removal_reason") == "Say why the number comes off the blacklist."
    assert entries()[0].removed_at is None

    response = client.post(f"/blacklist/{entry.id}/remove", data={"removal_reason": "客户道歉，已和解"})
    assert response.status_code == 302 and response.headers["Location"] == f"/blacklist/{entry.id}"
    [removed] = entries()
    assert (removed.removed_by_id, removed.removal_reason) == (admin.id, "客户道歉，已和解")
    assert removed.removed_at is not None
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "blacklist.removed"))
    assert (audit.customer_id, audit.actor_id, audit.after) == (
        customer.id,
        admin.id,
        {"removal_reason": "客户道歉，已和解"},
    )
    assert audit.before["reason"] == "bad_review"

    page = client.get(f"/blacklist/{entry.id}").text
    assert "138 1234 5678 is off the blacklist; the entry is kept in its history." in page
    assert "Removed " in page and "客户道歉，已和解" in page and "Admin Wang" in page
    assert "Remove from the blacklist" not in page  # nothing left to remove

    # A second removal (a second click, another admin) says so and changes nothing.
    response = client.post(f"/blacklist/{entry.id}/remove", data={"removal_reason": "again"}, follow_redirects=True)
    assert "This entry was removed already, by Admin Wang at" in response.text
    assert entries()[0].removal_reason == "客户道歉，已和解"
    assert audit_actions().count("blacklist.removed") == 1

    # Blacklisted again: the number's history holds both entries, on each entry's page.
    client.post("/blacklist/new", data={"phone": "13812345678", "reason": "opt_out"})
    old, new = entries()
    assert new.removed_at is None and new.customer_id == customer.id
    for page in (client.get(f"/blacklist/{old.id}").text, client.get(f"/blacklist/{new.id}").text):
        history = page[page.index("History of this number") :]
        assert history.count("<tr") == 3  # the header and both entries
        assert "Still blacklisted" in history and "客户道歉，已和解" in history
        assert "Opt-out reply" in history and "Bad review" in history

    # The customer's owner sees it on the customer's page: blacklisted now, and removed once before.
    client.post("/logout")
    login(owner)
    page = client.get(f"/customers/{customer.id}").text
    assert "The phone is blacklisted (Opt-out reply) since" in page
    assert "Removed from the blacklist 1 time" in page
    history = page[page.index('id="blacklist-history"') :]
    assert "(Bad review); removed" in history and "by Admin Wang: 客户道歉，已和解" in history
    assert "/blacklist/" not in history  # no link to pages sales cannot open
    timeline = words(client.get(f"/customers/{customer.id}", headers=HX).text)
    assert "Removed from the blacklist · Bad review · “客户道歉，已和解” · Admin Wang" in timeline


def test_a_removed_entry_without_a_customer_still_shows_on_the_page_of_whoever_has_the_number(
    client, admin, make_customer
):
    entry = put("+8613812345678")
    client.post(f"/blacklist/{entry.id}/remove", data={"removal_reason": "号码已换主人"})
    customer = make_customer(phone="+8613812345678")
    page = client.get(f"/customers/{customer.id}").text
    assert "号码已换主人" in page and f'href="/blacklist/{entry.id}"' in page
    assert "The phone is blacklisted" not in page


# --- importing a list -------------------------------------------------------------------------------


def upload(client, content: bytes, filename="numbers.csv", reason="bad_review"):
    return client.post(
        "/blacklist/import",
        data={"file": (io.BytesIO(content), filename), "reason": reason},
        content_type="multipart/form-data",
    )


def import_list(client, run_jobs, content: bytes, filename="numbers.csv", reason="bad_review") -> str:
    """Upload, run the job, and read the report as the progress block's last poll shows it."""
    response = upload(client, content, filename, reason)
    assert response.status_code == 302, response.text
    run_url = response.headers["Location"]
    waiting = client.get(run_url, headers=HX).text
    assert 'hx-trigger="every 1s"' in waiting  # polls while the job waits
    run_jobs()
    report = client.get(run_url, headers=HX)
    assert report.status_code == 200
    assert "hx-trigger" not in report.text  # finished: polling stops
    return report.text


def counts(page: str) -> dict[str, int]:
    return {name: int(value) for name, value in re.findall(r'id="count-(\w+)">(\d+)<', page)}


def report_lines(page: str, table: str) -> dict[int, str]:
    part = page.split(f'class="striped report-table {table}"', 1)[1].split("</table>")[0] if table in page else ""
    return {int(line): text for line, text in re.findall(r"<tr><td>(\d+)</td><td>(.*?)</td></tr>", part)}


def csv_bytes(rows, encoding="gbk") -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


GBK_LIST = [
    ["黑名单导出", ""],  # a title line above the header
    ["手机号", "备注"],
    ["138 1234 5678", "多次差评"],  # line 3
    ["abc", "不是号码"],  # line 4
    ["", "没有号码"],  # line 5
    ["139****5678", "隐藏的号码"],  # line 6
    ["+86 139-1234-5678", ""],  # line 7
    ["13812345678", "同一号码"],  # line 8: line 3's number again
    ["010 1234 5678", "座机"],  # line 9
    ["  ", ""],  # line 10: blank, not counted
    ["15012345678", '=HYPERLINK("x")'],  # line 11
]


def test_a_gbk_list_is_imported_with_bad_lines_reported_by_line(client, admin, run_jobs, make_customer):
    customer_id, admin_id = make_customer(name="钱女士", phone="+8613912345678").id, admin.id
    put("+8615012345678", BlacklistReason.OPT_OUT)  # blacklisted before the import
    page = import_list(client, run_jobs, csv_bytes(GBK_LIST), "黑名单.csv")

    assert "Import finished: 8 rows read." in page
    assert counts(page) == {"added": 2, "already": 2, "rejected": 4}
    assert report_lines(page, "rejected") == {  # line 10 is blank: not read
        4: "The phone number “abc” is not a valid mobile number.",
        5: "The phone number is empty.",
        6: "The phone number “139****5678” has hidden digits.",
        9: "The phone number “010 1234 5678” is not a valid mobile number.",
    }
    assert report_lines(page, "already") == {
        8: "138 1234 5678 is on line 3 of this file too.",
        11: "150 1234 5678 is blacklisted already.",
    }
    added = {e.phone: e for e in entries(removed_at=None) if e.source.startswith("import:")}
    run = db.session.scalar(select(ImportRun))
    assert set(added) == {"+8613812345678", "+8613912345678"}
    assert {(e.reason, e.note, e.source, e.added_by_id) for e in added.values()} == {
        ("bad_review", "多次差评", f"import:{run.id}", admin_id),
        ("bad_review", None, f"import:{run.id}", admin_id),
    }
    assert added["+8613912345678"].customer_id == customer_id
    assert (run.preset, run.state, run.created, run.skipped, run.rejected_count) == ("blacklist", "done", 2, 2, 4)
    # Every addition is in the change log, and so is the import.
    assert audit_actions().count("blacklist.added") == 3  # put()'s and the two added
    assert audit_actions()[-1] == "import.finished"

    # The entries link to the report; the report's lines download in full.
    listing = client.get("/blacklist/?source=import").text
    assert f'href="/blacklist/imports/{run.id}">Imported list</a>' in listing
    report = client.get(f"/blacklist/imports/{run.id}/report.csv").data.decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(report)))[:3] == [
        ["Line", "Outcome", "Reason"],
        ["4", "Rejected", "The phone number “abc” is not a valid mobile number."],
        ["5", "Rejected", "The phone number is empty."],
    ]

    # The same file again adds nothing: every number is blacklisted already.
    again = import_list(client, run_jobs, csv_bytes(GBK_LIST), "黑名单.csv")
    assert counts(again) == {"added": 0, "already": 4, "rejected": 4}
    assert len(entries()) == 3


def test_a_list_of_numbers_alone_with_a_bom_is_imported(client, admin, run_jobs):
    content = "\ufeff13812345678\n13912345678\n12345\n".encode()
    page = import_list(client, run_jobs, content, "list.csv", reason="opt_out")
    assert counts(page) == {"added": 2, "already": 0, "rejected": 1}
    assert report_lines(page, "rejected") == {3: "The phone number “12345” is not a valid mobile number."}
    assert {(e.phone, e.reason) for e in entries()} == {("+8613812345678", "opt_out"), ("+8613912345678", "opt_out")}


def xlsx(rows) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_an_xlsx_list_with_numbers_stored_as_numbers(client, admin, run_jobs):
    content = xlsx([["Phone", "Note"], [13812345678, "VIP 投诉"], ["13912345678", None], [12345, "short"]])
    page = import_list(client, run_jobs, content, "numbers.xlsx", reason="complaints")
    assert counts(page) == {"added": 2, "already": 0, "rejected": 1}
    assert report_lines(page, "rejected") == {4: "The phone number “12345” is not a valid mobile number."}
    assert {(e.phone, e.note) for e in entries()} == {("+8613812345678", "VIP 投诉"), ("+8613912345678", None)}
    assert counts(import_list(client, run_jobs, content, "numbers.xlsx")) == {"added": 0, "already": 2, "rejected": 1}


def file_error(page: str) -> str | None:
    return field_error(page, "file")


def bomb() -> bytes:
    """A workbook whose directory claims a sheet larger than the limit once unpacked."""
    content = bytearray(xlsx([["手机号"], ["13812345678"]]))
    name = b"xl/worksheets/sheet1.xml"
    entry = content.index(b"PK\x01\x02")
    while content[entry + 46 : entry + 46 + len(name)] != name:
        entry = content.index(b"PK\x01\x02", entry + 46)
    content[entry + 24 : entry + 28] = (XLSX_MAX_UNPACKED + 1).to_bytes(4, "little")
    return bytes(content)


@pytest.mark.parametrize(
    "content, filename, message",
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "photo.csv", "This file is not a table"),
        (b"", "empty.csv", "The file is empty."),
        (b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "old.xls", "Old Excel files (.xls) cannot be read"),
        (
            b"PK\x03\x04 not really a zip",
            "numbers.xlsx",
            "This file is not an Excel workbook (.xlsx) that can be read.",
        ),
        (bomb(), "bomb.xlsx", "This workbook is too large once unpacked"),
        ("姓名,城市\n张三,杭州\n".encode("gbk"), "people.csv", "No column of phone numbers found"),
    ],
    ids=["binary", "empty", "xls", "not a zip", "zip bomb", "no phone column"],
)
def test_a_file_that_is_no_list_of_numbers_is_refused_by_the_file_field(client, admin, content, filename, message):
    response = upload(client, content, filename)
    assert response.status_code == 422
    assert message in (file_error(response.text) or ""), response.text
    assert db.session.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_a_file_over_the_size_limit_is_refused_by_the_file_field(client, app, monkeypatch, admin):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    response = upload(client, b"1" * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert file_error(response.text) == "The file is larger than the limit of 1 MB."
    assert 'name="reason"' in response.text  # the import form, to choose a smaller file


def test_no_file_chosen(client, admin):
    response = client.post("/blacklist/import", data={"reason": "manual"}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert file_error(response.text) == "Choose the file to import."


def test_the_order_imports_pages_do_not_show_blacklist_imports(client, admin, run_jobs):
    import_list(client, run_jobs, "手机号\n13812345678\n".encode())
    run = db.session.scalar(select(ImportRun))
    assert client.get(f"/imports/{run.id}").status_code == 404
    assert "numbers.csv" not in client.get("/imports/").text
    assert "numbers.csv" in client.get("/blacklist/import").text


# --- export ---------------------------------------------------------------------------------------


def test_the_export_has_the_filtered_entries_with_formula_safe_cells(client, admin, make_customer):
    customer = make_customer(name="孙先生", phone="+8613811112222")
    put("+8613811112222", BlacklistReason.BAD_REVIEW, note="=1+1", customer_id=customer.id)
    put("+8613933334444", BlacklistReason.OPT_OUT, source="follow_up:9")
    gone = put("+8613755556666")
    blacklist.remove(gone, "@误加", admin)
    db.session.commit()

    response = client.get("/blacklist/export.csv?reason=bad_review")
    assert response.headers["Content-Disposition"] == "attachment; filename=blacklist.csv"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == [
        "Mobile phone",
        "Status",
        "Reason",
        "Source",
        "Note",
        "Added",
        "Added by",
        "Removed",
        "Removed by",
        "Why it was removed",
        "Customer",
        "Customer ID",
    ]
    assert len(rows) == 2
    assert rows[1][:5] == ["138 1111 2222", "Blacklisted", "Bad review", "Blacklist page", "'=1+1"]
    assert rows[1][-2:] == ["孙先生", str(customer.id)]

    rows = list(csv.reader(io.StringIO(client.get("/blacklist/export.csv?status=all").data.decode("utf-8-sig"))))
    by_phone = {row[0]: row for row in rows[1:]}
    assert set(by_phone) == {"138 1111 2222", "139 3333 4444", "137 5555 6666"}
    assert by_phone["139 3333 4444"][3] == "Follow-up (do not contact)"
    removed = by_phone["137 5555 6666"]
    assert (removed[1], removed[8], removed[9]) == ("Removed", "Admin Wang", "'@误加")


# --- who may do what --------------------------------------------------------------------------------


def test_sales_may_open_no_blacklist_page(client, login_as):
    entry = put("+8613812345678")
    login_as(Role.SALES)
    for path in (
        "/blacklist/",
        "/blacklist/export.csv",
        f"/blacklist/{entry.id}",
        "/blacklist/new",
        "/blacklist/import",
    ):
        assert client.get(path).status_code == 403, path
    assert client.post("/blacklist/new", data={"phone": "13912345678", "reason": "manual"}).status_code == 403
    assert client.post(f"/blacklist/{entry.id}/remove", data={"removal_reason": "x"}).status_code == 403
    assert 'href="/blacklist/"' not in client.get("/messages/").text  # not among the SMS pages' tabs
    assert [e.removed_at for e in entries()] == [None]


def test_supervisors_read_the_blacklist_and_change_nothing(client, login_as):
    entry = put("+8613812345678", note="原因")
    login_as(Role.SUPERVISOR, locale="en")
    page = client.get("/blacklist/").text
    assert 'href="/blacklist/"' in page  # the SMS pages' tabs have it
    assert "138 1234 5678" in page and "/blacklist/export.csv" in page
    assert "/blacklist/new" not in page and "/blacklist/import" not in page
    entry_page = client.get(f"/blacklist/{entry.id}").text
    assert "原因" in entry_page and "Remove from the blacklist" not in entry_page
    assert client.get("/blacklist/export.csv").status_code == 200
    assert client.get("/blacklist/new").status_code == 403
    assert client.post("/blacklist/new", data={"phone": "13912345678", "reason": "manual"}).status_code == 403
    assert client.post(f"/blacklist/{entry.id}/remove", data={"removal_reason": "x"}).status_code == 403
    response = upload(client, "手机号\n13912345678\n".encode())
    assert response.status_code == 403
    assert len(entries()) == 1 and entries()[0].removed_at is None
    assert db.session.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_admins_see_the_controls_and_the_navigation_link(client, admin):
    entry = put("+8613812345678")
    page = client.get("/blacklist/").text
    assert 'href="/blacklist/"' in page and 'href="/blacklist/new"' in page and 'href="/blacklist/import"' in page
    assert "Remove from the blacklist" in client.get(f"/blacklist/{entry.id}").text


def test_an_entry_that_does_not_exist_is_404(client, admin):
    assert client.get("/blacklist/999999").status_code == 404
    assert client.post("/blacklist/999999/remove", data={"removal_reason": "x"}).status_code == 404
    assert client.get("/blacklist/imports/999999").status_code == 404
