"""Every route, fed hostile values in every parameter the app reads, answers below 500.

The walk covers each rule of the URL map and each of its methods, as an admin and as a sales
user: out-of-range ids in the path, then each hostile value in every parameter name at once,
then in each parameter the route actually read, one at a time. Which names a route reads is
recorded while it runs (a MultiDict that notes every name asked for), so a form field or a
query parameter is found even when only one route reads it. The names sent are the fields of
every WTForms form, every field of the import presets, and QUERY_NAMES; a grep of the source
checks that QUERY_NAMES covers every name read straight from request.args or request.form.
CSRF is off in the tests (conftest.py), so every form is parsed.
"""

import csv
import io
import re
from pathlib import Path

import pytest
from flask_wtf import FlaskForm
from werkzeug.datastructures import ImmutableMultiDict
from wtforms.fields.core import UnboundField

from app.blacklist import services as blacklist
from app.extensions import db
from app.followups import services as followups
from app.imports.presets import PRESETS
from app.models import (
    BlacklistEntry,
    BlacklistReason,
    Campaign,
    ImportRun,
    ImportState,
    Message,
    MessageKind,
    MessageStatus,
    Role,
    SmsTemplate,
    utcnow,
)

APP = Path(__file__).resolve().parent.parent / "app"

# Names read from request.args / request.form outside WTForms (the grep below keeps it whole).
QUERY_NAMES = {
    "page",
    "owner",
    "after",
    "before",
    "section",
    "id",
    "which",
    "next",
    "locale",
    "active",
    "confirm_duplicate",
    "other",
    "q",
    # The Twilio webhooks' form (signed by Twilio) and our id in its status callback's URL.
    "MessageSid",
    "MessageStatus",
    "ErrorCode",
    "From",
    "Body",
    "message",
    "archived",
}

HOSTILE = [
    "99999999999999999999",
    str(2**63),
    "-1",
    "0",
    "abc",
    "",
    "0001-01-01",
    "9999-12-31",
    "2024-02-30",
    "1.5",
    "²",  # a digit to str.isdigit(), not to int()
    "\u202e",
]
LONG = "长x " * 1666  # 5,000 characters, 1,666 search terms: sent to one name at a time
NUL = "\x00"  # refused before any view reads it (app/__init__.py): sent to all names at once
PATH_IDS = [0, 2**31, 2**63, 2**64 + 1]
WEBHOOK_SECRET = "hostile-walk-secret"
# Names that mean something to url_for, were a template to pass the query string to it.
HOSTILE_NAMES = ["endpoint", "_external", "_scheme", "_anchor", "_method", "fmt"]
# Valid values sent along, that take a route past its first test to the parameters read after
# it: "Show more" of a queue section reads `after`, a chosen owner lets the ticked `ids` be used.
COMPANIONS = {
    "followups.queue": {"section": "overdue"},
    "followups.counters": {"section": "overdue"},
    "followup_audit.tasks": {"which": "due"},
    "assignment.assign": {"owner": "none"},
    # A question the settings page answers: a hostile time or kind is asked about with a valid other.
    "settings.sending": {"kind": "marketing", "at": "2024-06-03T19:00"},
}


