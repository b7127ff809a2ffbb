"""Plain-words messages for each outcome, in English; one source for the CLI and the Frappe layer.

The Frappe layer passes the template through ``frappe._`` and formats it; the local ``_`` below only marks
the strings so that ``bench generate-pot-file`` extracts them (this package never imports frappe).
"""

from __future__ import annotations

from . import errors


def _(text: str) -> str:
	return text


QR_READY = _("Scan this QR code with the phone you want to link.")
WHERE_TO_SCAN = _("On your phone: WhatsApp > Linked devices > Link a device")
CONNECTED = _("WhatsApp is linked to {0}.")
CONNECTED_NO_PHONE = _("WhatsApp is linked.")
CREATING = _("Creating the session on the gateway...")
NOT_CREATED_YET = _("This session has not been created on the gateway yet. Click Create session.")
LOGGED_OUT = _("The phone was unlinked and the session was removed from the gateway.")

# Why a QR may never come, named in plain words (the diagnosis after a while without one, and the probe).
NO_QR_CAUSES = _(
	"The gateway produced no QR code in {0} s. Usually it cannot reach WhatsApp (network, proxy or firewall on the gateway's host), or its WhatsApp Web version is outdated (for Evolution API, update it or set CONFIG_SESSION_PHONE_VERSION)."
)

# whatsapp-crm doctor and Test connection, one line per check.
DOCTOR_BAD_URL = _(
	"The Gateway URL must start with http:// or https:// and name a host, with no query or spaces."
)
DOCTOR_NO_KEY = _("This gateway type needs an API key. Set it on its WhatsApp Gateway record.")
DOCTOR_REACHABLE = _("The gateway answers ({0} ms).")
DOCTOR_TLS_OK = _("The gateway's TLS certificate is valid.")
DOCTOR_TLS_FAILED = _(
	"The TLS connection to the gateway failed: its certificate is not trusted or does not match the host name."
)
DOCTOR_TLS_PLAIN_HTTP = _(
	"This port answers plain HTTP, not HTTPS: write the Gateway URL with http://, or put the gateway behind a TLS proxy."
)
DOCTOR_TYPE = _("Gateway: {0}.")
DOCTOR_TYPE_CHECKED = _("Gateway: {0}. This app was checked against versions {1} (simulated) and {2} (real).")
DOCTOR_TYPE_NOT_CHECKED = _(
	"Gateway: {0}. This version was not checked: this app was checked against versions {1} (simulated) and {2} (real), so some answers may differ."
)
DOCTOR_UNKNOWN_GATEWAY = _(
	"Something answers at this URL, but it is not a Baileys REST, Evolution API or WAHA gateway. Check the URL."
)
DOCTOR_NOT_THAT_TYPE = _(
	"Something answers at this URL, but not as {0} does. Check the URL and the gateway type."
)
DOCTOR_OTHER_TYPE = _(
	"This URL answers as {0} does, not as {1}. Set the gateway type to {0} (or Auto-detect), or check the URL."
)
DOCTOR_STALLS = _(
	"The gateway answers its health check, but not a call about sessions: it is stuck or overloaded. Restart it or read its logs."
)
DOCTOR_KEY_OK = _("The gateway accepts the API key.")
DOCTOR_KEY_UNKNOWN = _("The gateway is reachable, but its answer to an authenticated call was unexpected.")
DOCTOR_KEY_UNCHECKED = _("This gateway accepts any API key (it checks none).")
DOCTOR_WAHA_KEY_NEEDED = _("This WAHA gateway needs an API key: set WAHA_API_KEY's value in API Key.")
DOCTOR_PROBE_OK = _("The gateway can reach WhatsApp: a test session got a QR code in {0} s.")
DOCTOR_PROBE_ONE_SESSION = _(
	"Skipped the test session: this WAHA runs only the session named default, and the test would disturb it."
)

# Catch-up: reading back what the gateway stored, when webhooks were missed.
HISTORY_STORE_OFF = _(
	"This WAHA session keeps no message store, so messages missed while webhooks were down cannot be recovered. Click Create session once: it turns the NOWEB store on (config.noweb.store.enabled and fullSync)."
)
HISTORY_ROUTE_MISSING = _(
	"This gateway version cannot list past messages, so messages missed while webhooks were down cannot be recovered. Update the gateway (WAHA 2024.11 or later)."
)
HISTORY_ROUTE_MISSING_BAILEYS = _(
	"This Baileys REST server cannot list past messages (it lacks GET /api/sessions/SESSION/messages), so messages missed while webhooks were down cannot be recovered. Add that route (see the contract in the docs) or update the server."
)
HISTORY_ROUTE_MISSING_EVOLUTION = _(
	"This Evolution API server cannot list past messages (it lacks POST /chat/findMessages), so messages missed while webhooks were down cannot be recovered. Update Evolution API (2.3.6 or later)."
)
HISTORY_ROUTE_MISSING_UNKNOWN = _(
	"This gateway cannot list past messages, so messages missed while webhooks were down cannot be recovered. Update the gateway."
)
DOCTOR_HISTORY_OK = _("The gateway can list past messages: messages missed by webhooks are caught up.")

