"""Inbound: the HTTP routes, the CLI's replay command and the publisher's background loop."""
