"""Dates as a bookkeeper writes them, the same on every page: 23 Nov 2026."""

DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
# ISO (what date pickers send) or "26 Nov 2026"; no 11/12/2026, which reads two ways.
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d %b %Y"]
