"""Inbound: the HTTP routes, the command line and the monthly scheduler."""
