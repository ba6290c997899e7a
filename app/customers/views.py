from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from redis.exceptions import RedisError

from .. import spreadsheets
from ..access import customer_or_404, roles_required
from ..accounts.services import sales_staff
from ..blacklist import services as blacklist
from ..extensions import db
from ..followups.services import NotASalesPerson
from ..forms import SORT_LABELS, UNASSIGNED, CustomerFilterForm, owner_choices
from ..htmx import is_partial, render
from ..jobs import enqueue_segment_recompute
from ..labels import (
    ACTIVITY_LABELS,
    AUDIT_ACTION_LABELS,
    BLACKLIST_REASON_LABELS,
    CHANNEL_LABELS,
    FOLLOW_UP_STATE_LABELS,
    KIND_LABELS,
    LAYER_LABELS,
    MESSAGE_STATUS_LABELS,
    ORDER_STATUS_LABELS,
    OUTCOME_LABELS,
    PLATFORM_LABELS,
    REVIEW_LABELS,
    SKIP_REASON_LABELS,
    SOURCE_LABELS,
    TIER_LABELS,
)
from ..models import Customer, Role
from ..params import page_number, record_id
from . import bp, services
from .forms import ComplaintForm, CustomerForm, MergeForm, field_labels

LABELS = {
    "layers": LAYER_LABELS,
    "tiers": TIER_LABELS,
    "activities": ACTIVITY_LABELS,
    "sources": SOURCE_LABELS,
    "platforms": PLATFORM_LABELS,
    "sorts": SORT_LABELS,
    "statuses": ORDER_STATUS_LABELS,
    "reviews": REVIEW_LABELS,
    "outcomes": OUTCOME_LABELS,
    "channels": CHANNEL_LABELS,
    "kinds": KIND_LABELS,
    "follow_up_states": FOLLOW_UP_STATE_LABELS,
    "blacklist_reasons": BLACKLIST_REASON_LABELS,
    "actions": AUDIT_ACTION_LABELS,
    "message_statuses": MESSAGE_STATUS_LABELS,
    "skip_reasons": SKIP_REASON_LABELS,
}


def _filters(shown: bool = True) -> tuple[CustomerFilterForm, services.Filters]:
    """The filter form and its values. The sales staff are the owner filter's choices: needed
    to show the form, or to check an owner asked for; not for the results alone (htmx)."""
    owner = request.args.get("owner", "")
    people = sales_staff() if shown or owner not in ("", UNASSIGNED) else []
    form = CustomerFilterForm.from_args(request.args, people)
    return form, services.Filters(**form.filter_values())


@bp.get("/")
@login_required
def index():
    form, filters = _filters(shown=not is_partial())
    page = services.list_page(
        current_user,
        filters,
        page_number(request.args),
        current_app.config["PAGE_SIZE"],
        after=request.args.get("after"),
        before=request.args.get("before"),
    )
    return render("customers/index.html", "results", form=form, page=page, **LABELS)


@bp.get("/export.<any(csv, xlsx):fmt>")
@login_required
def export(fmt: str):
    _, filters = _filters(shown=False)
    rows = services.export_rows(services.filtered(current_user, filters))
    if fmt == "csv":
        return spreadsheets.csv_download(rows, "customers.csv")
    return spreadsheets.xlsx_download(rows, "customers.xlsx", "customers")


def _customer_form(customer: Customer | None = None, formdata=None) -> CustomerForm:
    form = CustomerForm(formdata, obj=customer) if formdata is not None else CustomerForm(obj=customer)
    form.owner_id.choices = owner_choices(sales_staff(), ("", _("Unassigned")))
    owner = customer.owner if customer else None
    if owner is not None and str(owner.id) not in dict(form.owner_id.choices):
        # A deactivated owner stays selected: saving other fields must not unassign the customer.
        form.owner_id.choices.append((str(owner.id), owner.display_name))
    if not current_user.sees_everyone:
        del form.owner_id  # sales own what they register; only supervisors assign
    return form


def _duplicates(form: CustomerForm, exclude_id: int | None = None) -> list[Customer]:
    phone = form.phone.data if not form.phone.errors else None
    return services.duplicates_of(phone, form.platform.data, form.nickname.data, exclude_id)


