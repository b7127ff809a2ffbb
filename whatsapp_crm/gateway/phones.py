"""Phone numbers, in one place; each helper's name says what it returns. Frappe-free: reading a number in
the site's own country (which needs the site) is ``whatsapp_crm.chat.numbers.site_digits``, over
``digits_in_region`` here."""

from __future__ import annotations

import re
from typing import Any

from .errors import InvalidPhone


def phone_digits(phone: Any) -> str:
	"""International number as digits: spaces, dashes, parentheses and a leading "+" dropped; 8-15 digits.
	InvalidPhone for anything else."""
	digits = re.sub(r"[\s()-]", "", phone) if isinstance(phone, str) else ""
	digits = digits.removeprefix("+")
	if not re.fullmatch(r"[0-9]{8,15}", digits):
		# The number itself is personal data: never in the message.
		raise InvalidPhone("phone number must be 8-15 digits, with an optional leading +")
	return digits


def plus_number(number: str | None) -> str | None:
	"""``+`` and the digits, for a plausible international number (8-15 digits, no leading 0), else None."""
	digits = re.sub(r"\D", "", number or "")
	if not 8 <= len(digits) <= 15 or digits.startswith("0"):
		return None
	return "+" + digits


def with_plus(digits: str) -> str:
	return f"+{digits}"


def jid_digits(value: Any) -> str | None:
	"""The number in a WhatsApp id: "34600111222:12@s.whatsapp.net" and "34600111222@c.us" -> digits."""
	if not isinstance(value, str | int) or isinstance(value, bool):
		return None
	head = str(value).split("@", 1)[0].split(":", 1)[0].strip().removeprefix("+")
	return head[:32] or None


def digits_in_region(number: str | None, region: str | None) -> str:
	"""International digits of a number written with its country code, or in ``region`` (an ISO country
	code) when it has none; "00" counts as "+". InvalidPhone for what is not a possible number."""
	import phonenumbers  # a dependency of Frappe itself; only this helper needs it

	text = (number or "").strip()
	if text.startswith("00"):
		text = "+" + text[2:]
	try:
		parsed = phonenumbers.parse(text, None if text.startswith("+") else region)
		if phonenumbers.is_possible_number(parsed):
			return phone_digits(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
	except phonenumbers.NumberParseException:
		pass
	raise InvalidPhone("not a possible phone number in that region")
