"""The sending layer's typed errors: each has a stable ``code`` and names the field it is about, so the form
that saved the bad value can say which one (in the user's language: the words here are for logs)."""

from __future__ import annotations


class SendingError(ValueError):
	code = "SENDING_ERROR"

	def __init__(self, message: str, *, field: str | None = None, **context: object) -> None:
		super().__init__(message)
		self.field = field
		self.context = context


class InvalidCap(SendingError):
	code = "INVALID_CAP"


class CapsOutOfOrder(SendingError):
	code = "CAPS_OUT_OF_ORDER"


class InvalidQuietHours(SendingError):
	code = "INVALID_QUIET_HOURS"


class InvalidGap(SendingError):
	code = "INVALID_GAP"


class InvalidWarmUp(SendingError):
	code = "INVALID_WARM_UP"


class UnknownPlaceholder(SendingError):
	code = "UNKNOWN_PLACEHOLDER"


class TextTooLong(SendingError):
	code = "TEXT_TOO_LONG"


class StartInPast(SendingError):
	code = "START_IN_PAST"
