"""Campaigns (SPEC §7): the draft's audience and exclusions, one confirmation however many
clicks, progress, pause/resume/cancel, and a campaign sent to the end by a real worker."""

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.campaigns import services
from app.extensions import db
from app.models import (
    AuditAction,
    AuditEntry,
    BlacklistEntry,
    BlacklistReason,
    Campaign,
    CampaignStatus,
    Message,
    MessageKind,
    MessageStatus,
    Role,
    SendingSettings,
    SkipReason,
    SmsTemplate,
    User,
    utcnow,
)
from app.sending import inbound
from app.shop_calendar import to_shop_time

ALL_DAY = {str(day): [["00:00", "24:00"]] for day in range(7)}


@pytest.fixture
def open_all_day():
    """Send windows open at every hour, so messages are due as soon as they are planned."""
    db.session.add(SendingSettings(id=1, windows=ALL_DAY, marketing_cap=2, cap_days=7))
    db.session.commit()


@pytest.fixture
def make_template(make_user):
    def make(kind=MessageKind.MARKETING, body="{name}您好，新品上市，全场8折。", **values) -> SmsTemplate:
        author = make_user(Role.ADMIN)
        template = SmsTemplate(
            name=values.pop("name", f"模板{author.id}"), kind=kind, body=body, created_by_id=author.id, **values
        )
        db.session.add(template)
        db.session.commit()
        return template

    return make


def _campaign(template: SmsTemplate, creator: User, audience=None, **values) -> Campaign:
    campaign = Campaign(
        name=values.pop("name", "春季上新"),
        template_id=template.id,
        audience=audience or {},
        created_by_id=creator.id,
        **values,
    )
    db.session.add(campaign)
    db.session.commit()
    return campaign


def _sent_marketing(customer, days_ago: float, n: int) -> None:
    """`n` marketing messages the customer got `days_ago` (another campaign's)."""
    at = utcnow() - timedelta(days=days_ago)
    for i in range(n):
        db.session.add(
            Message(
                dedupe_key=f"earlier:{customer.id}:{i}:{days_ago}",
                customer_id=customer.id,
                kind=MessageKind.MARKETING,
                phone=customer.phone,
                body="【示例小店】上次的活动",
                provider="log",
                status=MessageStatus.SENT,
                due_at=at,
                sent_at=at,
            )
        )
    db.session.commit()


def _messages(campaign_id: int) -> list[Message]:
    db.session.expire_all()
    return list(db.session.scalars(select(Message).where(Message.campaign_id == campaign_id).order_by(Message.id)))


def _cell(page: str, cell_id: str) -> int:
    return int(re.search(rf'id="{cell_id}">(?:<strong>)?(\d+)', page).group(1))


@pytest.fixture
def audience(make_customer):
    """Key customers: two who get it and one for each exclusion; one of another layer."""
    c = {
        "ok1": make_customer(name="甲", nickname="阿甲", layer="key"),
        "ok2": make_customer(name="乙", nickname="阿乙", layer="key"),
        "blacklisted": make_customer(name="丙", nickname="阿丙", layer="key"),
        "flagged": make_customer(name="丁", nickname="阿丁", layer="key", flag_picky=True),
        "no_phone": make_customer(name="戊", nickname="阿戊", layer="key", phone=None),
        "capped": make_customer(name="己", nickname="阿己", layer="key"),
        "missing": make_customer(name="庚", nickname=None, layer="key"),
        "other_layer": make_customer(name="辛", nickname="阿辛", layer="new"),
    }
    db.session.add(BlacklistEntry(phone=c["blacklisted"].phone, reason=BlacklistReason.OPT_OUT, source="reply"))
    db.session.commit()
    _sent_marketing(c["capped"], days_ago=1, n=2)
    _sent_marketing(c["ok1"], days_ago=30, n=3)  # long ago: not counted
    return c


NICKNAME_BODY = "{nickname}，新品上市，全场8折。"


# --- the draft -----------------------------------------------------------------------------


