"""Domain errors. Each carries a sentence fit to show the user as it is."""


class SettleError(Exception):
    """A business rule refused the action; `message` is the user's sentence."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class PermissionDenied(SettleError):
    pass


class PeriodLocked(SettleError):
    pass


class UnbalancedEntry(SettleError):
    pass


class ImmutableRecord(SettleError):
    pass
