"""Sources beyond a folder: each kind lists items (id, version, title, URL, content) for ingest.sync."""
