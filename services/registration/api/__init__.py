"""Registration's HTTP API (/v1)."""
