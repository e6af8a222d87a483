"""Prolific: the panel most labs now recruit on (API v1 adapter, export reader, local emulator)."""
