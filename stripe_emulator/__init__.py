"""An offline, stateful stand-in for the part of Stripe that Settle uses (SPEC X1).

Run it with ``python -m stripe_emulator --port 12111 --key sk_test_...``; see
README.md. The package imports nothing from the app and needs only the
standard library.
"""

__all__ = ["__version__"]
__version__ = "1.1.0"
