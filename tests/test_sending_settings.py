"""The sending settings (SPEC §7): the shop's send windows and frequency cap, the page that
edits them beside what each kind of message gets, and `flask sms when`."""

import re
from datetime import datetime, time
from html import unescape

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditAction, AuditEntry, MessageKind, Role, SendingSettings
from app.sending import settings
from app.sending.windows import DEFAULT_WINDOWS, MIDNIGHT

ALIYUN = ((time(20, 0), time(8, 0)),)
DEFAULT_DAY = "09:30-12:00, 14:00-18:00, 20:00-22:00"
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def posted(**changes) -> dict:
    """The settings form as the page shows the defaults, with `changes`."""
    return {**dict.fromkeys(DAYS, DEFAULT_DAY), "marketing_cap": "2", "cap_days": "7", **changes}


def error_of(page: str, field: str) -> str:
    """The error shown under `field`, or "" when it has none."""
    found = re.search(rf'<small class="field-error" id="{field}-error">(.*?)</small>', page, re.S)
    return unescape(found.group(1)) if found else ""


def value_of(page: str, field: str) -> str:
    """The value the form shows in `field`."""
    tag = re.search(rf'<input [^>]*name="{field}"[^>]*>', page).group(0)
    return unescape(re.search(r'value="([^"]*)"', tag).group(1))


def row_of(page: str, weekday: str) -> dict[str, str]:
    """The effective windows' row of `weekday`: {column: text}."""
    row = re.search(rf'<td data-label="Day">{weekday}</td>(.*?)</tr>', page, re.S).group(1)
    return {
        label: " ".join(unescape(re.sub("<[^>]+>", "", cell)).split())
        for label, cell in re.findall(r'<td data-label="(\w+)">(.*?)</td>', row, re.S)
    }


def audit_entries() -> list[AuditEntry]:
    return db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == AuditAction.SEND_WINDOWS_SAVED).order_by(AuditEntry.id)
    ).all()


# --- the service --------------------------------------------------------------------------------


def test_until_saved_the_defaults_apply_and_reading_writes_nothing(app):
    loaded = settings.load()
    assert loaded.windows == DEFAULT_WINDOWS
    assert (loaded.marketing_cap, loaded.cap_days) == (2, 7)
    assert db.session.get(SendingSettings, 1) is None
    assert settings.windows_for(MessageKind.SERVICE, ALIYUN) == DEFAULT_WINDOWS
    assert settings.windows_for(MessageKind.MARKETING, ALIYUN)[0] == ((time(9, 30), time(12)), (time(14), time(18)))
    with pytest.raises(ValueError):
        settings.windows_for("promotion", ALIYUN)


def test_saving_keeps_row_1_and_logs_what_changed(make_user):
    admin = make_user(Role.ADMIN)
    week = {**DEFAULT_WINDOWS, 6: (), 5: ((time(10), MIDNIGHT),)}
    settings.save(week, 3, 14, admin)
    db.session.commit()
    saved = settings.load()
    assert saved.windows == week and (saved.marketing_cap, saved.cap_days) == (3, 14)
    row = db.session.get(SendingSettings, 1)
    assert row.updated_by_id == admin.id and row.windows["6"] == [] and row.windows["5"] == [["10:00", "24:00"]]
    [entry] = audit_entries()
    assert entry.actor_id == admin.id
    assert entry.before == {
        "windows": settings._stored(settings.DEFAULTS)["windows"],
        "marketing_cap": 2,
        "cap_days": 7,
    }
    assert entry.after["marketing_cap"] == 3 and entry.after["windows"]["5"] == [["10:00", "24:00"]]

    settings.save(week, 3, 30, admin)  # only the period changes: only it is logged
    settings.save(week, 3, 30, admin)  # nothing changes: nothing is logged
    db.session.commit()
    assert db.session.scalar(select(db.func.count()).select_from(SendingSettings)) == 1
    assert [(e.before, e.after) for e in audit_entries()][1:] == [({"cap_days": 14}, {"cap_days": 30})]


# --- the page -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.SALES, Role.SUPERVISOR])
def test_only_admins_open_the_settings(client, login_as, role):
    login_as(role)
    assert client.get("/settings/sending/").status_code == 403
    assert client.post("/settings/sending/", data=posted()).status_code == 403
    assert db.session.get(SendingSettings, 1) is None
    assert 'href="/settings/sending/"' not in client.get("/customers/").text


def test_the_admin_sees_the_windows_each_kind_gets_and_where_the_curfew_cuts(client, login_as):
    login_as(Role.ADMIN)
    assert 'href="/settings/sending/"' in client.get("/messages/").text  # a tab of the SMS pages
    page = client.get("/settings/sending/").text
    assert value_of(page, "monday") == DEFAULT_DAY and value_of(page, "marketing_cap") == "2"
    page = unescape(page)
    assert "forbids marketing SMS during 20:00–08:00" in page
    assert "The provider's curfew cuts the shop's windows for marketing messages" in page
    assert row_of(page, "Monday") == {
        "Service": DEFAULT_DAY,
        "Marketing": "09:30-12:00, 14:00-18:00 ⚠ 20:00-22:00 lies in the provider's curfew.",
    }
    assert "Marketing messages per customer: at most 2 in any 7-day period." in page


