"""Imports as the pages see them: upload, mapping, starting the job, progress, the report."""

from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import delete, select, update
from sqlalchemy.orm import defer, joinedload

from ..extensions import db
from ..labels import PLATFORM_LABELS
from ..models import ImportRun, ImportState, User, utcnow
from ..redis import get_queue, get_redis
from ..templating import display_phone
from .jobs import JOB_TIMEOUT, run_import
from .presets import KNOWN_COLUMNS, PRESETS, Preset, better_preset
from .rows import BlankRow, RowReader
from .tables import Table, TableError, known_columns, read_table
from .values import REASONS, RowError

PREVIEW_ROWS = 5
REPORT_ROWS = 200  # rejected rows (and notes) shown on the page; the CSVs have them all


def read_upload(content: bytes, filename: str, preset: Preset) -> tuple[Table, dict]:
    """The file as a table and the preset's suggested mapping; TableError if it is not a
    table, or lacks a column the preset requires."""
    table = read_table(content, filename, known_columns(KNOWN_COLUMNS))
    # Counting the rows (the mapping page shows them) reads to the end: a file damaged further
    # down is refused here, next to the file field.
    table.row_count  # noqa: B018
    mapping = preset.suggest(table.header)
    missing = preset.missing(mapping)
    if missing:
        columns = ", ".join(f"{f.label} ({preset.columns[f.key][0]})" for f in missing)
        message = _("Columns missing for a %(kind)s: %(columns)s.", kind=preset.label, columns=columns)
        other = better_preset(preset, table.header)
        if other is not None:
            message += " " + _("The file looks like a %(kind)s: choose that kind of file.", kind=other.label)
        else:
            message += " " + _("Check the kind of file, or start from the generic template.")
        raise TableError(message)
    return table, mapping


def create_run(filename: str, content: bytes, preset: Preset, owner_id: int | None, actor: User) -> ImportRun:
    """Check the upload and keep it, waiting for its mapping; TableError writes nothing."""
    mapping = read_upload(content, filename, preset)[1]
    run = ImportRun(
        filename=filename[:255] or "upload",
        content=content,
        preset=preset.key,
        mapping=mapping,
        state=ImportState.MAPPING,
        owner_id=owner_id,
        started_by_id=actor.id,
    )
    db.session.add(run)
    db.session.flush()
    return run


def table_of(run: ImportRun) -> Table:
    return read_table(run.content, run.filename, known_columns(KNOWN_COLUMNS))


def recent_runs():
    """Every import of order history, newest first (a query for the page helper), without the
    rejected rows."""
    return (
        select(ImportRun)
        .where(ImportRun.preset.in_(PRESETS))
        .options(defer(ImportRun.rejected), defer(ImportRun.notes), joinedload(ImportRun.started_by))
        .order_by(ImportRun.created_at.desc(), ImportRun.id.desc())
    )


def discard(run: ImportRun) -> bool:
    """Forget an upload whose mapping was never confirmed."""
    gone = db.session.execute(delete(ImportRun).where(ImportRun.id == run.id, ImportRun.state == ImportState.MAPPING))
    return bool(gone.rowcount)


@dataclass
class PreviewRow:
    line: int
    cells: list
    row: object | None  # OrderRow or ReviewRow
    reason: str | None


def preview(table: Table, preset: Preset, mapping: dict) -> list[PreviewRow]:
    """The first rows as the import will read them with `mapping`: values, or why a row fails."""
    reader = RowReader.for_table(preset, mapping, table, current_app.config)
    rows = []
    for line, cells in table.first_rows(PREVIEW_ROWS):
        try:
            rows.append(PreviewRow(line, list(cells), reader.read(line, cells), None))
        except BlankRow:
            continue
        except RowError as error:
            rows.append(PreviewRow(line, list(cells), None, reason_text(error.code, error.params, error.reason)))
    return rows


def start(run: ImportRun, mapping: dict) -> bool:
    """Queue the import with this mapping; False if it was already started (a second click)."""
    job_id = f"import-{run.id}"
    claimed = db.session.execute(
        update(ImportRun)
        .where(ImportRun.id == run.id, ImportRun.state == ImportState.MAPPING)
        .values(state=ImportState.QUEUED, mapping=mapping, job_id=job_id, started_at=utcnow())
    ).rowcount
    db.session.commit()  # before enqueueing: the worker must find the run queued
    if not claimed:
        return False
    try:
        get_queue().enqueue(
            run_import, run.id, job_id=job_id, job_timeout=JOB_TIMEOUT, description=f"import {run.id}: {run.filename}"
        )
    except RedisError:
        db.session.execute(
            update(ImportRun).where(ImportRun.id == run.id).values(state=ImportState.MAPPING, job_id=None)
        )
        db.session.commit()
        raise
    return True


@dataclass
class Progress:
    done: int = 0
    total: int = 0
    finished: bool = False
    stopped: bool = False  # the job ended (or vanished) without recording an outcome
    unknown: bool = False  # Redis did not answer

    @property
    def polling(self) -> bool:
        return not (self.finished or self.stopped)

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.done / self.total)) if self.total else 0


def progress_of(run: ImportRun) -> Progress:
    """While the job runs: its progress from its meta; once finished, the run row is the record."""
    if run.state in (ImportState.DONE, ImportState.FAILED):
        return Progress(run.total_rows, run.total_rows, finished=True)
    try:
        job = Job.fetch(run.job_id, connection=get_redis())
        meta = job.get_meta(refresh=True)
        ended = job.get_status() in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)
    except NoSuchJobError:
        meta, ended = {}, True
    except RedisError:
        return Progress(0, run.total_rows, unknown=True)
    if ended:
        db.session.refresh(run)  # the job may have recorded its outcome since the run was read
        if run.state in (ImportState.DONE, ImportState.FAILED):
            return Progress(run.total_rows, run.total_rows, finished=True)
    done_total = meta.get("progress") or {}
    return Progress(done_total.get("done", 0), done_total.get("total") or run.total_rows, stopped=ended)


def reason_text(code: str | None, params: dict | None, fallback: str, reasons: dict = REASONS) -> str:
    """A rejection reason in the reader's language (`reasons`: the texts of its codes)."""
    if code in reasons:
        try:
            return _(reasons[code], **(params or {}))
        except (KeyError, TypeError, ValueError):  # a translation or entry that does not fit
            pass
    return fallback


def rejected_rows(run: ImportRun, limit: int | None = REPORT_ROWS) -> list[tuple[int, str]]:
    entries = (run.rejected or [])[:limit] if limit else (run.rejected or [])
    return [(e["line"], reason_text(e.get("code"), e.get("params"), e.get("reason", ""))) for e in entries]


@dataclass
class Note:
    line: int
    text: str
    customer_id: int | None  # the customer the row joined by phone


def note_rows(run: ImportRun, limit: int | None = REPORT_ROWS) -> list[Note]:
    """The rows imported with a note, the platform and phone as the reader knows them."""
    entries = (run.notes or [])[:limit] if limit else (run.notes or [])
    notes = []
    for e in entries:
        params = dict(e.get("params") or {})
        if "platform" in params:
            params["platform"] = PLATFORM_LABELS.get(params["platform"], params["platform"])
        if params.get("phone"):
            params["phone"] = display_phone(params["phone"])
        notes.append(Note(e["line"], reason_text(e.get("code"), params, e.get("reason", "")), e.get("customer_id")))
    return notes
