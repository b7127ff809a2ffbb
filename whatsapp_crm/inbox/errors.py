"""The inbox rules' typed errors: each has a stable ``code`` and names the field it is about, so the page
or form that sent the bad value can say what is wrong (in the user's language: the words here are for
logs). ``context`` holds the details a message needs (the row, the limit)."""

from __future__ import annotations


class InboxError(ValueError):
	code = "INBOX_ERROR"

	def __init__(self, message: str, *, field: str | None = None, **context: object) -> None:
		super().__init__(message)
		self.field = field
		self.context = context


class HoursOutOfOrder(InboxError):
	code = "HOURS_OUT_OF_ORDER"


class InvalidTime(InboxError):
	code = "INVALID_TIME"


class SnoozeInPast(InboxError):
	code = "SNOOZE_IN_PAST"


class SnoozeTooFar(InboxError):
	code = "SNOOZE_TOO_FAR"


class UnknownSnooze(InboxError):
	code = "UNKNOWN_SNOOZE"


class EmptyFile(InboxError):
	code = "EMPTY_FILE"


class FileTooLarge(InboxError):
	code = "FILE_TOO_LARGE"


class FileTypeNotAllowed(InboxError):
	code = "FILE_TYPE_NOT_ALLOWED"


class FileTypeMismatch(InboxError):
	code = "FILE_TYPE_MISMATCH"


class BadQuickReplyCode(InboxError):
	code = "BAD_QUICK_REPLY_CODE"