def test_a_draft_shows_the_audience_and_every_exclusion(client, login_as, make_template, audience):
    login_as(Role.SUPERVISOR)
    template = make_template(body=NICKNAME_BODY)
    response = client.post(
        "/campaigns/new", data={"name": "春季上新", "template_id": template.id, "when": "now", "layer": "key"}
    )
    assert response.status_code == 302
    campaign = db.session.scalar(select(Campaign))
    assert campaign.status == CampaignStatus.DRAFT
    assert campaign.audience == {"layer": "key"}  # the registry's query arguments
    assert _messages(campaign.id) == []  # nothing planned yet

    page = client.get(response.headers["Location"]).text
    assert _cell(page, "count-audience") == 7
    assert _cell(page, "excluded-blacklisted") == 1
    assert _cell(page, "excluded-flagged") == 1
    assert _cell(page, "excluded-no_phone") == 1
    assert _cell(page, "excluded-frequency_cap") == 1
    assert _cell(page, "excluded-missing_value") == 1
    assert _cell(page, "count-to-send") == 2
    # The final text for a customer who gets it: signature, body, opt-out text; and its parts.
    assert "【示例小店】阿甲，新品上市，全场8折。拒收请回复R" in page
    assert "1 part" in page
    assert "They leave at" in page


def test_service_messages_leave_out_only_blacklisted_and_phoneless(app, make_user, make_template, audience):
    supervisor = make_user(Role.SUPERVISOR)
    campaign = _campaign(make_template(kind=MessageKind.SERVICE, body=NICKNAME_BODY), supervisor, {"layer": "key"})
    preview = services.preview(campaign, supervisor)
    assert dict(preview.excluded) == {
        SkipReason.NO_PHONE: 1,
        SkipReason.BLACKLISTED: 1,
        SkipReason.FLAGGED: 0,  # flagged customers still get service messages
        SkipReason.FREQUENCY_CAP: 0,  # the cap counts marketing only
        SkipReason.MISSING_VALUE: 1,
    }
    assert (preview.audience, preview.to_send) == (7, 4)


def test_the_audience_is_the_registry_list_with_the_same_filters(client, login_as, make_template, audience):
    login_as(Role.SUPERVISOR)
    make_template()
    registry = client.get("/customers/?q=阿乙").text
    assert "1 customer" in registry
    response = client.get("/campaigns/new?q=阿乙", headers={"HX-Request": "true"})
    assert "1 customer" in response.text and "/customers/?q=" in response.text
    assert (
        "3 customers" not in client.get("/campaigns/new?layer=key&province=浙江", headers={"HX-Request": "true"}).text
    )


def test_a_placeholder_of_the_latest_order_is_read_for_the_whole_audience(
    make_user, make_template, make_customer, make_order
):
    supervisor = make_user(Role.SUPERVISOR)
    buyer = make_customer(name="买家", layer="key")
    make_order(buyer, days_ago=20, order_no="T-OLD")
    make_order(buyer, days_ago=2, order_no="T-NEW")
    make_customer(name="没下单", layer="key")
    template = make_template(kind=MessageKind.SERVICE, body="您的订单{order_no}已发货。")
    preview = services.preview(_campaign(template, supervisor, {"layer": "key"}), supervisor)
    assert preview.sample.text == "【示例小店】您的订单T-NEW已发货。"
    assert dict(preview.excluded)[SkipReason.MISSING_VALUE] == 1


def test_a_template_not_approved_for_the_provider_cannot_be_confirmed(
    app, client, login_as, make_template, audience, monkeypatch
):
    user = login_as(Role.SUPERVISOR)
    monkeypatch.setitem(app.config, "SMS_PROVIDER", "aliyun")
    monkeypatch.setitem(app.config, "ALIYUN_ACCESS_KEY_ID", "id")
    monkeypatch.setitem(app.config, "ALIYUN_ACCESS_KEY_SECRET", "secret")
    monkeypatch.setitem(app.config, "ALIYUN_SIGN_NAME", "示例小店")
    campaign = _campaign(make_template(body=NICKNAME_BODY), user, {"layer": "key"})
    page = client.get(f"/campaigns/{campaign.id}").text
    assert "no approved template code" in page
    assert _cell(page, "count-to-send") == 2  # who would get it is still shown
    response = client.post(f"/campaigns/{campaign.id}/confirm")
    assert response.status_code == 422
    assert "Not confirmed." in response.text and "no approved template code" in response.text
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.DRAFT
    assert _messages(campaign.id) == []


def test_an_approved_template_carries_each_customers_own_variables(
    app, client, login_as, make_template, make_customer, monkeypatch
):
    user = login_as(Role.SUPERVISOR)
    monkeypatch.setitem(app.config, "SMS_PROVIDER", "aliyun")
    monkeypatch.setitem(app.config, "ALIYUN_ACCESS_KEY_ID", "id")
    monkeypatch.setitem(app.config, "ALIYUN_ACCESS_KEY_SECRET", "secret")
    monkeypatch.setitem(app.config, "ALIYUN_SIGN_NAME", "示例小店")
    first, second = make_customer(name="甲", layer="key"), make_customer(name="乙", layer="key")
    # The body shows no name, but the approved template's variable is the customer's name.
    template = make_template(
        body="您好，新品上市。", provider_codes={"aliyun": {"code": "SMS_1", "variables": {"user": "name"}}}
    )
    campaign = _campaign(template, user, {"layer": "key"})
    assert client.post(f"/campaigns/{campaign.id}/confirm").status_code == 302
    params = {m.customer_id: m.params for m in _messages(campaign.id)}
    assert params == {
        first.id: {"template_code": "SMS_1", "variables": {"user": "甲"}},
        second.id: {"template_code": "SMS_1", "variables": {"user": "乙"}},
    }


