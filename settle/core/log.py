"""Logging helpers."""

import logging
import sys


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the moment of each record.

    A plain StreamHandler keeps the stream it was configured with; when that stream is
    replaced and closed (as a test runner's output capture does), later records fail.
    """

    def __init__(self):
        super().__init__(stream=sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass
