"""Readers that turn the two sides of a wave into typed tables (see `bridge.models`)."""
