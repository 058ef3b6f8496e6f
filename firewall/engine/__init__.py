"""The signature engine: pure functions and immutable data, no I/O beyond reading signature files."""
