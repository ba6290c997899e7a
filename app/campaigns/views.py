from datetime import timedelta

from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from ..access import roles_required
from ..accounts.services import sales_staff
from ..customers.services import Filters
from ..extensions import db
from ..forms import CustomerFilterForm
from ..htmx import is_partial, render
from ..labels import (
    CAMPAIGN_PROBLEM_LABELS,
    CAMPAIGN_STATUS_LABELS,
    MESSAGE_KIND_LABELS,
    SKIP_REASON_LABELS,
)
from ..models import Campaign, CampaignStatus, Role, utcnow
from ..pagination import page_of
from ..params import page_number
from ..sending import engine
from ..sending.windows import NoSendWindow
from . import bp, services
from .forms import CampaignForm

STAFF = (Role.SUPERVISOR, Role.ADMIN)
staff_only = roles_required(*STAFF)
LABELS = {
    "statuses": CAMPAIGN_STATUS_LABELS,
    "reasons": SKIP_REASON_LABELS,
    "problems": CAMPAIGN_PROBLEM_LABELS,
    "kinds": MESSAGE_KIND_LABELS,
}
# The campaign page polls its progress while messages may still leave.
LIVE = (CampaignStatus.SENDING, CampaignStatus.PAUSED)
# A done campaign's page keeps fetching its counts this long for the receipts still to come.
RECEIPTS_WAIT = timedelta(minutes=10)


@bp.get("/")
@staff_only
def index():
    page = page_of(services.recent(), page_number(request.args), current_app.config["PAGE_SIZE"])
    return render("campaigns/index.html", "list", page=page, progress=services.progress_of(page.items), **LABELS)


def _audience_form(formdata) -> tuple[CustomerFilterForm, Filters]:
    form = CustomerFilterForm.from_args(formdata, sales_staff())
    return form, Filters(**form.filter_values())


@bp.route("/new", methods=["GET", "POST"])
@staff_only
def new():
    """The draft's form: the registry's filters (from the query string at first, to start from a
    filtered list; then posted with the form) and the campaign's name, template and time."""
    posted = request.method == "POST"
    filter_form, filters = _audience_form(request.form if posted else request.args)
    templates = services.usable_templates()
    form = CampaignForm.with_templates(templates)
    if not posted and is_partial():  # the filters changed: the audience's count again
        return _new_page(filter_form, filters, form, block="audience")
    if form.validate_on_submit():
        if filter_form.errors:
            # Ignoring a bad filter would widen the audience beyond what the count showed.
            message = _("Correct the filters first.")
        else:
            template = next(t for t in templates if t.id == form.template_id.data)
            campaign = services.create(
                form.name.data.strip(),
                template,
                services.audience_args(filter_form.filter_values()),
                form.send_at_utc(),
                current_user,
            )
            db.session.commit()
            return redirect(url_for("campaigns.show", campaign_id=campaign.id))
        return _new_page(filter_form, filters, form, message=message, status=422)
    return _new_page(filter_form, filters, form, status=422 if form.errors else 200)


def _new_page(filter_form, filters, form, *, block=None, message=None, status=200):
    audience = services.audience_args(filter_form.filter_values())
    return render(
        "campaigns/new.html",
        block,
        filter_form=filter_form,
        form=form,
        count=services.audience_count(current_user, filters),
        audience=audience,
        message=message,
        status=status,
        **LABELS,
    )


def _campaign_or_404(campaign_id: int) -> Campaign:
    return db.first_or_404(
        db.select(Campaign)
        .where(Campaign.id == campaign_id)
        .options(
            selectinload(Campaign.template), selectinload(Campaign.created_by), selectinload(Campaign.confirmed_by)
        )
    )


def _audience_terms(audience: dict) -> list[tuple[str, str]]:
    """The campaign's filters as the registry's filter form names and shows them."""
    form = CustomerFilterForm.from_args(MultiDict(audience), sales_staff(inactive=True))
    terms = []
    for key in services.AUDIENCE_KEYS:
        field = form[key]
        if audience.get(key):
            shown = (
                dict(field.choices).get(audience[key], audience[key]) if hasattr(field, "choices") else audience[key]
            )
            terms.append((field.label.text, shown))
    return terms


