"""Inbound: the HTTP API, the CLI commands and the background tasks of the audits service."""
