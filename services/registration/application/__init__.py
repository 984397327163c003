"""Registration's use cases and read models."""
