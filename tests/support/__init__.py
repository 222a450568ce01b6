"""Helpers for the test fixtures: where the session's Kafka and Redis come from."""
