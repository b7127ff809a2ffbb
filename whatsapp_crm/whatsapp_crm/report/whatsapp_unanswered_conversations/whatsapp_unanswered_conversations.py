# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""Open conversations waiting on the team for more than an hour of business time. The queries and the maths are ``chat/reports.py``."""

from whatsapp_crm.chat import reports


def execute(filters=None):
	return reports.unanswered(filters)
