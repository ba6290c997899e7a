"""An RQ worker for the portal: run as many as needed, on any machine (`python worker.py`).

It loads the app once and runs jobs inside its app context; it also runs RQ's scheduler,
which starts the jobs scheduled for later (the nightly segment recompute).
"""

from rq import Worker

from app import create_app
from app.extensions import db
from app.jobs import schedule_nightly_recompute
from app.redis import get_queue, get_redis


def main() -> None:
    app = create_app()
    with app.app_context():
        schedule_nightly_recompute()
        db.engine.dispose()  # each forked job opens its own database connections
        Worker([get_queue()], connection=get_redis()).work(with_scheduler=True)


if __name__ == "__main__":
    main()
