"""QR rendering and data-URI validation."""

import base64

import pytest

from whatsapp_crm.gateway.errors import BadResponse
from whatsapp_crm.gateway.qr import render_svg, render_terminal, to_data_uri, validate_data_uri

PNG_1PX = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def test_raw_payload_renders_to_svg_data_uri():
	uri = to_data_uri("2@abc,def,ghi")
	assert uri.startswith("data:image/svg+xml;base64,")
	svg = base64.b64decode(uri.split(",", 1)[1]).decode()
	assert svg.startswith("<svg") and 'fill="#fff"' in svg and "<script" not in svg


def test_rendering_is_deterministic_and_changes_with_payload():
	assert render_svg("2@a") == render_svg("2@a")
	assert render_svg("2@a") != render_svg("2@b")


def test_png_and_svg_data_uris_pass_through():
	assert validate_data_uri(PNG_1PX) == PNG_1PX
	svg = to_data_uri("2@x")
	assert to_data_uri(svg) == svg


@pytest.mark.parametrize(
	"bad",
	[
		"javascript:alert(1)",
		"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
		"data:image/png,not-base64-marked",
		"data:image/png;base64,!!!!",
		"data:image/png;base64,QUJDRA==",  # decodes, but is not a PNG
		"data:image/svg+xml;base64," + base64.b64encode(b"<svg><script>alert(1)</script></svg>").decode(),
		"data:image/svg+xml;base64," + base64.b64encode(b'<svg onload="alert(1)"></svg>').decode(),
		"data:image/svg+xml;base64," + base64.b64encode(b"hello").decode(),
		"data:image/gif;base64,R0lGODlhAQABAAAAACw=",
		"data:image/png;base64,",
	],
)
def test_bad_data_uris_are_refused(bad):
	with pytest.raises(BadResponse):
		to_data_uri(bad)


def test_oversized_image_is_refused():
	big = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * (600 * 1024)).decode()
	with pytest.raises(BadResponse, match="cap"):
		validate_data_uri(big)


def test_empty_or_too_long_raw_payload_is_refused():
	with pytest.raises(BadResponse):
		to_data_uri("x" * 5000)


def test_terminal_rendering_is_square_blocks():
	lines = render_terminal("2@abc").splitlines()
	assert len({len(line) for line in lines}) == 1
	assert set("".join(lines)) <= {"█", "▄", "▀", " "}
