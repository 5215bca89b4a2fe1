"""Signed webhooks: endpoints a customer (or an operator, for every customer) registers,
each notification they want delivered to them as a signed POST, retried with backoff,
logged with the answers, and replayable (docs/webhooks.md)."""