@bp.get("/check")
@login_required
def check():
    """As the registration form is typed: the phone's validity and any duplicates."""
    form = _customer_form(formdata=request.args)
    form.phone.validate(form)
    exclude = record_id(request.args, "id")
    return render("customers/form.html", "checks", form=form, duplicates=_duplicates(form, exclude), customer=None)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    form = _customer_form()
    duplicates = []
    if form.validate_on_submit():
        values = form.customer_values()
        duplicates = _duplicates(form)
        if services.nickname_taken(values["platform"], values["nickname"]):
            form.nickname.errors.append(_("A customer with this nickname on this platform is already registered."))
        elif duplicates and not request.form.get("confirm_duplicate"):
            flash(
                _("This customer may already be registered. Open the existing record, or confirm to save anyway."),
                "warning",
            )
        else:
            owner_id = form.owner_id.data if "owner_id" in form else None
            customer = services.register(values, owner_id, current_user)
            db.session.commit()
            flash(_("Customer %(name)s registered.", name=customer.name), "success")
            return redirect(url_for("customers.show", customer_id=customer.id))
    status = 422 if form.errors or duplicates else 200
    return render("customers/form.html", form=form, duplicates=duplicates, customer=None, status=status)


@bp.route("/<int:customer_id>/edit", methods=["GET", "POST"])
@login_required
def edit(customer_id: int):
    customer = customer_or_404(customer_id)
    form = _customer_form(customer)
    if form.validate_on_submit():
        values = form.customer_values()
        if services.nickname_taken(values["platform"], values["nickname"], exclude_id=customer.id):
            form.nickname.errors.append(_("A customer with this nickname on this platform is already registered."))
        else:
            try:
                services.edit(customer, values, form.owner_id.data if "owner_id" in form else None, current_user)
            except NotASalesPerson:
                db.session.rollback()
                form.owner_id.errors.append(_("Choose an active sales person, or nobody."))
            else:
                db.session.commit()
                flash(_("Changes saved."), "success")
                return redirect(url_for("customers.show", customer_id=customer.id))
    return render(
        "customers/form.html", form=form, duplicates=[], customer=customer, status=422 if form.errors else 200
    )


@bp.get("/<int:customer_id>")
@login_required
def show(customer_id: int):
    """The customer's page; for htmx, only its timeline (opened inline under a card of the queue)."""
    return _customer_page(customer_or_404(customer_id), ComplaintForm())


def _customer_page(customer: Customer, complaint_form: ComplaintForm, status: int = 200):
    return render(
        "customers/show.html",
        "timeline",
        customer=customer,
        events=services.timeline(customer),
        complaint_form=complaint_form,
        field_labels=field_labels(),
        user_names=services.user_names(),
        blacklisted=blacklist.active_entry(customer.phone),
        blacklist_removed=blacklist.removed_entries(customer.phone),
        status=status,
        **LABELS,
    )


@bp.post("/<int:customer_id>/complaints")
@login_required
def complaint(customer_id: int):
    customer = customer_or_404(customer_id)
    form = ComplaintForm()
    if form.validate_on_submit():
        services.record_complaint(customer, form.note.data, current_user)
        db.session.commit()
        flash(_("Complaint recorded."), "success")
        return redirect(url_for("customers.show", customer_id=customer.id))
    return _customer_page(customer, form, status=422)


@bp.route("/<int:customer_id>/merge", methods=["GET", "POST"])
@roles_required(Role.SUPERVISOR, Role.ADMIN)
def merge(customer_id: int):
    """Merge another record of the same person into this one: find it, compare both, confirm."""
    customer = customer_or_404(customer_id)
    form = MergeForm()
    if form.validate_on_submit():
        other = db.session.get(Customer, int(form.other.data))
        if other is None or other.id == customer.id:
            form.other.errors.append(_("Choose another record than this one."))
        else:
            name = other.name
            services.merge(customer, other, current_user)
            db.session.commit()
            try:
                enqueue_segment_recompute()  # the layer and tier rank everyone's spend
            except RedisError:
                pass  # tonight's recompute will do it
            flash(_("The record of %(name)s was merged into this one.", name=name), "success")
            return redirect(url_for("customers.show", customer_id=customer.id))
    other_id = record_id(request.args, "other")
    other = db.session.get(Customer, other_id) if other_id and other_id != customer.id else None
    q = request.args.get("q", "")
    return render(
        "customers/merge.html",
        "candidates",
        customer=customer,
        other=other,
        form=form,
        q=q,
        candidates=[] if other else services.merge_candidates(current_user, customer, q),
        status=422 if form.errors else 200,
        **LABELS,
    )