# --- confirming ----------------------------------------------------------------------------


def test_confirming_plans_each_customer_once_and_a_second_confirm_does_nothing(
    client, login_as, make_template, audience
):
    user = login_as(Role.SUPERVISOR)
    campaign = _campaign(make_template(body=NICKNAME_BODY), user, {"layer": "key"})
    response = client.post(f"/campaigns/{campaign.id}/confirm")
    assert response.status_code == 302
    again = client.post(f"/campaigns/{campaign.id}/confirm")
    assert again.status_code == 200
    assert "Already confirmed" in again.text

    messages = _messages(campaign.id)
    assert len(messages) == 7  # one per audience customer, the excluded recorded as skipped
    assert {m.customer_id for m in messages} == {c.id for k, c in audience.items() if k != "other_layer"}
    by_customer = {m.customer_id: m for m in messages}
    assert by_customer[audience["ok1"].id].status == MessageStatus.SCHEDULED
    assert by_customer[audience["ok1"].id].body == "【示例小店】阿甲，新品上市，全场8折。拒收请回复R"
    assert by_customer[audience["blacklisted"].id].skip_reason == SkipReason.BLACKLISTED
    assert by_customer[audience["capped"].id].skip_reason == SkipReason.FREQUENCY_CAP
    assert by_customer[audience["missing"].id].skip_reason == SkipReason.MISSING_VALUE
    assert len({m.due_at for m in messages}) == 1  # one due time for all

    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign.id)
    assert campaign.status == CampaignStatus.SENDING
    assert (campaign.confirmed_by_id, campaign.planned) == (user.id, 2)
    assert campaign.excluded == {
        "blacklisted": 1,
        "flagged": 1,
        "no_phone": 1,
        "frequency_cap": 1,
        "missing_value": 1,
    }
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.CAMPAIGN_CONFIRMED)).all()
    assert len(entries) == 1 and entries[0].subject == f"campaign:{campaign.id}"


def test_two_confirmations_at_once_plan_one_set_of_messages(app, make_user, make_template, audience):
    user = make_user(Role.SUPERVISOR)
    campaign_id = _campaign(make_template(body=NICKNAME_BODY), user, {"layer": "key"}).id
    user_id = user.id
    start = threading.Barrier(2)
    outcomes, errors = [], []

    def confirm():
        with app.app_context():  # its own database session, as a second request would have
            try:
                actor = db.session.get(User, user_id)
                db.session.commit()
                start.wait(timeout=10)
                try:
                    planned = services.confirm(campaign_id, actor)
                except services.AlreadyConfirmed:
                    db.session.rollback()
                    outcomes.append("already confirmed")
                else:
                    db.session.commit()
                    outcomes.append(planned.scheduled)
            except Exception as error:  # reported below, not lost in the thread
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(outcomes, key=str) == [2, "already confirmed"]
    assert len(_messages(campaign_id)) == 7
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 1


def test_a_campaign_with_nobody_to_send_to_is_done_at_once(client, login_as, make_template, make_customer):
    user = login_as(Role.SUPERVISOR)
    make_customer(layer="key", phone=None)
    campaign = _campaign(make_template(), user, {"layer": "key"})
    client.post(f"/campaigns/{campaign.id}/confirm")
    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign.id)
    assert (campaign.status, campaign.planned, campaign.excluded) == (CampaignStatus.DONE, 0, {"no_phone": 1})


# --- sending -------------------------------------------------------------------------------


def _set_status(messages: list[Message], status: str) -> None:
    for message in messages:
        message.status = status
    db.session.commit()


