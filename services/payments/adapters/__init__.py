"""Payments' adapters: the technologies its domain is kept apart from (X12, gateways, events)."""
