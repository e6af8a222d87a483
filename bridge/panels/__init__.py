"""The panels a wave can be recruited on, each in its own folder (reader, API source,
adapter, emulator)."""