def _form_field_names() -> set[str]:
    def forms(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from forms(sub)

    names = set()
    for form in forms(FlaskForm):
        for klass in form.__mro__:
            for attribute, value in vars(klass).items():
                if isinstance(value, UnboundField):
                    names.add(value.name or attribute)
    return names


def _mapping_field_names() -> set[str]:
    return {field.key for preset in PRESETS.values() for field in preset.fields}


_READS = [
    re.compile(r'request\.(?:args|form|values)\.(?:get|getlist)\(\s*"([\w-]+)"'),
    re.compile(r'request\.(?:args|form|values)\[\s*"([\w-]+)"'),
    re.compile(r'"([\w-]+)"\s+(?:not\s+)?in\s+request\.(?:args|form|values)'),
    re.compile(r'\w+\(\s*request\.(?:args|form|values)\s*,\s*"([\w-]+)"'),  # a helper of app.params
]


def _names_read_in_source() -> set[str]:
    source = "\n".join(path.read_text() for path in APP.rglob("*.py"))
    return {name for pattern in _READS for name in pattern.findall(source)}


def test_the_walk_sends_every_parameter_the_source_reads(app):
    read = _names_read_in_source()
    assert {"owner", "after", "next"} <= read  # the grep finds them
    assert read <= QUERY_NAMES, f"add these to QUERY_NAMES: {sorted(read - QUERY_NAMES)}"
    assert {"birthday", "last_order_from", "from", "ids", "note", "order_no"} <= (
        _form_field_names() | _mapping_field_names()
    )


def test_numbers_are_not_read_with_type_int():
    """type=int reads 2**63 as a number the database cannot hold: app.params reads them."""
    offenders = [str(p.relative_to(APP)) for p in APP.rglob("*.py") if "type=int" in p.read_text()]
    assert not offenders


# --- the walk -----------------------------------------------------------------------------------

_asked: set[str] = set()


class RecordingMultiDict(ImmutableMultiDict):
    """request.args and request.form that note every name the app asks for.

    `in`, get() and getlist() are how views and WTForms ask; [] is left out, as `**request.args`
    in a template asks for every name sent.
    """

    _quiet = False

    def __contains__(self, key):
        if not self._quiet:
            _asked.add(key)
        return super().__contains__(key)

    def __getitem__(self, key):
        self._quiet = True  # MultiDict's [] asks `in`
        try:
            return super().__getitem__(key)
        finally:
            self._quiet = False

    def get(self, key, default=None, type=None):
        _asked.add(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):
        _asked.add(key)
        return super().getlist(key, type)


def _taobao_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["订单编号", "买家会员名", "买家实际支付金额", "订单状态", "订单创建时间", "联系手机"])
    writer.writerow(["T1", "小猫", "10.00", "交易成功", "2024-03-01 10:00:00", "13812345678"])
    writer.writerow(["T2", "小狗", "99999999999999999999", "交易成功", "0001-01-01 00:00:00", "abc"])
    writer.writerow(["T3", "小鸟", "1e999999", "交易成功", "9999-12-31 23:59:59", ""])
    return out.getvalue().encode("utf-8")


@pytest.fixture
def records(make_user, make_customer, make_order):
    """Something behind every id in a path, so the routes get past their 404s."""
    admin = make_user(Role.ADMIN, locale="en")
    sales = make_user(Role.SALES, locale="en")
    other = make_user(Role.SALES)
    customer = make_customer(owner=sales, platform="taobao", nickname="小猫")
    make_order(customer)
    task = followups.start(customer)
    mapping = {"order_no": 0, "nickname": 1, "amount": 2, "status": 3, "created_at": 4, "phone": 5}
    runs = {
        state: ImportRun(
            filename="orders.csv",
            content=_taobao_csv(),
            preset="taobao",
            mapping=mapping,
            started_by_id=admin.id,
            state=state,
        )
        for state in (ImportState.MAPPING, ImportState.DONE)
    }
    discarded = ImportRun(
        filename="x.csv", content=_taobao_csv(), preset="taobao", started_by_id=admin.id, state=ImportState.MAPPING
    )
    # A message whose outcome is unknown, for an admin to settle.
    message = Message(
        dedupe_key="hostile:1",
        customer_id=customer.id,
        kind=MessageKind.SERVICE,
        phone=customer.phone,
        body="【小店】您好",
        provider="log",
        status=MessageStatus.UNKNOWN,
        due_at=utcnow(),
    )
    template = SmsTemplate(
        name="活动通知",
        kind="marketing",
        body="{name}您好，{coupon}于{expires}到期 {link}",
        defaults={"coupon": "满100减10", "expires": "12月31日", "link": "https://x.cn/a"},
        provider_codes={"aliyun": {"code": "SMS_1", "variables": {"user": "name"}}},
    )
    blacklisted = blacklist.add("+8613812345678", BlacklistReason.MANUAL, source="form", actor=admin)
    removed = blacklist.add("+8613812345679", BlacklistReason.BAD_REVIEW, source="form", actor=admin)
    numbers = ImportRun(
        filename="numbers.csv",
        content="手机号,备注\n13812345670,x\nabc,y\n".encode("gbk"),
        preset=blacklist.IMPORT_PRESET,
        mapping={"phone": 0, "note": 1, "headerless": False, "reason": "manual"},
        started_by_id=admin.id,
        state=ImportState.DONE,
        rejected=[{"line": 3, "reason": "x", "code": "bad_phone", "params": {"value": "abc"}}],
        notes=[{"line": 4, "reason": "x", "code": "already", "params": {"phone": "+8613812345678"}}],
    )
    db.session.add_all([*runs.values(), discarded, numbers, template, message])
    db.session.flush()
    blacklist.remove(removed, "不再投诉", admin)
    campaign = Campaign(name="春季上新", template_id=template.id, audience={"layer": "key"}, created_by_id=admin.id)
    db.session.add(campaign)
    db.session.commit()
    return {
        "users": {Role.ADMIN: admin, Role.SALES: sales},
        "customer_id": customer.id,
        "task_id": task.id,
        "user_id": other.id,
        "run_id": runs[ImportState.DONE].id,
        "mapping_run_id": runs[ImportState.MAPPING].id,
        "discarded_run_id": discarded.id,
        "message_id": message.id,
        # The log provider's webhooks, with their secret: the walk gets past the secret to the body.
        "provider_name": "log",
        "secret": WEBHOOK_SECRET,
        "template_id": template.id,
        "campaign_id": campaign.id,
        "blacklist_run_id": numbers.id,
        "entry_id": blacklisted.id,
    }


