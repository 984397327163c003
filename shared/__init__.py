"""The platform library every service stands on.

Envelope, event store, relay, consumer, projections, money, clock and the HTTP conventions live here
once; services import from here and never from each other.
"""