def test_progress_counts_the_planned_messages_by_where_they_are(
    client, login_as, make_template, make_customer, audience
):
    user = login_as(Role.SUPERVISOR)
    for i in range(5):
        make_customer(name=f"多{i}", nickname=f"多{i}", layer="key")
    campaign = _campaign(make_template(body=NICKNAME_BODY), user, {"layer": "key"})
    client.post(f"/campaigns/{campaign.id}/confirm")
    scheduled = [m for m in _messages(campaign.id) if m.status == MessageStatus.SCHEDULED]
    assert len(scheduled) == 7
    _set_status(scheduled[:2], MessageStatus.DELIVERED)
    _set_status(scheduled[2:3], MessageStatus.SENT)
    _set_status(scheduled[3:4], MessageStatus.FAILED)
    scheduled[4].skip_reason = SkipReason.BLACKLISTED
    _set_status(scheduled[4:5], MessageStatus.SKIPPED)  # blacklisted after it was planned

    db.session.expire_all()
    progress = services.progress(db.session.get(Campaign, campaign.id))
    assert (progress.planned, progress.delivered, progress.sent, progress.failed) == (7, 2, 1, 1)
    assert (progress.skipped, progress.waiting, progress.done) == (1, 2, 5)

    live = client.get(f"/campaigns/{campaign.id}", headers={"HX-Request": "true"}).text
    assert live.strip().startswith('<section id="campaign-live"')  # the block alone
    assert 'hx-trigger="every 2s"' in live  # still sending: it polls
    assert "5 of 7 messages done." in live
    assert (_cell(live, "progress-delivered"), _cell(live, "progress-waiting")) == (2, 2)
    assert _cell(live, "progress-excluded") == 5

    listing = client.get("/campaigns/").text
    assert "春季上新" in listing and "Sending" in listing

    _set_status(scheduled[5:], MessageStatus.SENT)
    services.engine.finish_campaigns([campaign.id])
    db.session.commit()
    live = client.get(f"/campaigns/{campaign.id}", headers={"HX-Request": "true"}).text
    assert "Done" in live and "every 2s" in live  # done, but receipts of 3 sent messages may still come

    _set_status(scheduled[2:3] + scheduled[5:], MessageStatus.DELIVERED)
    live = client.get(f"/campaigns/{campaign.id}", headers={"HX-Request": "true"}).text
    assert "Done" in live and "every 2s" not in live  # every receipt in: the polling stops
    assert _cell(live, "progress-delivered") == 5


def test_pause_resume_and_cancel_only_from_the_right_states(client, login_as, make_template, audience):
    user = login_as(Role.SUPERVISOR)
    campaign = _campaign(make_template(body=NICKNAME_BODY), user, {"layer": "key"})
    url = f"/campaigns/{campaign.id}"
    htmx = {"HX-Request": "true"}

    for step in ("pause", "resume"):  # a draft is neither sending nor paused
        response = client.post(f"{url}/{step}", headers=htmx)
        assert "Not done: the campaign is Draft." in response.text
    client.post(f"{url}/confirm")
    assert "Not done: the campaign is Sending." in client.post(f"{url}/resume", headers=htmx).text

    response = client.post(f"{url}/pause", headers=htmx)
    assert "Paused: 2 messages wait until the campaign is resumed." in response.text
    assert {m.status for m in _messages(campaign.id) if m.status != MessageStatus.SKIPPED} == {MessageStatus.PAUSED}
    assert "Not done: the campaign is Paused." in client.post(f"{url}/pause", headers=htmx).text

    response = client.post(f"{url}/resume", headers=htmx)
    assert "Resumed" in response.text
    waiting = [m for m in _messages(campaign.id) if m.status != MessageStatus.SKIPPED]
    assert {m.status for m in waiting} == {MessageStatus.SCHEDULED}
    assert all(m.job_id for m in waiting)  # each held by a job again

    response = client.post(f"{url}/cancel", headers=htmx)
    assert "Cancelled: 2 messages will not be sent." in response.text
    assert "every 2s" not in response.text
    assert {m.skip_reason for m in _messages(campaign.id) if m.customer_id in (audience["ok1"].id,)} == {
        SkipReason.CANCELLED
    }
    for step in ("pause", "resume", "cancel"):
        assert "Not done: the campaign is Cancelled." in client.post(f"{url}/{step}", headers=htmx).text
    assert "Already confirmed" in client.post(f"{url}/confirm").text

    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == [
        AuditAction.CAMPAIGN_CONFIRMED,
        AuditAction.CAMPAIGN_PAUSED,
        AuditAction.CAMPAIGN_RESUMED,
        AuditAction.CAMPAIGN_CANCELLED,
    ]


def test_a_draft_can_be_discarded(client, login_as, make_template, audience):
    user = login_as(Role.SUPERVISOR)
    campaign = _campaign(make_template(), user, {"layer": "key"})
    response = client.post(f"/campaigns/{campaign.id}/cancel")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.CANCELLED
    assert "Already confirmed" in client.post(f"/campaigns/{campaign.id}/confirm").text
    assert _messages(campaign.id) == []


