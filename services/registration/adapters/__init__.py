"""Registration's adapters: where customers are stored."""
