"""Conversation status: the conversations stored before it existed became Open. Those the customer never
wrote in (a campaign, a first message from CRM) are Pending instead, as new ones begin (chat/status.py), so
the Open tab holds what the team has to answer. Safe to run again."""

import frappe


def execute() -> None:
	if not frappe.db.table_exists("WhatsApp Conversation"):
		return
	frappe.db.sql(
		"""update `tabWhatsApp Conversation` set status = 'Pending'
		where ifnull(incoming_count, 0) = 0 and ifnull(status, 'Open') = 'Open' and cycle is null"""
	)
	frappe.db.sql("update `tabWhatsApp Conversation` set status = 'Open' where ifnull(status, '') = ''")
