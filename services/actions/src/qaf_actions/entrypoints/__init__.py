"""Inbound: the HTTP API, the command line and the background schedule."""
