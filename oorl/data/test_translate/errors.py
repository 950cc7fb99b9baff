"""The one exception of the test translator."""


class Untranslatable(Exception):
    """A problem whose tests (or types) the translator cannot express in a language; ``reason`` is a
    short phrase, the key of the skipped-problems summary."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