def test_a_window_partly_in_the_curfew_is_shown_cut(client, login_as, app, monkeypatch):
    login_as(Role.ADMIN)
    client.post("/settings/sending/", data=posted(monday="19:00-21:30", sunday=""))
    monkeypatch.setitem(app.config, "SMS_PROVIDER", "twilio")  # 21:00–08:00
    page = unescape(client.get("/settings/sending/").text)
    assert "forbids marketing SMS during 21:00–08:00" in page
    assert row_of(page, "Monday") == {
        "Service": "19:00-21:30",
        "Marketing": "19:00-21:00 ⚠ 19:00-21:30 is cut to 19:00-21:00 by the provider's curfew.",
    }
    assert row_of(page, "Sunday") == {"Service": "no SMS", "Marketing": "no SMS"}
    assert row_of(page, "Tuesday")["Marketing"].startswith("09:30-12:00, 14:00-18:00, 20:00-21:00 ⚠")


def test_saving_the_windows_and_the_cap(client, login_as):
    admin = login_as(Role.ADMIN)
    response = client.post(
        "/settings/sending/",
        data=posted(saturday="10:00-12:00,20:00-24:00", sunday="", marketing_cap="3", cap_days="10"),
    )
    assert response.status_code == 302 and response.headers["Location"] == "/settings/sending/"
    page = client.get("/settings/sending/").text
    assert "Sending settings saved." in page
    assert value_of(page, "saturday") == "10:00-12:00, 20:00-24:00" and value_of(page, "sunday") == ""
    saved = settings.load()
    assert saved.windows[5] == ((time(10), time(12)), (time(20), MIDNIGHT)) and saved.windows[6] == ()
    assert (saved.marketing_cap, saved.cap_days) == (3, 10)
    [entry] = audit_entries()
    assert entry.actor_id == admin.id and entry.after["cap_days"] == 10


@pytest.mark.parametrize(
    "changes, field, says",
    [
        ({"monday": "25:00-26:00"}, "monday", "25:00 is not a time of day."),
        ({"tuesday": "09:00-12:00, 11:00-13:00"}, "tuesday", "09:00-12:00 and 11:00-13:00 overlap."),
        ({"wednesday": "12:00-09:30"}, "wednesday", "12:00-09:30: a window must end after it opens"),
        ({"sunday": "mornings"}, "sunday", "Could not read “mornings”"),
        ({"friday": "9" * 201}, "friday", "Type at most 200 characters."),
        ({"marketing_cap": "0"}, "marketing_cap", "Type a whole number from 1 to 100."),
        ({"marketing_cap": "1.5"}, "marketing_cap", "Type a whole number from 1 to 100."),
        ({"cap_days": "99999999999999999999"}, "cap_days", "Type a whole number from 1 to 365."),
        ({"cap_days": ""}, "cap_days", "Type a whole number from 1 to 365."),
    ],
)
def test_bad_input_is_refused_by_its_field_and_nothing_is_saved(client, login_as, changes, field, says):
    login_as(Role.ADMIN)
    response = client.post("/settings/sending/", data=posted(**changes))
    assert response.status_code == 422
    assert says in error_of(response.text, field)
    others = [name for name in (*DAYS, "marketing_cap", "cap_days") if name != field]
    assert not any(error_of(response.text, name) for name in others)
    assert f'name="{field}"' in response.text and "aria-invalid" in response.text
    assert db.session.get(SendingSettings, 1) is None and not audit_entries()


def test_a_week_without_any_window_is_refused(client, login_as):
    login_as(Role.ADMIN)
    response = client.post("/settings/sending/", data=posted(**dict.fromkeys(DAYS, "")))
    assert response.status_code == 422
    assert "Open at least one window in the week" in response.text
    assert db.session.get(SendingSettings, 1) is None


