"""Kafka, PostgreSQL and HTTP adapters."""
