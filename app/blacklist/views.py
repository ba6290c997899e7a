from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user, login_required
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from .. import error_page, spreadsheets
from ..access import follow_up_or_404, roles_required
from ..extensions import db
from ..htmx import render
from ..imports.services import progress_of
from ..imports.tables import TableError
from ..labels import BLACKLIST_REASON_LABELS, BLACKLIST_SOURCE_LABELS, IMPORT_STATE_LABELS
from ..models import BlacklistEntry, ImportRun, ImportState, Outcome, Role
from ..pagination import page_of
from ..params import page_number
from ..templating import display_phone, localtime
from . import bp, services
from .forms import STATUS_LABELS, AddForm, BlacklistFilterForm, ImportForm, RemoveForm

# Admins manage the blacklist; supervisors read it (SPEC §6); sales add to it only through
# "do not contact" on their queue, and see it on their customers' pages.
admins_only = roles_required(Role.ADMIN)
readers_only = roles_required(Role.SUPERVISOR, Role.ADMIN)
LABELS = {
    "reasons": BLACKLIST_REASON_LABELS,
    "sources": BLACKLIST_SOURCE_LABELS,
    "statuses": STATUS_LABELS,
    "states": IMPORT_STATE_LABELS,
    "source_kind": services.source_kind,
}


def _manages() -> bool:
    return current_user.role == Role.ADMIN


@bp.post("/follow-ups/<int:task_id>")
@login_required
def from_follow_up(task_id: int):
    """ "Blacklist the phone", offered on a queue card once the customer asked not to be contacted."""
    task = follow_up_or_404(task_id)
    if task.outcome != Outcome.DO_NOT_CONTACT or not task.customer.phone:
        abort(404)  # the offer exists only after "do not contact", for a customer with a phone
    entry = services.add_for_follow_up(task, current_user)
    db.session.commit()
    return render("blacklist/_from_follow_up.html", task=task, entry=entry)


def _filters() -> tuple[BlacklistFilterForm, services.Filters]:
    form = BlacklistFilterForm(request.args)
    return form, services.Filters(**form.filter_values())


@bp.get("/")
@readers_only
def index():
    form, filters = _filters()
    page = page_of(services.filtered(filters), page_number(request.args), current_app.config["PAGE_SIZE"])
    return render(
        "blacklist/index.html",
        "results",
        form=form,
        page=page,
        customers=services.customer_names(page.items),
        imports=services.import_runs(page.items),
        manages=_manages(),
        **LABELS,
    )


@bp.get("/export.csv")
@readers_only
def export():
    _form, filters = _filters()
    return spreadsheets.csv_download(services.export_rows(services.filtered(filters)), "blacklist.csv")


@bp.route("/new", methods=["GET", "POST"])
@admins_only
def new():
    form, existing = AddForm(), None
    if form.validate_on_submit():
        note = (form.note.data or "").strip() or None
        try:
            entry = services.add_by_hand(form.phone.data, form.reason.data, note, current_user)
            db.session.commit()
        except services.AlreadyBlacklisted as already:
            existing = already.entry
        except IntegrityError:  # another admin blacklisted it between our check and our write
            db.session.rollback()
            existing = services.active_entry(form.phone.data)
        else:
            flash(
                _("%(phone)s is blacklisted: it receives no SMS of any kind.", phone=display_phone(entry.phone)),
                "success",
            )
            return redirect(url_for("blacklist.show", entry_id=entry.id))
        form.phone.errors.append(_("This number is blacklisted already: nothing was changed."))
    status = 422 if form.errors or existing else 200
    return render("blacklist/new.html", form=form, existing=existing, status=status, **LABELS)


def _entry_or_404(entry_id: int) -> BlacklistEntry:
    return db.get_or_404(BlacklistEntry, entry_id)


def _entry_page(entry: BlacklistEntry, form: RemoveForm, status: int = 200):
    history = services.history(entry.phone)
    return render(
        "blacklist/show.html",
        entry=entry,
        history=history,
        form=form,
        customers=services.customer_names(history),
        imports=services.import_runs(history),
        manages=_manages(),
        status=status,
        **LABELS,
    )


@bp.get("/<int:entry_id>")
@readers_only
def show(entry_id: int):
    return _entry_page(_entry_or_404(entry_id), RemoveForm(formdata=None))


