# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""Conversations opened and resolved per day, from the inbox's cycles. The queries and the maths are ``chat/reports.py``."""

from whatsapp_crm.chat import reports


def execute(filters=None):
	return reports.conversations_per_day(filters)
