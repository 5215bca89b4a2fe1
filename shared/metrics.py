"""The Prometheus text exposition of a process's counters, for GET /metrics."""

from __future__ import annotations

from shared.runtime import Runtime


async def render_metrics(runtime: Runtime) -> str:
    service = runtime.service
    lines = [
        f'sandbank_outbox_published_total{{service="{service}"}} {runtime.relay.published}',
        f'sandbank_outbox_backlog{{service="{service}"}} {await runtime.relay.backlog()}',
        # Rows sent again to a broker that came back empty (ADR 0013), and how often.
        f'sandbank_outbox_republished_total{{service="{service}"}} {runtime.relay.republished}',
        f'sandbank_broker_connected{{service="{service}"}} {int(runtime.broker.connected)}',
        f'sandbank_broker_lost_total{{service="{service}"}} {runtime.broker.new_brokers}',
        f'sandbank_event_loop_lag_max_seconds{{service="{service}"}} {runtime.loop_watch.take_worst():.4f}',
        f'sandbank_event_loop_stalls_total{{service="{service}"}} {runtime.loop_watch.stalls}',
    ]
    for c in runtime.consumers:
        labels = f'service="{service}",consumer="{c.name}"'
        lines += [
            f"sandbank_consumer_applied_total{{{labels}}} {c.applied}",
            f"sandbank_consumer_duplicates_total{{{labels}}} {c.duplicates}",
            f"sandbank_consumer_dead_lettered_total{{{labels}}} {c.dead_lettered}",
            # Of those, the messages refused for their sender (shared/kafka/signing.py).
            f"sandbank_consumer_untrusted_total{{{labels}}} {c.untrusted}",
            f"sandbank_consumer_lag{{{labels}}} {await c.lag()}",
            f"sandbank_consumer_rewinds_total{{{labels}}} {c.rewinds}",
        ]
    return "\n".join(lines) + "\n"
