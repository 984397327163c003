"""Stand-ins for the outside systems the platform talks to, for development and tests only."""
