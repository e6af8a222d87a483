"""Amazon Mechanical Turk: the batch-results reader, the API source, the adapter and the emulator."""
