"""Messages through linked sessions, in Frappe: the provider for frappe_whatsapp (so Frappe CRM's WhatsApp tab
works on the team's gateway), the send queue, inbound storage and the session form's recent messages."""
