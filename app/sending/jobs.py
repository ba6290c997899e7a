"""The SMS jobs worker.py runs: a batch of message ids to send, and the sweeper."""

from datetime import timedelta

from ..extensions import db
from ..redis import get_redis
from . import engine, inbound

SWEEP_EVERY = 60  # seconds; RQ's cron scheduler in worker.py starts the sweep this often
_SWEEPING = "sms:sweeping"


def send_batch(ids: list[int]) -> dict:
    return vars(engine.send_batch(ids))


def record_own_receipts(provider_name: str, message_ids: list[int]) -> int:
    """The receipts an adapter makes itself (the log provider's): delivered, every one."""
    recorded = inbound.record_deliveries(provider_name, message_ids)
    db.session.commit()
    return recorded


def sweep() -> dict | None:
    """Run the sweeper, once however many workers' cron schedulers asked for it this minute."""
    if not get_redis().set(_SWEEPING, 1, nx=True, ex=timedelta(seconds=SWEEP_EVERY - 5)):
        return None
    return vars(engine.sweep())
