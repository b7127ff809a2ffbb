"""Sending like a careful person, frappe-free: the sending policy's maths (caps, warm-up, quiet hours,
pacing), opt-out words, placeholders and campaign recipient lists. The Frappe side (``chat/``) reads the
records and the clock and asks these modules what to do; docs/messaging.md, "Sending policy"."""