def _already_removed(entry: BlacklistEntry):
    who = entry.removed_by.display_name if entry.removed_by else "—"
    flash(
        _("This entry was removed already, by %(name)s at %(time)s.", name=who, time=localtime(entry.removed_at)),
        "warning",
    )
    return redirect(url_for("blacklist.show", entry_id=entry.id))


@bp.post("/<int:entry_id>/remove")
@admins_only
def remove(entry_id: int):
    entry = _entry_or_404(entry_id)
    if entry.removed_at is not None:
        return _already_removed(entry)
    form = RemoveForm()
    if not form.validate_on_submit():
        return _entry_page(entry, form, status=422)
    try:
        services.remove(entry, form.removal_reason.data.strip(), current_user)
    except services.AlreadyRemoved:  # by someone else, since the entry was read
        db.session.rollback()
        return _already_removed(entry)
    db.session.commit()
    flash(
        _("%(phone)s is off the blacklist; the entry is kept in its history.", phone=display_phone(entry.phone)),
        "success",
    )
    return redirect(url_for("blacklist.show", entry_id=entry.id))


# --- importing a list of numbers ----------------------------------------------------------------


def _import_page(form: ImportForm, status: int = 200):
    page = page_of(services.recent_imports(), page_number(request.args), current_app.config["PAGE_SIZE"])
    return render("blacklist/import.html", "runs", form=form, page=page, status=status, **LABELS)


@bp.get("/import")
@admins_only
def import_form():
    return _import_page(ImportForm())


@bp.post("/import")
@admins_only
def import_upload():
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            run = services.create_import(upload.filename or "", upload.read(), form.reason.data, current_user)
        except TableError as error:
            form.file.errors.append(str(error.message))
        else:
            db.session.commit()  # before the job is queued: the worker must find the run
            try:
                services.enqueue_import(run)
            except RedisError:
                services.forget_import(run)
                db.session.commit()
                flash(_("The job queue is not available; nothing was imported. Try again in a moment."), "error")
            else:
                return redirect(url_for("blacklist.import_report", run_id=run.id))
    return _import_page(form, status=422)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    """A file over MAX_CONTENT_LENGTH: the import page again, with the limit next to the file field."""
    # Raised while the form is read, before the view and its role check run.
    may_import = current_user.is_authenticated and current_user.role == Role.ADMIN
    if request.endpoint != "blacklist.import_upload" or not may_import:
        return error_page(error)
    form = ImportForm(formdata=None)  # the posted form cannot be read: it is over the limit
    limit = format_decimal(round(current_app.config["MAX_CONTENT_LENGTH"] / 2**20, 1))
    form.file.errors = [_("The file is larger than the limit of %(size)s MB.", size=limit)]
    return _import_page(form, status=413)


@bp.get("/import/template.csv")
@admins_only
def template():
    rows = [["手机号", "备注"], ["13812345678", "客户要求不再联系"]]
    return spreadsheets.csv_download(rows, "blacklist-template.csv")


def _import_or_404(run_id: int) -> ImportRun:
    run = services.import_or_none(run_id)
    if run is None:
        abort(404)
    return run


@bp.get("/imports/<int:run_id>")
@readers_only
def import_report(run_id: int):
    run = _import_or_404(run_id)
    progress = progress_of(run)
    return render(
        "blacklist/import_run.html",
        "progress",
        run=run,
        progress=progress,
        rejected=services.rejected_lines(run) if progress.finished else [],
        already=services.already_lines(run) if progress.finished else [],
        report_rows=services.REPORT_ROWS,
        **LABELS,
    )


@bp.get("/imports/<int:run_id>/report.csv")
@readers_only
def import_report_csv(run_id: int):
    """Every line not added: rejected (and why), or blacklisted already."""
    run = _import_or_404(run_id)
    if run.state not in (ImportState.DONE, ImportState.FAILED):
        abort(404)
    rejected, already = _("Rejected"), _("Blacklisted already")
    lines = [(line, rejected, text) for line, text in services.rejected_lines(run, limit=None)]
    lines += [(line, already, text) for line, text in services.already_lines(run, limit=None)]
    rows = [[_("Line"), _("Outcome"), _("Reason")], *sorted(lines)]
    return spreadsheets.csv_download(rows, f"blacklist-import-{run.id}.csv")
