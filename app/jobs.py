"""Background jobs. They run in worker.py, inside the app context it pushes.

Jobs carry ids only; the database is the record of what a job must do.
"""

from datetime import UTC

from flask import current_app
from rq import get_current_job

from .extensions import db
from .followups.services import open_first_tasks
from .models import utcnow
from .redis import get_queue, get_redis
from .segments import Thresholds, recompute
from .shop_calendar import next_time_of_day

# Set while a recompute is queued and not yet started: one waiting covers every import
# that finishes meanwhile.
RECOMPUTE_PENDING = "segments-recompute-pending"


def recompute_segments() -> int:
    """Recompute segments, then open the first follow-up of owned customers never followed up.

    Imports run this after they finish: a buyer's first revisit is due after their last paid
    order, which only the recompute knows.
    """
    get_redis().delete(RECOMPUTE_PENDING)  # data written from now on needs the next run
    changed = recompute(db.session.connection(), utcnow(), Thresholds.from_config(current_app.config))
    db.session.commit()
    open_first_tasks()
    db.session.commit()
    return changed


def nightly_recompute_segments() -> int:
    changed = recompute_segments()
    schedule_nightly_recompute()
    return changed


def enqueue_segment_recompute() -> bool:
    """Have segments recomputed soon; False if a recompute is already waiting to start."""
    # The hour's expiry frees the flag if a worker dies before the job starts.
    if not get_redis().set(RECOMPUTE_PENDING, 1, nx=True, ex=3600):
        return False
    get_queue().enqueue(recompute_segments)
    return True


def schedule_nightly_recompute():
    """Schedule tonight's recompute; every worker calls this and they collapse into one job."""
    run_at = next_time_of_day(utcnow(), current_app.config["SEGMENT_RECOMPUTE_AT"])
    job_id = f"segments-nightly-{run_at:%Y%m%d}"
    queue = get_queue()
    if queue.fetch_job(job_id) is None:
        queue.enqueue_at(run_at.replace(tzinfo=UTC), nightly_recompute_segments, job_id=job_id)
    return job_id


def report_progress(done: int, total: int) -> None:
    job = get_current_job()
    if job is not None:
        job.meta["progress"] = {"done": done, "total": total}
        job.save_meta()
