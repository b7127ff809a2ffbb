# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""First response and resolution times in business hours, per agent or per WhatsApp number. The queries and the maths are ``chat/reports.py``."""

from whatsapp_crm.chat import reports


def execute(filters=None):
	return reports.response_times(filters)
