"""Ban watch: the signs that WhatsApp is about to ban, or has restricted, a number. Each finding has a stable
code; the Frappe side pauses the number's campaigns and tells its owner and the WhatsApp Managers."""

from __future__ import annotations

from dataclasses import dataclass

LOGGED_OUT_AFTER_BURST = "logged_out_after_burst"
DELIVERY_DROP = "delivery_drop"
MANY_NOT_ON_WHATSAPP = "many_not_on_whatsapp"
FINDINGS = (LOGGED_OUT_AFTER_BURST, DELIVERY_DROP, MANY_NOT_ON_WHATSAPP)

BURST = 20  # sends in the hour before a logout that make it look like WhatsApp's doing
MIN_SAMPLE = 20  # below this many messages a rate says nothing
DROP_RATIO = 0.5  # delivered share now, against before, at or under which delivery "fell sharply"
LOW_DELIVERY = 0.3  # a delivered share this low is a fall whatever it was before
NOT_ON_WHATSAPP_SHARE = 0.3  # of the numbers checked


@dataclass(frozen=True)
class Signals:
	sent_last_hour: int = 0
	logged_out: bool = False
	recent_sent: int = 0  # campaign messages sent in the recent window, old enough to be delivered
	recent_delivered: int = 0
	before_sent: int = 0  # the same, in the window before it
	before_delivered: int = 0
	checked: int = 0  # numbers checked in the recent window
	not_on_whatsapp: int = 0


def assess(s: Signals) -> str | None:
	"""The most serious finding, or None."""
	if s.logged_out and s.sent_last_hour >= BURST:
		return LOGGED_OUT_AFTER_BURST
	if s.recent_sent >= MIN_SAMPLE:
		now = s.recent_delivered / s.recent_sent
		before = s.before_delivered / s.before_sent if s.before_sent >= MIN_SAMPLE else None
		if now <= LOW_DELIVERY or (before and now <= before * DROP_RATIO):
			return DELIVERY_DROP
	if s.checked >= MIN_SAMPLE and s.not_on_whatsapp / s.checked >= NOT_ON_WHATSAPP_SHARE:
		return MANY_NOT_ON_WHATSAPP
	return None
