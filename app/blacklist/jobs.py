"""The import of a list of numbers to blacklist: runs in an RQ worker, in worker.py's app context.

The job carries only the ImportRun's id (preset services.IMPORT_PRESET); the run holds the
file, the reason chosen and, at the end, the report. Rows are written in batches, each
committed; a batch the database refuses (someone blacklisted one of its numbers meanwhile)
is written again a row at a time, so a row is added whole (entry and audit entry) or not at
all, and a number blacklisted already is left as it is, which makes a second import add nothing.
"""

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from .. import audit_log
from ..extensions import db
from ..imports.jobs import describe_failure
from ..jobs import report_progress
from ..models import AuditAction, ImportRun, ImportState, User, utcnow
from . import services
from .lists import NOTES, Rejected, RowReader, read_list

BATCH_SIZE = 500
JOB_TIMEOUT = 60 * 60  # far above what a list of numbers takes


@dataclass
class Counts:
    total: int = 0  # rows read (blank rows are not)
    rejected: list[dict] = field(default_factory=list)  # as ImportRun.rejected
    notes: list[dict] = field(default_factory=list)  # the rows blacklisted already
    added: dict[str, int] = field(default_factory=dict)  # phone → the line that added it

    def reject(self, line: int, error: Rejected) -> None:
        self.rejected.append({"line": line, "reason": error.reason, "code": error.code, "params": error.params})

    def took(self, done: services.Added) -> None:
        """What a committed batch did."""
        for line, phone in done.added:
            self.added[phone] = line
        for line, phone in done.already:
            self.already(line, phone)

    def already(self, line: int, phone: str) -> None:
        """Line `line`'s phone is blacklisted already: by an earlier line of this file, or before it."""
        first = self.added.get(phone)
        code, params = ("repeated", {"phone": phone, "first": first}) if first else ("already", {"phone": phone})
        self.notes.append({"line": line, "code": code, "params": params, "reason": NOTES[code] % params})

    def summary(self) -> dict:
        return {
            "total": self.total,
            "added": len(self.added),
            "already": len(self.notes),
            "rejected": len(self.rejected),
        }


def run_import(run_id: int) -> dict | None:
    """Blacklist the numbers of ImportRun `run_id`; returns the counts (the run keeps them too)."""
    run = db.session.get(ImportRun, run_id)
    if (
        run is None
        or run.preset != services.IMPORT_PRESET
        or run.state not in (ImportState.QUEUED, ImportState.RUNNING)
    ):
        return None  # not a list of numbers, or already finished by an earlier attempt
    reason, actor_id = (run.mapping or {}).get("reason"), run.started_by_id
    region = current_app.config["PHONE_REGION"]
    counts = Counts()
    try:
        table, columns = read_list(run.content, run.filename, region)
        # One update: on SQLite, updating the run rewrites its whole row, the file included.
        run.state, run.total_rows = ImportState.RUNNING, table.approximate_rows
        run.started_at = run.started_at or utcnow()
        db.session.commit()
        reader, batch = RowReader(columns, region), []
        for line, cells in table.rows():
            if reader.blank(cells):
                continue
            counts.total += 1
            try:
                batch.append((line, *reader.read(cells)))
            except Rejected as error:
                counts.reject(line, error)
                continue
            if len(batch) >= BATCH_SIZE:
                _write(batch, reason, run_id, actor_id, counts)
                batch = []
                report_progress(counts.total, max(table.approximate_rows, counts.total))
        _write(batch, reason, run_id, actor_id, counts)
    except Exception as error:
        db.session.rollback()
        _finish(run_id, counts, error=describe_failure(error))
        raise
    _finish(run_id, counts)
    return counts.summary()


def _write(batch: list[tuple], reason: str, run_id: int, actor_id: int, counts: Counts) -> None:
    """Add a batch's rows and commit; if the database refuses it, each row on its own."""
    if not batch:
        return
    source, actor = f"import:{run_id}", db.session.get(User, actor_id)
    try:
        done = services.add_many(batch, reason, source, actor)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
    else:
        counts.took(done)
        return
    for line, phone, note in batch:
        try:
            done = services.add_many([(line, phone, note)], reason, source, db.session.get(User, actor_id))
            db.session.commit()
        except IntegrityError:  # blacklisted by someone else since the batch was read
            db.session.rollback()
            counts.already(line, phone)
        except SQLAlchemyError as error:
            db.session.rollback()
            counts.reject(line, Rejected("not_saved", error=type(error).__name__))
        else:
            counts.took(done)


def _finish(run_id: int, counts: Counts, error: str | None = None) -> None:
    """Record the report (or the failure) on the run, and in the audit log."""
    run = db.session.get(ImportRun, run_id)
    run.state = ImportState.FAILED if error else ImportState.DONE
    run.error = error
    run.total_rows = counts.total
    run.created, run.skipped = len(counts.added), len(counts.notes)
    run.rejected, run.rejected_count = counts.rejected, len(counts.rejected)
    run.notes = counts.notes
    run.finished_at = utcnow()
    audit_log.record(
        AuditAction.IMPORT_FAILED if error else AuditAction.IMPORT_FINISHED,
        subject=f"import:{run_id}",
        after={"kind": services.IMPORT_PRESET, **counts.summary()} | ({"error": error} if error else {}),
        actor=db.session.get(User, run.started_by_id),
    )
    db.session.commit()
