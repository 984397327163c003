"""A clearinghouse simulator answering X12 270 eligibility inquiries with 271s (see app.py).

Run it with ``python -m simulators.clearinghouse --port 8090 [--members members.toml]``.
"""