def test_a_confirmed_campaign_is_sent_by_the_worker_and_done(
    client, login_as, make_template, audience, open_all_day, run_jobs
):
    user = login_as(Role.SUPERVISOR)
    template = make_template(kind=MessageKind.SERVICE, body="{name}您好，您的包裹已发出。")
    campaign = _campaign(template, user, {"layer": "key"})
    assert client.post(f"/campaigns/{campaign.id}/confirm").status_code == 302
    run_jobs()
    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign.id)
    assert campaign.status == CampaignStatus.DONE
    handed = [m for m in _messages(campaign.id) if m.status != MessageStatus.SKIPPED]
    assert len(handed) == campaign.planned == 5
    assert {m.status for m in handed} <= {MessageStatus.SENT, MessageStatus.DELIVERED}
    assert all(m.provider_ref for m in handed)
    # Done; the log provider's receipts come two seconds later, so the counts keep refreshing.
    live = client.get(f"/campaigns/{campaign.id}", headers={"HX-Request": "true"}).text
    assert "every 2s" in live or all(m.status == MessageStatus.DELIVERED for m in handed)
    inbound.record_deliveries("log", [m.id for m in handed])
    db.session.commit()
    assert "every 2s" not in client.get(f"/campaigns/{campaign.id}", headers={"HX-Request": "true"}).text


# --- the form and who may use it -----------------------------------------------------------


@pytest.mark.parametrize(
    "send_at, error",
    [
        ("", "Choose the day and time to send."),
        ("2020-01-01T10:00", "This time has passed"),
        ("0001-01-01T00:00", "This time has passed"),
        ("9999-12-31T23:59", "Choose a time within a year from now."),
        ("2024-02-30T10:00", "Not a valid datetime value."),
    ],
)
def test_a_bad_time_is_refused_by_its_field(client, login_as, make_template, send_at, error):
    login_as(Role.SUPERVISOR)
    template = make_template()
    response = client.post(
        "/campaigns/new", data={"name": "周末", "template_id": template.id, "when": "later", "send_at": send_at}
    )
    assert response.status_code == 422
    said = re.search(r'<small class="field-error" id="send_at-error">([^<]*)</small>', response.text)
    assert said and error in said.group(1)
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_a_set_time_is_read_in_shop_time(client, login_as, make_template):
    login_as(Role.SUPERVISOR)
    template = make_template()
    local = (to_shop_time(utcnow()) + timedelta(days=3)).replace(second=0, microsecond=0, tzinfo=None)
    response = client.post(
        "/campaigns/new",
        data={"name": "周末", "template_id": template.id, "when": "later", "send_at": local.strftime("%Y-%m-%dT%H:%M")},
    )
    assert response.status_code == 302
    campaign = db.session.scalar(select(Campaign))
    assert to_shop_time(campaign.send_at).replace(tzinfo=None) == local


def test_a_bad_filter_is_not_saved_as_a_wider_audience(client, login_as, make_template):
    login_as(Role.SUPERVISOR)
    template = make_template()
    response = client.post(
        "/campaigns/new",
        data={"name": "周末", "template_id": template.id, "when": "now", "last_order_from": "0001-01-01"},
    )
    assert response.status_code == 422
    assert "Correct the filters first." in response.text
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_an_archived_template_is_not_offered(client, login_as, make_template):
    login_as(Role.SUPERVISOR)
    make_template(name="在用")
    old = make_template(name="旧的", archived=True)
    page = client.get("/campaigns/new").text
    assert "在用" in page and "旧的" not in page
    response = client.post("/campaigns/new", data={"name": "x", "template_id": old.id, "when": "now"})
    assert response.status_code == 422


def test_campaigns_are_for_supervisors_and_admins(client, login_as, make_user, make_template):
    sales = login_as(Role.SALES)
    campaign = _campaign(make_template(), make_user(Role.SUPERVISOR))
    for url in ("/campaigns/", "/campaigns/new", f"/campaigns/{campaign.id}"):
        assert client.get(url).status_code == 403
    for step in ("confirm", "pause", "resume", "cancel"):
        assert client.post(f"/campaigns/{campaign.id}/{step}").status_code == 403
    assert "/campaigns/" not in client.get("/messages/").text  # no tab either
    assert sales.role == Role.SALES
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.DRAFT


def test_the_menu_has_campaigns_for_supervisors(client, login_as):
    login_as(Role.SUPERVISOR)
    assert 'href="/campaigns/"' in client.get("/messages/").text  # a tab of the SMS pages