# A linked session found lost by the health sweep: the reason in plain words, and the alert's subject.
LOST_SUBJECT = _("WhatsApp session {0} is disconnected")
LOST_LOGGED_OUT = _(
	"The phone unlinked this device (logged out in WhatsApp). Click Create session and scan a new QR code to link it again."
)
LOST_UNKNOWN = _(
	"The gateway no longer knows this session (it was restarted without its data, or the session was removed there). Click Create session and scan a new QR code."
)
LOST_CLOSED = _(
	"The gateway says this session is no longer connected (it reports: {0}). Click Create session and scan a new QR code if it does not come back."
)

BY_CODE = {
	errors.QR_NOT_READY: _("Waiting for the gateway to generate the QR code..."),
	errors.QR_GENERATION_ERROR: _(
		"The gateway could not generate the QR code (a known gateway problem). Retrying automatically..."
	),
	errors.TIMEOUT: _("The gateway is taking too long to answer. Retrying automatically..."),
	errors.UNREACHABLE: _(
		"Cannot reach the WhatsApp gateway. Check that it is running and that the URL of its WhatsApp Gateway record is right."
	),
	errors.UNAUTHORIZED: _(
		"The gateway refused the API key. Check the API key of its WhatsApp Gateway record."
	),
	errors.SESSION_NOT_FOUND: _(
		"The gateway no longer knows this session. Click Create session to start again."
	),
	errors.SESSION_ENDED: _(
		"This WhatsApp session has ended (logged out or closed). Click Create session to link the phone again."
	),
	errors.BAD_RESPONSE: _(
		"The gateway sent an answer that could not be understood. Check that the URL points at the WhatsApp gateway."
	),
	errors.SERVER_ERROR: _("The gateway reported an internal error. Retrying automatically..."),
	errors.NOT_CONFIGURED: _(
		"The WhatsApp gateway is not configured. Check that its WhatsApp Gateway record (URL, API key) and WhatsApp CRM Settings are enabled."
	),
	errors.SESSION_NOT_ALLOWED: _(
		"This WAHA gateway (Core edition) runs only one session, named default. Set this session's ID to default, or use WAHA Plus or a newer WAHA."
	),
	errors.INVALID_SESSION_ID: _(
		"The session ID may only contain letters, digits, hyphens and underscores (up to 64 characters)."
	),
	errors.INVALID_PHONE: _("The phone number is not valid. Write it with its country code."),
	errors.NOT_CONNECTED: _(
		"No phone is linked to this session, so nothing can be sent. Click Create session and scan the QR code."
	),
	errors.NOT_ON_WHATSAPP: _("This phone number has no WhatsApp account."),
	errors.INVALID_MESSAGE: _(
		"The message cannot be sent: it is empty, too long (65,536 characters, 1,024 for a caption) or its file cannot be read."
	),
	errors.MEDIA_TOO_LARGE: _("The file is too large for WhatsApp (16 MB at most)."),
	errors.MEDIA_NOT_SUPPORTED: _(
		"This gateway cannot send files (WAHA Core sends text only; files need WAHA Plus)."
	),
	errors.HISTORY_UNAVAILABLE: _(
		"The gateway cannot list past messages, so messages missed while webhooks were down cannot be recovered."
	),
	errors.LICENSE_REQUIRED: _(
		"This Evolution API server is not activated: open its manager to register it."
	),
	errors.CONFIG_NOT_APPLIED: _(
		"The session links, but the gateway refused its settings (webhooks and message store): new messages may arrive late or not be recoverable. Read the gateway's logs, then click Create session again."
	),
	errors.CONFIRM_ON_PHONE: _(
		"WhatsApp is waiting for your phone to approve this link. Open WhatsApp on the phone and confirm it (with its passkey if it asks for one)."
	),
}


def for_history(reason: str | None, gateway_type: str | None = None) -> str:
	"""Why a gateway's past messages cannot be read, in plain words, with the remedy for its type."""
	if reason == "store_off":
		return HISTORY_STORE_OFF
	return {
		"waha": HISTORY_ROUTE_MISSING,
		"baileys": HISTORY_ROUTE_MISSING_BAILEYS,
		"evolution": HISTORY_ROUTE_MISSING_EVOLUTION,
	}.get(gateway_type or "", HISTORY_ROUTE_MISSING_UNKNOWN)


