"""The customer aggregate, its commands and events. No I/O and no framework here."""