def ask(client, kind: str, at: str) -> str:
    response = client.get("/settings/sending/", query_string={"kind": kind, "at": at}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text and response.text.lstrip().startswith('<article id="when">')
    return unescape(response.text)


def test_the_page_says_when_a_message_queued_at_a_time_leaves(client, login_as):
    login_as(Role.ADMIN)
    said = ask(client, "marketing", "2024-06-03T19:00")  # a Monday
    assert "A marketing message queued at Monday 2024-06-03 19:00 leaves at Tuesday 2024-06-04 09:30." in said
    said = ask(client, "service", "2024-06-03T19:00")
    assert "A service message queued at Monday 2024-06-03 19:00 leaves at Monday 2024-06-03 20:00." in said
    said = ask(client, "marketing", "2024-06-03T17:59:59")
    assert "A marketing message queued at Monday 2024-06-03 17:59:59 leaves at once" in said
    # The saved windows are the ones asked about: Sunday closed, a message waits for Monday.
    client.post("/settings/sending/", data=posted(sunday=""))
    said = ask(client, "service", "2024-06-08T22:00")
    assert "leaves at Monday 2024-06-10 09:30." in said
    # Without JavaScript, the whole page answers.
    page = client.get("/settings/sending/?kind=service&at=2024-06-08T22:00").text
    assert "<html" in page and "leaves at Monday 2024-06-10 09:30." in page


def test_marketing_that_can_never_leave_is_said_so(client, login_as):
    login_as(Role.ADMIN)
    client.post("/settings/sending/", data=posted(**dict.fromkeys(DAYS, "20:30-21:30")))
    said = ask(client, "marketing", "2024-06-03T10:00")
    assert "A marketing message never leaves: the provider's curfew takes every window." in said


@pytest.mark.parametrize(
    "at, says",
    [
        ("0001-01-01T00:00", "Choose a time from 1900-01-01 to 2100-12-31."),
        ("9999-12-31T23:59", "Choose a time from 1900-01-01 to 2100-12-31."),
        ("2024-02-30T10:00", "Choose a day and a time, e.g. 2025-06-03 19:00."),
        ("soon", "Choose a day and a time, e.g. 2025-06-03 19:00."),
        ("", "Choose a day and a time, e.g. 2025-06-03 19:00."),
    ],
)
def test_a_bad_time_is_refused_by_its_field(client, login_as, at, says):
    login_as(Role.ADMIN)
    said = ask(client, "marketing", at)
    assert error_of(said, "at") == says
    assert value_of(said, "at") == at  # as typed, to be corrected
    assert "leaves" not in said


def test_the_page_asks_nothing_until_a_time_is_given(client, login_as):
    login_as(Role.ADMIN)
    page = client.get("/settings/sending/").text
    assert 'class="answer"' not in page and not error_of(page, "at")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d", value_of(page, "at"))  # now, to ask about at once


# --- flask sms when -----------------------------------------------------------------------------


def when(app, *args) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["sms", "when", *args])
    return result.exit_code, result.output.strip()


def test_the_command_says_when_a_message_leaves_in_shop_time(app, make_user):
    assert when(app, "--kind", "marketing", "--at", "2024-06-03T19:00") == (0, "2024-06-04T09:30:00+08:00")
    assert when(app, "--kind", "service", "--at", "2024-06-03T19:00") == (0, "2024-06-03T20:00:00+08:00")
    assert when(app, "--kind", "service", "--at", "2024-06-03T11:59:59") == (0, "2024-06-03T11:59:59+08:00")
    # A time with an offset is that instant: 11:00 UTC is 19:00 in Shanghai.
    assert when(app, "--kind", "marketing", "--at", "2024-06-03T11:00+00:00") == (0, "2024-06-04T09:30:00+08:00")
    # Another provider's curfew: Twilio's starts at 21:00.
    assert when(app, "--kind", "marketing", "--provider", "twilio", "--at", "2024-06-03T20:30") == (
        0,
        "2024-06-03T20:30:00+08:00",
    )
    # The windows saved in settings.
    settings.save({**DEFAULT_WINDOWS, 6: ()}, 2, 7, make_user(Role.ADMIN))
    db.session.commit()
    assert when(app, "--kind", "service", "--at", "2024-06-08T22:00") == (0, "2024-06-10T09:30:00+08:00")


@pytest.mark.parametrize(
    "args, says",
    [
        (["--kind", "marketing", "--at", "tomorrow"], "an ISO-8601 time"),
        (["--kind", "marketing", "--at", "0001-01-01T00:00+08:00"], "a time from 1900-01-01 to 2100-12-31"),
        (["--kind", "marketing", "--at", "9999-12-31T23:59"], "a time from 1900-01-01 to 2100-12-31"),
        (["--kind", "marketing", "--provider", "nope", "--at", "2024-06-03T19:00"], "one of log, aliyun, twilio"),
        (["--kind", "promotion", "--at", "2024-06-03T19:00"], "'promotion' is not one of"),
    ],
)
def test_the_command_refuses_what_it_cannot_read(app, args, says):
    code, output = when(app, *args)
    assert code == 2 and says in output
    assert "Traceback" not in output


def test_the_command_says_when_a_message_never_leaves(app, make_user):
    settings.save(dict.fromkeys(range(7), ((time(20, 30), time(21, 30)),)), 2, 7, make_user(Role.ADMIN))
    db.session.commit()
    assert when(app, "--kind", "marketing", "--at", "2024-06-03T19:00") == (
        1,
        "Error: a marketing message never leaves: no window is open in the week",
    )
    assert when(app, "--kind", "service", "--at", "2024-06-03T19:00")[1] == "2024-06-03T20:30:00+08:00"
    assert datetime.fromisoformat(when(app, "--kind", "service", "--at", "2024-06-03T21:00")[1]).tzinfo
