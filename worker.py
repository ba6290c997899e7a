"""An RQ worker for the portal: run as many as needed, on any machine (`python worker.py`).

It loads the app once and runs jobs, one at a time, in its own process inside its app
context (PortalWorker); it also runs RQ's scheduler,
which starts the jobs scheduled for later (the nightly segment recompute, SMS due later), and
RQ's cron scheduler in a child process, which starts the SMS sweeper every minute. The cron
scheduler keeps its schedule in memory, so a Redis that lost its data loses no sweep.
"""

import ctypes
import logging
import multiprocessing
import os
import signal

from rq import SimpleWorker
from rq.cron import CronScheduler

from app import create_app
from app.extensions import db
from app.jobs import schedule_nightly_recompute
from app.redis import get_queue, get_redis
from app.sending.jobs import SWEEP_EVERY, sweep

# An idle RQ worker waits for a job in one blocking Redis call of worker_ttl - 15 s (405 s by
# default) and runs a stop signal's handler only between such calls if the signal did not
# interrupt the call (it went to the worker's pub/sub thread: see app.launcher.start_child).
# 20 s bounds that to 5 s; a worker that vanished stays listed worker_ttl + 60 s.
WORKER_TTL = 20


class PortalWorker(SimpleWorker):
    """Runs each job in this process, not in a forked child: a fork starts every job with cold
    caches (imports, SQLAlchemy's compiled statements, the database connection), which cost a
    one-message SMS job ~0.4 s against ~0.04 s here. Each job starts with a fresh session."""

    def execute_job(self, job, queue):
        try:
            return super().execute_job(job, queue)
        finally:
            db.session.remove()


def _end_with(parent: int) -> None:
    """Linux: this process gets SIGTERM when `parent` dies, even by SIGKILL."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # not Linux: a killed worker leaves its cron scheduler to be stopped by hand
    if os.getppid() != parent:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def run_cron(app, parent: int) -> None:
    _end_with(parent)
    with app.app_context():
        cron = CronScheduler(connection=get_redis())
        cron.register(sweep, queue_name=app.config["RQ_QUEUE"], interval=SWEEP_EVERY)
        cron.start()  # until SIGTERM or SIGINT, which reach it with the worker's process group


def _log_to_stderr() -> None:
    """The app's own log lines (the log provider's "SMS 12 to +86…") reach the worker's output."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("app")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def main() -> None:
    _log_to_stderr()
    app = create_app()
    with app.app_context():
        schedule_nightly_recompute()
        db.engine.dispose()  # the children forked below open database connections of their own
        cron = multiprocessing.Process(target=run_cron, args=(app, os.getpid()), name="sms-cron", daemon=True)
        cron.start()
        PortalWorker([get_queue()], connection=get_redis(), worker_ttl=WORKER_TTL).work(with_scheduler=True)


if __name__ == "__main__":
    main()
