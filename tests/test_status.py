"""Tolerant reading of gateway answers (see docs/gateways.md, 'Reading gateway answers')."""

import pytest

from whatsapp_crm.gateway.status import Kind, body_failure, classify, extract_qr, parse_status


@pytest.mark.parametrize(
	"word,kind",
	[
		("qr", Kind.QR),
		("QR_CODE", Kind.QR),
		("qr-ready", Kind.QR),
		("SCAN_QR_CODE", Kind.QR),
		("qrcode", Kind.QR),
		("pending", Kind.WAITING),
		("created", Kind.WAITING),
		("STARTING", Kind.WAITING),
		("initializing", Kind.WAITING),
		("connecting", Kind.WAITING),
		("idle", Kind.WAITING),
		("open", Kind.CONNECTED),
		("Connected", Kind.CONNECTED),
		("ready", Kind.CONNECTED),
		("WORKING", Kind.CONNECTED),
		("authenticated", Kind.CONNECTED),
		("close", Kind.ENDED),
		("closed", Kind.ENDED),
		("disconnected", Kind.ENDED),
		("logged_out", Kind.ENDED),
		("FAILED", Kind.ENDED),
		("refused", Kind.ENDED),
		("action_required", Kind.ENDED),
	],
)
def test_status_words(word, kind):
	assert classify(word) == (kind, False)


def test_unknown_word_is_waiting_and_kept_verbatim():
	state = parse_status({"success": True, "status": "Warming-Up"})
	assert state.kind == Kind.WAITING
	assert state.unknown_status is True
	assert state.raw_status == "Warming-Up"


@pytest.mark.parametrize(
	"body",
	[
		{"status": "connecting", "hasQR": True},
		{"status": "connecting", "hasQr": True},
		{"status": "starting", "has_qr": "true"},
		{"status": "whatever", "qrCode": "2@x"},
	],
)
def test_has_qr_flags_make_a_qr_state(body):
	assert parse_status(body).kind == Kind.QR
	assert parse_status(body).qr_available


@pytest.mark.parametrize("key", ["qr", "qrCode", "qrImage", "base64", "code"])
def test_qr_field_names(key):
	assert extract_qr({key: " 2@abc "}) == "2@abc"


def test_qr_field_empty_is_absent_and_envelopes_are_read():
	assert extract_qr({"qr": ""}) is None
	assert extract_qr({"data": {"qrCode": "2@in"}}) == "2@in"
	state = parse_status(
		{"success": True, "data": {"state": "open", "me": {"id": "34600111222:7@s.whatsapp.net"}}}
	)
	assert state.kind == Kind.CONNECTED
	assert state.phone == "34600111222"


def test_phone_only_kept_when_connected():
	assert parse_status({"status": "qr", "phone": "346"}).phone is None
	assert parse_status({"status": "connected", "phone": "34600111222"}).phone == "34600111222"


@pytest.mark.parametrize(
	"body,failed",
	[
		({"success": False}, True),
		({"error": True}, True),
		({"error": "QR_GENERATION_ERROR", "message": "boom"}, True),
		({"success": True, "status": "qr"}, False),
		({"success": True, "code": "2@payload"}, False),
		({"status": "qr"}, False),
	],
)
def test_body_level_failures(body, failed):
	assert body_failure(body)[0] is failed


def test_body_failure_words_are_capped():
	failed, word, message = body_failure({"success": False, "error": "E" * 500, "message": "m" * 5000})
	assert failed and len(word) == 128 and len(message) == 512
