"""The HTTP conventions every service speaks: problem+json errors, bearer tokens with scopes,
Idempotency-Key, health probes, Prometheus metrics, JSON logs with correlation ids.

``create_service_app`` (in ``shared.http.app``) puts them together; routers import what they use
from the modules directly (``shared.http.auth``, ``shared.http.idempotency``, ...).
"""