def _path_values(rule, records) -> dict:
    values = {}
    for name, converter in rule._converters.items():
        if hasattr(converter, "items"):  # any(...): its first choice
            values[name] = sorted(converter.items)[0]
        elif name == "run_id" and rule.endpoint == "imports.mapping":
            values[name] = records["mapping_run_id"]
        elif name == "run_id" and rule.endpoint == "imports.discard":
            values[name] = records["discarded_run_id"]
        elif name == "run_id" and rule.endpoint.startswith("blacklist."):
            values[name] = records["blacklist_run_id"]
        else:
            values[name] = records[name]
    return values


def _walk_order(rule) -> bool:
    return rule.endpoint == "accounts.logout"  # signing out last: the walk needs the session


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SALES, None], ids=["admin", "sales", "anonymous"])
def test_no_route_answers_5xx_to_hostile_values(app, client, login, records, monkeypatch, role):
    monkeypatch.setattr(app.request_class, "parameter_storage_class", RecordingMultiDict)
    monkeypatch.setitem(app.config, "SMS_LOG_WEBHOOK_SECRET", WEBHOOK_SECRET)
    if role is not None:
        login(records["users"][role])
    names = sorted(QUERY_NAMES | _form_field_names() | _mapping_field_names() | set(HOSTILE_NAMES))
    failures = []

    def send(endpoint, url, method, params, headers=None):
        if endpoint == "imports.mapping":  # a valid mapping starts the import: back to mapping
            db.session.execute(
                ImportRun.__table__.update()
                .where(ImportRun.id == records["mapping_run_id"])
                .values(state=ImportState.MAPPING)
            )
            db.session.commit()
        if endpoint == "blacklist.remove":  # a reason given removes the entry: back on the list
            db.session.execute(
                BlacklistEntry.__table__.update()
                .where(BlacklistEntry.id == records["entry_id"])
                .values(removed_at=None, removed_by_id=None, removal_reason=None)
            )
            db.session.commit()
        _asked.clear()
        body = params if method == "POST" else None
        try:
            response = client.open(url, method=method, query_string=params, data=body, headers=headers)
        except Exception as error:  # the test client re-raises what the app did not handle
            failures.append((method, url, _short(params), repr(error)[:300]))
            return
        if response.status_code >= 500:
            failures.append((method, url, _short(params), response.status_code))

    for rule in sorted(app.url_map.iter_rules(), key=_walk_order):
        endpoint = rule.endpoint
        if endpoint == "static" or (role is None and endpoint not in ("accounts.login", "main.ping")):
            continue
        adapter = app.url_map.bind("localhost")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            url = adapter.build(endpoint, _path_values(rule, records), method=method)
            for number in (
                PATH_IDS
                if rule.arguments
                & {
                    "customer_id",
                    "task_id",
                    "user_id",
                    "run_id",
                    "template_id",
                    "entry_id",
                    "campaign_id",
                    "message_id",
                }
                else []
            ):
                path = {**_path_values(rule, records)}
                path.update({name: number for name in path if name.endswith("_id")})
                tampered = adapter.build(endpoint, path, method=method)
                response = client.open(tampered, method=method)
                # 0 fits the converter: the role check (403) or the record's lookup (404) answers.
                if response.status_code not in ((404,) if number else (403, 404)):
                    failures.append((method, tampered, "", response.status_code))
            read = set()
            for value in [*HOSTILE, NUL]:
                for headers in (None, {"HX-Request": "true"}) if method == "GET" else (None,):
                    send(endpoint, url, method, dict.fromkeys(names, value), headers)
                    read |= _asked
            for name in sorted(read):
                companions = {n: v for n, v in COMPANIONS.get(endpoint, {}).items() if n != name}
                for value in [*HOSTILE, LONG]:
                    send(endpoint, url, method, {**companions, name: value})

    assert not failures, "\n".join(map(str, failures))


def _short(params: dict) -> str:
    shown = {name: value if len(value) < 30 else f"{value[:10]}…({len(value)})" for name, value in params.items()}
    return str(shown) if len(shown) < 4 else f"every name = {next(iter(shown.values()))!r}"
