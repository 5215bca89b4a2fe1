"""The gateway's schema revisions, oldest first by file name. `make migration SERVICE=gateway
MESSAGE=...` adds one (docs/adr/0008-migrations.md)."""
