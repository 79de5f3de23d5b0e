"""The payments tests use the emulator fixtures of tests/stripe_fixtures.py (`emulator`,
`stripe_key`, `stripe_clearing`, `processor`), registered for the whole suite in tests/conftest.py."""
