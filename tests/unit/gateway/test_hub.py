"""The notification hub: who is listening, and waking them."""

from __future__ import annotations

from gateway.notifications.hub import NotificationHub


async def test_wake_sets_the_events_of_that_customers_streams_only() -> None:
    hub = NotificationHub()
    a1, a2 = hub.subscribe("a"), hub.subscribe("a")
    b = hub.subscribe("b")
    hub.wake("a")
    assert a1.event.is_set() and a2.event.is_set() and not b.event.is_set()
    hub.wake("nobody")  # no listener: nothing happens


async def test_streams_per_customer_are_counted_and_freed_on_unsubscribe() -> None:
    hub = NotificationHub()
    subs = [hub.subscribe("a") for _ in range(2)]
    hub.subscribe("b")
    hub.unsubscribe(subs[0])
    hub.unsubscribe(subs[0])  # twice is harmless
    assert hub.streams("a") == 1 and hub.open_streams == 2
    hub.unsubscribe(subs[1])
    assert hub.streams("a") == 0


async def test_an_ended_session_wakes_its_streams() -> None:
    hub = NotificationHub()
    mine, other = hub.subscribe("a", session_id="s1"), hub.subscribe("a", session_id="s2")
    hub.wake_session("s1")
    assert mine.event.is_set() and not other.event.is_set()
