app_name = "whatsapp_crm"
app_title = "WhatsApp CRM"
app_publisher = "whatsapp_crm developers"
app_description = "Link your company's WhatsApp numbers to Frappe CRM through a self-hosted Baileys gateway"
app_email = "dev@whatsapp-crm.local"
app_license = "mit"

# Type hints are the contract of every whitelisted method (Frappe v15 enforces them at call time).
export_python_type_annotations = True

after_install = "whatsapp_crm.install.after_install"
after_migrate = [
	"whatsapp_crm.install.set_missing_defaults",
	"whatsapp_crm.chat.provider.setup",
	"whatsapp_crm.gateway_records.install.ensure_block",
	# the inbox's indexes: message text search, the list by status
	"whatsapp_crm.chat.search.ensure_indexes",
]
# frappe_whatsapp installed after this app: add the Gateway Session field to its WhatsApp Account then.
after_app_install = "whatsapp_crm.chat.provider.after_app_install"

# The form's polling state machine is a plain script shared with the node tests; Frappe appends these to the
# WhatsApp Session form's own script (doctype JS is not bundled, so it cannot be imported). The second one
# renders the session's history.
doctype_js = {
	"WhatsApp Session": [
		"public/js/whatsapp_session_poller.js",
		"public/js/whatsapp_session_history.js",
		"public/js/whatsapp_session_messages.js",
	]
}

# A session's status changes are log rows: Log Settings clears them after 90 days (each session keeps its
# newest old one, see history.clear_old).
default_log_clearing_doctypes = {"WhatsApp Session Event": 90}

# The app's own rows never stop a delete (a Lead with a conversation, an account, a session, a gateway), nor
# do the WhatsApp Messages it stores as frappe_whatsapp's provider (else CRM's Delete dialog lists every message
# as a document to delete or unlink first); chat/record_links.py decides what becomes of them, in the on_trash
# events below: the messages stay, on the record that still holds the person.
ignore_links_on_delete = [
	"WhatsApp Conversation",
	"WhatsApp Conversation Read",
	"WhatsApp Session Event",
	"WhatsApp Parked Event",
	"WhatsApp Message",
	"WhatsApp Campaign Recipient",
	"WhatsApp Opt Out",
	"WhatsApp Conversation Cycle",
]

# A session's history goes with it; the records the app's rows point at keep them right when deleted or converted.
doc_events = {
	"WhatsApp Session": {
		"on_trash": [
			"whatsapp_crm.sessions.history.delete_for_session",
			"whatsapp_crm.chat.record_links.on_session_trash",
		]
	},
	"CRM Lead": {"on_trash": "whatsapp_crm.chat.record_links.on_record_trash"},
	"CRM Deal": {
		"after_insert": "whatsapp_crm.chat.record_links.on_deal_insert",
		"on_trash": "whatsapp_crm.chat.record_links.on_record_trash",
	},
	"Contact": {"on_trash": "whatsapp_crm.chat.record_links.on_record_trash"},
	"WhatsApp Session Event": {
		"after_insert": [
			"whatsapp_crm.chat.provider.session_status_changed",
			"whatsapp_crm.chat.catchup.on_session_event",
			"whatsapp_crm.chat.outbox.flush_on_link",
			# a phone linked by a scan starts its warm-up; logged out after a burst: ban watch
			"whatsapp_crm.chat.sending.on_session_event",
			"whatsapp_crm.chat.banwatch.on_session_event",
		]
	},
	"WhatsApp Account": {
		"validate": "whatsapp_crm.chat.provider.account_validate",
		"on_trash": "whatsapp_crm.chat.record_links.on_account_trash",
	},
	# An agent's first WhatsApp reply on a Lead or Deal is its first response (as an email reply is). A
	# customer's message may be an opt-out word, or a reply to a campaign; receipts move campaign recipients.
	"WhatsApp Message": {
		"after_insert": [
			"whatsapp_crm.chat.leads.first_response",
			"whatsapp_crm.chat.conversations.on_insert",
			# after the conversation row exists: reopen it, open or answer its cycle
			"whatsapp_crm.chat.status.on_message",
			"whatsapp_crm.chat.optout.on_incoming",
			"whatsapp_crm.chat.campaign_recipients.on_incoming",
			# after opt-out: an opt-out word's confirmation is its only answer
			"whatsapp_crm.chat.hours.on_incoming",
		],
		"on_update": [
			"whatsapp_crm.chat.conversations.on_change",
			"whatsapp_crm.chat.campaign_recipients.on_message_change",
		],
	},
	# an image's thumbnail (chat/files.py) goes with it
	"File": {"on_trash": "whatsapp_crm.chat.files.on_file_trash"},
	# The inbox shows who a conversation's Lead or Deal is assigned to.
	"ToDo": {
		"after_insert": "whatsapp_crm.chat.conversations.on_assignment",
		"on_update": "whatsapp_crm.chat.conversations.on_assignment",
	},
}
# The inbox's files never change once stored: the browser may keep them (chat/files.py).
after_request = ["whatsapp_crm.chat.files.cache_media"]

# The provider for frappe_whatsapp (optional: these name doctypes only that app has). doc_events run too late
# to keep a message from going to Meta, so the class itself is extended.
override_doctype_class = {
	"WhatsApp Message": "whatsapp_crm.chat.whatsapp_message.GatewayWhatsAppMessage",
}
# A personal quick reply is its owner's alone.
has_permission = {
	"WhatsApp Message": "whatsapp_crm.chat.provider.message_has_permission",
	"WhatsApp Quick Reply": "whatsapp_crm.chat.quick_replies.has_permission",
}
permission_query_conditions = {
	"WhatsApp Message": "whatsapp_crm.chat.provider.message_query",
	"WhatsApp Quick Reply": "whatsapp_crm.chat.quick_replies.query",
}

# One watcher serves every waiting session (woken by requests); the scheduler revives it if its worker died,
# and sweeps the linked sessions' health when the interval has passed.
scheduler_events = {
	"cron": {
		"* * * * *": [
			"whatsapp_crm.sessions.watcher.keep_alive",
			"whatsapp_crm.sessions.sweep.run_if_due",
			"whatsapp_crm.chat.catchup.run_due",
			"whatsapp_crm.chat.parked.replay_parked",
			"whatsapp_crm.chat.outbox.sweep",
			"whatsapp_crm.chat.campaigns.start_scheduled",
			"whatsapp_crm.chat.status.wake_snoozed",
		],
		# numbers sending campaigns: delivery falling, many numbers not on WhatsApp (chat/banwatch.py)
		"*/5 * * * *": ["whatsapp_crm.chat.banwatch.watch"],
	},
}