def for_code(code: str | None) -> str:
	return BY_CODE.get(code or errors.QR_NOT_READY, BY_CODE[errors.SERVER_ERROR])


def for_outcome(state: str, error_code: str | None, phone: str | None = None) -> tuple[str, list[str]]:
	"""(template, format args) for an acquisition's result; templates use positional ``{0}`` only."""
	if state == "connected":
		return (CONNECTED, [phone]) if phone else (CONNECTED_NO_PHONE, [])
	if state == "qr" and not error_code:
		return QR_READY, []
	return for_code(error_code), []


# The terminal's words where the desk's would mislead: a terminal has no button to click, a command that
# exits retries nothing, and outside a bench the fix is a flag. ``{url}`` and ``{key}`` name what to fix
# (see for_terminal). The terminal speaks English only, so these are not marked for translation.
TERMINAL = {
	NOT_CREATED_YET: "This session has not been created on the gateway yet: create it with whatsapp-crm connect.",
	BY_CODE[
		errors.QR_GENERATION_ERROR
	]: "The gateway could not generate the QR code (a known gateway problem).",
	BY_CODE[errors.TIMEOUT]: "The gateway did not answer in time.",
	BY_CODE[errors.SERVER_ERROR]: "The gateway reported an internal error.",
	BY_CODE[
		errors.UNREACHABLE
	]: "Cannot reach the WhatsApp gateway. Check that it is running and that {url} is right.",
	BY_CODE[errors.UNAUTHORIZED]: "The gateway refused the API key. Check {key}.",
	BY_CODE[
		errors.SESSION_NOT_FOUND
	]: "The gateway does not know this session: create it with whatsapp-crm connect.",
	BY_CODE[errors.SESSION_ENDED]: (
		"This WhatsApp session has ended (logged out or closed): link the phone again with whatsapp-crm connect."
	),
	BY_CODE[errors.NOT_CONNECTED]: (
		"No phone is linked to this session, so nothing can be sent: link one with whatsapp-crm connect."
	),
	BY_CODE[errors.BAD_RESPONSE]: (
		"The gateway sent an answer that could not be understood. Check that {url} points at the WhatsApp gateway."
	),
	BY_CODE[errors.CONFIG_NOT_APPLIED]: (
		"The session links, but the gateway refused its settings (webhooks and message store): new messages may arrive late or not be recoverable. Read the gateway's logs, then run whatsapp-crm connect again."
	),
	DOCTOR_BAD_URL: "The gateway URL ({url}) must start with http:// or https:// and name a host, with no query or spaces.",
	DOCTOR_NO_KEY: "This gateway type needs an API key: give {key}.",
	DOCTOR_WAHA_KEY_NEEDED: "This WAHA gateway needs an API key: give WAHA_API_KEY's value as {key}.",
	HISTORY_STORE_OFF: (
		"This WAHA session keeps no message store, so messages missed while webhooks were down cannot be recovered. Run whatsapp-crm connect for it once: that turns the NOWEB store on."
	),
}
# NOT_CONFIGURED, by NotConfigured.reason: which setting is missing or wrong.
TERMINAL_NOT_CONFIGURED = {
	"missing_url": "No gateway URL: give {url}.",
	"bad_url": "The gateway URL ({url}) must start with http:// or https:// and name a host, with no query or spaces.",
	"credentials_in_url": "The gateway URL ({url}) must not hold a user name or password: give the key as {key}.",
	"missing_key": "No API key: give {key}.",
	"bad_type": "Unknown gateway type: give --gateway-type baileys, evolution, waha or auto.",
}
FLAGS = {"url": "--url", "key": "--api-key (or $WHATSAPP_CRM_API_KEY)"}


def for_terminal(template: str, error: errors.GatewayError | None = None, where: dict | None = None) -> str:
	"""The terminal's template for a desk one (the same when it reads right in a terminal), with ``{url}``
	and ``{key}`` named as ``where`` says: the flags by default, a WhatsApp Gateway record's fields inside a
	bench. Positional ``{0}`` arguments are left for the caller's format()."""
	if isinstance(error, errors.NotConfigured) and error.reason in TERMINAL_NOT_CONFIGURED:
		template = TERMINAL_NOT_CONFIGURED[error.reason]
	else:
		template = TERMINAL.get(template, template)
	for name, words in (where or FLAGS).items():
		template = template.replace("{" + name + "}", words)
	return template
