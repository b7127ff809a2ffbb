"""The WhatsApp inbox's rules, frappe-free: business hours and automatic replies, snoozing, the files an
agent may send, response-time statistics and quick reply codes. The Frappe side (``chat/``) reads the
records and the clock and asks these modules; they import only ``gateway`` and ``sending``."""
