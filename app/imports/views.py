from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user
from redis.exceptions import RedisError
from werkzeug.exceptions import RequestEntityTooLarge

from .. import error_page, spreadsheets
from ..access import roles_required
from ..accounts.services import sales_staff
from ..extensions import db
from ..forms import owner_choices
from ..htmx import render
from ..labels import IMPORT_STATE_LABELS, ORDER_STATUS_LABELS, REVIEW_LABELS
from ..models import ImportRun, ImportState, Role
from ..pagination import page_of
from ..params import page_number
from . import bp, services
from .forms import UploadForm, mapping_data, mapping_form
from .presets import PRESETS, TEMPLATES
from .tables import TableError

STAFF = (Role.SUPERVISOR, Role.ADMIN)
staff_only = roles_required(*STAFF)
LABELS = {"presets": PRESETS, "states": IMPORT_STATE_LABELS, "statuses": ORDER_STATUS_LABELS, "reviews": REVIEW_LABELS}


def _upload_form(**kwargs) -> UploadForm:
    form = UploadForm(**kwargs)
    form.owner_id.choices = owner_choices(sales_staff(), ("", _("Unassigned")))
    return form


def _run_or_404(run_id: int) -> ImportRun:
    """An import of order history; the blacklist's imports of numbers share the table, not the pages."""
    run = db.session.get(ImportRun, run_id)
    if run is None or run.preset not in PRESETS:
        abort(404)
    return run


def _index(form: UploadForm, status: int = 200):
    page = page_of(services.recent_runs(), page_number(request.args), current_app.config["PAGE_SIZE"])
    return render("imports/index.html", "runs", form=form, page=page, status=status, **LABELS)


@bp.get("/")
@staff_only
def index():
    return _index(_upload_form())


@bp.post("/")
@staff_only
def upload():
    form = _upload_form()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            run = services.create_run(
                upload.filename or "", upload.read(), PRESETS[form.preset.data], form.owner_id.data, current_user
            )
        except TableError as error:
            form.file.errors.append(str(error.message))
        else:
            db.session.commit()
            return redirect(url_for("imports.mapping", run_id=run.id))
    return _index(form, status=422)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    """A file over MAX_CONTENT_LENGTH: the upload page again, with the limit next to the file field."""
    # Raised while the form is read, before the view and its role check run.
    may_upload = current_user.is_authenticated and current_user.role in STAFF
    if request.endpoint != "imports.upload" or not may_upload:
        return error_page(error)
    form = _upload_form(formdata=None)  # the posted form cannot be read: it is over the limit
    limit = format_decimal(round(current_app.config["MAX_CONTENT_LENGTH"] / 2**20, 1))
    form.file.errors = [_("The file is larger than the limit of %(size)s MB.", size=limit)]
    return _index(form, status=413)


@bp.get("/templates/<any(generic, reviews):name>.csv")
@staff_only
def template(name: str):
    return spreadsheets.csv_download(TEMPLATES[name].template_rows(), f"import-{name}.csv")


@bp.route("/<int:run_id>/mapping", methods=["GET", "POST"])
@staff_only
def mapping(run_id: int):
    run = _run_or_404(run_id)
    if run.state != ImportState.MAPPING:
        return redirect(url_for("imports.show", run_id=run.id))
    preset, table = PRESETS[run.preset], services.table_of(run)
    if request.method == "POST":
        form = mapping_form(preset, table.column_names)
    elif request.args:  # the preview, redrawn as the selects change
        form = mapping_form(preset, table.column_names, formdata=request.args, meta={"csrf": False})
    else:
        form = mapping_form(preset, table.column_names, data=mapping_data(run.mapping))
    if form.validate_on_submit():
        try:
            started = services.start(run, form.mapping())
        except RedisError:
            flash(_("The job queue is not available; nothing was imported. Try again in a moment."), "error")
        else:
            if started:
                flash(_("Import started."), "success")
            return redirect(url_for("imports.show", run_id=run.id))
    preview = services.preview(table, preset, form.mapping())
    return render(
        "imports/mapping.html",
        "preview",
        run=run,
        preset=preset,
        table=table,
        form=form,
        preview=preview,
        status=422 if form.errors else 200,
        **LABELS,
    )


@bp.post("/<int:run_id>/discard")
@staff_only
def discard(run_id: int):
    run = _run_or_404(run_id)
    if services.discard(run):
        db.session.commit()
        flash(_("Upload of %(name)s discarded.", name=run.filename), "success")
    return redirect(url_for("imports.index"))


@bp.get("/<int:run_id>")
@staff_only
def show(run_id: int):
    run = _run_or_404(run_id)
    if run.state == ImportState.MAPPING:
        return redirect(url_for("imports.mapping", run_id=run.id))
    progress = services.progress_of(run)
    return render(
        "imports/show.html",
        "progress",
        run=run,
        progress=progress,
        rejected=services.rejected_rows(run) if progress.finished else [],
        notes=services.note_rows(run) if progress.finished else [],
        report_rows=services.REPORT_ROWS,
        **LABELS,
    )


def _finished_run_or_404(run_id: int) -> ImportRun:
    """A run whose report is written (its rejected rows and notes are known)."""
    run = _run_or_404(run_id)
    if run.state not in (ImportState.DONE, ImportState.FAILED):
        abort(404)
    return run


@bp.get("/<int:run_id>/rejected.csv")
@staff_only
def rejected(run_id: int):
    run = _finished_run_or_404(run_id)
    rows = [[_("Line"), _("Reason")], *services.rejected_rows(run, limit=None)]
    return spreadsheets.csv_download(rows, f"import-{run.id}-rejected.csv")


@bp.get("/<int:run_id>/notes.csv")
@staff_only
def notes(run_id: int):
    run = _finished_run_or_404(run_id)
    rows = [[_("Line"), _("Note")], *((note.line, note.text) for note in services.note_rows(run, limit=None))]
    return spreadsheets.csv_download(rows, f"import-{run.id}-notes.csv")
