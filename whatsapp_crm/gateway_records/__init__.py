"""Frappe side of the WhatsApp Gateway doctype: which server a session lives on, a client for it, its
detection, webhook address, circuit breaker and health (see ``config``)."""
