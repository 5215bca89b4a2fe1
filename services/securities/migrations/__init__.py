"""securities schema revisions, oldest first by file name. `make migration SERVICE=securities MESSAGE=...`
adds one (docs/adr/0008-migrations.md)."""
