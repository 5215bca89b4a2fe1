"""The way to the services: pooled clients, the pass-through route table and its builder,
and Idempotency-Keys on the requests that move money."""
