"""Deployment tooling: the topic catalogue (topics.py), collection agencies' access (agencies.py).

A package so tests can import the tools (``from deploy.agencies import provision_agency``); each
tool also runs as a script, e.g. ``.venv/bin/python deploy/agencies.py``."""
