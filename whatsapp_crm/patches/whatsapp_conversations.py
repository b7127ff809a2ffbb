"""The WhatsApp inbox: one conversation row per (account, customer number) for the messages already stored.
Safe to run again (rows that exist are refreshed by the next message)."""

import frappe

from whatsapp_crm.chat import conversations
from whatsapp_crm.gateway.phones import plus_number


def execute() -> None:
	if not frappe.db.exists("DocType", "WhatsApp Message") or not frappe.db.table_exists(
		"WhatsApp Conversation"
	):
		return
	rows = frappe.db.sql(
		"""select whatsapp_account, if(type = 'Incoming', `from`, `to`) as num, max(creation) as last_at
		from `tabWhatsApp Message` where ifnull(whatsapp_account, '') != ''
		group by whatsapp_account, num""",
		as_dict=True,
	)
	latest: dict[tuple[str, str], tuple] = {}
	for row in rows:
		number = plus_number(row.num)
		if number:
			key = (row.whatsapp_account, number)
			latest[key] = max(latest.get(key, (row.last_at, row.num)), (row.last_at, row.num))
	for (account, number), (_at, raw) in latest.items():
		if frappe.db.exists("WhatsApp Conversation", {"whatsapp_account": account, "number": number}):
			continue
		names = frappe.get_all(
			"WhatsApp Message",
			filters={"whatsapp_account": account},
			or_filters={"from": raw, "to": raw},
			pluck="name",
			order_by="creation asc",
		)
		for name in names:  # each message counted, the newest last
			conversations.on_insert(frappe.get_doc("WhatsApp Message", name))
