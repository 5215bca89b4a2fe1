"""payments schema revisions, oldest first by file name. `make migration SERVICE=payments MESSAGE=...`
adds one (docs/adr/0008-migrations.md)."""
