"""An RQ worker for the portal: run as many as needed, on any machine (`python worker.py`).

It loads the app once and runs jobs inside its app context; it also runs RQ's scheduler,
which starts the jobs scheduled for later (the nightly segment recompute).
"""

from rq import Worker

from app import create_app
from app.extensions import db
from app.jobs import schedule_nightly_recompute
from app.redis import get_queue, get_redis

# An idle RQ worker waits for a job in one blocking Redis call of worker_ttl - 15 s (405 s by
# default) and runs a stop signal's handler only between such calls if the signal did not
# interrupt the call (it went to the worker's pub/sub thread: see app.launcher.start_child).
# 20 s bounds that to 5 s; a worker that vanished stays listed worker_ttl + 60 s.
WORKER_TTL = 20


def main() -> None:
    app = create_app()
    with app.app_context():
        schedule_nightly_recompute()
        db.engine.dispose()  # each forked job opens its own database connections
        Worker([get_queue()], connection=get_redis(), worker_ttl=WORKER_TTL).work(with_scheduler=True)


if __name__ == "__main__":
    main()