def _live(campaign: Campaign, progress: services.Progress | None) -> bool:
    """Whether the counts may still change: messages may leave, or a done campaign's receipts
    may still come (for RECEIPTS_WAIT after its last message left)."""
    if campaign.status in LIVE:
        return True
    return (
        campaign.status == CampaignStatus.DONE
        and progress is not None
        and progress.sent > 0
        and campaign.finished_at is not None
        and utcnow() - campaign.finished_at < RECEIPTS_WAIT
    )


def _show(campaign: Campaign, *, block: str | None = "live", message=None, status: int = 200):
    """The campaign's page, or its live block for htmx: `message` (category, text) by the buttons."""
    draft = campaign.status == CampaignStatus.DRAFT
    progress = None if draft else services.progress(campaign)
    return render(
        "campaigns/show.html",
        block,
        campaign=campaign,
        audience_terms=[] if is_partial() else _audience_terms(campaign.audience),
        preview=services.preview(campaign, current_user) if draft else None,
        progress=progress,
        live=_live(campaign, progress),
        message=message,
        status=status,
        **LABELS,
    )


@bp.get("/<int:campaign_id>")
@staff_only
def show(campaign_id: int):
    return _show(_campaign_or_404(campaign_id))


def _done(campaign: Campaign, text: str):
    """After a step: the live block again for htmx, else back to the page (a reload posts nothing)."""
    if is_partial():
        return _show(campaign, message=("success", text))
    flash(text, "success")
    return redirect(url_for("campaigns.show", campaign_id=campaign.id))


def _refused(campaign: Campaign, text: str, status: int = 200):
    """A step the campaign's state does not allow: the page as it is now, saying why by the buttons."""
    db.session.rollback()
    db.session.refresh(campaign)
    return _show(campaign, block="live", message=("error", text), status=status)


def _wrong_state(campaign: Campaign, error: services.WrongState):
    return _refused(campaign, _("Not done: the campaign is %(status)s.", status=CAMPAIGN_STATUS_LABELS[error.status]))


@bp.post("/<int:campaign_id>/confirm")
@staff_only
def confirm(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    db.session.commit()  # the confirmation's transaction starts with its write (services.confirm)
    try:
        planned = services.confirm(campaign_id, current_user)
    except services.AlreadyConfirmed:
        return _refused(campaign, _("Already confirmed: this campaign's messages were planned before."))
    except services.CannotConfirm as error:
        reasons = " ".join(str(CAMPAIGN_PROBLEM_LABELS[p]) for p in error.problems)
        return _refused(campaign, _("Not confirmed. %(reasons)s", reasons=reasons), status=422)
    db.session.commit()
    engine.enqueue(planned.jobs)
    db.session.refresh(campaign)
    return _done(
        campaign,
        ngettext("Confirmed: %(num)d message planned.", "Confirmed: %(num)d messages planned.", planned.scheduled),
    )


@bp.post("/<int:campaign_id>/pause")
@staff_only
def pause(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    db.session.commit()
    try:
        held = services.pause(campaign, current_user)
    except services.WrongState as error:
        return _wrong_state(campaign, error)
    db.session.commit()
    return _done(
        campaign,
        ngettext(
            "Paused: %(num)d message waits until the campaign is resumed.",
            "Paused: %(num)d messages wait until the campaign is resumed.",
            held,
        ),
    )


@bp.post("/<int:campaign_id>/resume")
@staff_only
def resume(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    db.session.commit()
    try:
        jobs = services.resume(campaign, current_user, utcnow())
    except services.WrongState as error:
        return _wrong_state(campaign, error)
    except NoSendWindow:
        return _refused(campaign, str(CAMPAIGN_PROBLEM_LABELS[services.NO_WINDOW]), status=422)
    db.session.commit()
    engine.enqueue(jobs)
    return _done(campaign, _("Resumed: the waiting messages leave at the next opening of their send window."))


@bp.post("/<int:campaign_id>/cancel")
@staff_only
def cancel(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    db.session.commit()
    try:
        stopped = services.cancel(campaign, current_user)
    except services.WrongState as error:
        return _wrong_state(campaign, error)
    db.session.commit()
    return _done(
        campaign,
        ngettext(
            "Cancelled: %(num)d message will not be sent.", "Cancelled: %(num)d messages will not be sent.", stopped
        ),
    )
