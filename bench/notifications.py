"""The gateway's notifications consumer in process, with no broker: N completed transfers
told to both customers, on a SQLite file, for an exact count of instructions.

    python -m bench.notifications 400

Each transfer is the PaymentCompleted payments publishes when it is done, which the gateway
turns into two notifications (the payer's and the payee's) in its consumer's batch:
the inbox, the notification rows and their ids, the devices' and webhooks' checks (the
gateway runs in sandbox mode, as the stack does; no device and no endpoint is registered,
as in `bench.transfers`), the commit and the streams' wake-up. BATCH sets how many
messages a batch holds (100), AUTH_KEYS_DIR the key pairs the records are signed with
(`sandbank keys --dir DIR` makes them), as in `bench.consumers`.

Run it under `valgrind --tool=callgrind` with N and with 0; the difference over N is what
one transfer's notifications cost the gateway (README, Speed). The other events of a
transfer the consumer skips by their type header, unparsed, and are left out.

Both runs first apply one transfer (its statements compiled, the devices' and endpoints'
tables read by the hub's presences, gateway/presence.py), and the presences then keep
their answer: they read again once a second, a read a running gateway spreads over
hundreds of transfers but one that valgrind's slowness would repeat on every batch."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid

from sqlalchemy import func, select

from bench.consumers import _as_started, apply_all, record
from shared.events import payments as pay
from shared.settings import DbSettings


async def notifications(directory: str, n: int) -> int:
    from gateway import store
    from gateway.main import create_app
    from gateway.notifications.store import Notification
    from gateway.settings import Settings

    app = create_app(Settings(service="gateway", db=DbSettings(url=f"sqlite+aiosqlite:///{directory}/gateway.db")))
    runtime = app.state.gateway.runtime
    await runtime.db.create_all(store.Base.metadata)
    hub = app.state.gateway.hub
    for presence in [hub.devices, *(recorder.enabled for recorder in hub.recorders)]:
        presence.recheck_s = float("inf")
    consumer = runtime.consumers[0]
    await consumer.apply([record(_completed(-1), "payments")])
    _as_started()
    await apply_all(consumer, [record(_completed(i), "payments") for i in range(n)])
    async with runtime.db.read() as session:
        told = await session.scalar(select(func.count()).select_from(Notification))
    await runtime.db.dispose()
    return int(told or 0) - 2


def _completed(i: int) -> pay.PaymentCompleted:
    """Transfer i, between one of 50 payers and one payee (two notifications)."""
    return pay.PaymentCompleted(
        payment_id=str(uuid.uuid4()),
        customer_id=f"c{i % 50}",
        kind="transfer",
        payer_account_id=f"a{i % 50}",
        payee_account_id="b",
        payee_customer_id="cb",
        amount_minor=100,
        currency="CNY",
        entry_id=f"e{i}",
    )


def main() -> int:
    n = int(sys.argv[1])
    with tempfile.TemporaryDirectory() as directory:
        told = asyncio.run(notifications(directory, n))
    print(f"notifications: {told} of {2 * n} told")
    return 0 if told == 2 * n else 1


if __name__ == "__main__":
    sys.exit(main())
