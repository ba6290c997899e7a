"""The import job: runs in an RQ worker, inside the app context worker.py pushes.

It carries only the ImportRun's id; the run row holds the file, the mapping and, at the end,
the report. Progress goes to the job's meta (app.jobs.report_progress).
"""

from flask import current_app
from flask_babel import force_locale

from .. import audit_log
from ..extensions import db
from ..jobs import enqueue_segment_recompute, report_progress
from ..models import AuditAction, ImportRun, ImportState, User, utcnow
from .importer import Counts, import_table
from .presets import KNOWN_COLUMNS, PRESETS
from .rows import RowReader
from .tables import TableError, known_columns, read_table

# The job's time limit: far above what 100,000 rows take (well under a minute on SQLite).
JOB_TIMEOUT = 60 * 60


def run_import(run_id: int) -> dict | None:
    """Import the file of ImportRun `run_id`; returns the counts (the run row keeps them too)."""
    run = db.session.get(ImportRun, run_id)
    if run is None or run.state not in (ImportState.QUEUED, ImportState.RUNNING):
        return None  # discarded, or already finished by an earlier attempt
    preset, mapping = PRESETS[run.preset], dict(run.mapping or {})
    owner_id, actor_id = run.owner_id, run.started_by_id
    counts = Counts()
    try:
        table = read_table(run.content, run.filename, known_columns(KNOWN_COLUMNS))
        # One update: on SQLite, updating the run rewrites its whole row, the file included.
        run.state, run.total_rows = ImportState.RUNNING, table.approximate_rows
        run.started_at = run.started_at or utcnow()
        db.session.commit()
        reader = RowReader.for_table(preset, mapping, table, current_app.config)
        import_table(table, reader, counts, owner_id=owner_id, actor_id=actor_id, progress=report_progress)
    except Exception as error:
        db.session.rollback()
        _finish(run_id, counts, error=describe_failure(error))
        raise
    _finish(run_id, counts)
    return counts.summary()


def describe_failure(error: Exception) -> str:
    """What a failed job stores as its error (the blacklist's import job says it the same way)."""
    if isinstance(error, TableError):
        with force_locale("en"):  # no reader here: store the source text
            return str(error.message)
    return f"{type(error).__name__}: {error}"[:1000]


def _finish(run_id: int, counts: Counts, error: str | None = None) -> None:
    """Record the report (or the failure), audit it, and have the segments recomputed."""
    run = db.session.get(ImportRun, run_id)
    run.state = ImportState.FAILED if error else ImportState.DONE
    run.error = error
    run.total_rows = counts.total
    run.created, run.updated, run.skipped = counts.created, counts.updated, counts.skipped
    run.customers_created = counts.customers_created
    run.older, run.line_items = counts.older, counts.line_items
    run.joined_by_phone, run.phones_dropped = counts.joined_by_phone, counts.phones_dropped
    run.rejected = counts.rejected
    run.rejected_count = len(counts.rejected)
    run.notes = counts.notes
    run.finished_at = utcnow()
    actor = db.session.get(User, run.started_by_id)
    after = counts.summary() | ({"error": error} if error else {})
    audit_log.record(
        AuditAction.IMPORT_FAILED if error else AuditAction.IMPORT_FINISHED,
        subject=f"import:{run_id}",
        after=after,
        actor=actor,
    )
    db.session.commit()
    if counts.written:  # batches committed before a failure count too
        enqueue_segment_recompute()
