"""QR payload -> image data URI, and validation of data URIs a gateway hands us.

A gateway answers either the raw Baileys payload ("2@...,...") or a ready image. Raw payloads are rendered
here to an SVG with a white background and quiet zone (so it scans in dark mode too). Images are accepted
only as base64 PNG or SVG data URIs that decode, under a size cap, and with no script in an SVG.
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache

import qrcode
import qrcode.constants

from .errors import BadResponse

MAX_RAW_PAYLOAD = 2048  # Baileys payloads are ~240 chars; QR version 40 tops out near 2.3 KB at level M
MAX_IMAGE_BYTES = 512 * 1024
ALLOWED_MIME = ("image/png", "image/svg+xml")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_DATA_URI = re.compile(
	r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)(?P<params>(;[\w.+-]+=[\w.+-]+)*);base64,(?P<data>.*)$", re.S
)
# A QR field that is a script or a foreign URI is an attack or a bug, never a pairing payload.
_URI_SCHEME = re.compile(r"^\s*(javascript|vbscript|file|about|blob|data)\s*:", re.I)
_SVG_DANGER = re.compile(rb"<\s*script|\bon[a-z]+\s*=|javascript:|<\s*foreignObject|<!ENTITY", re.I)


def is_data_uri(value: str) -> bool:
	return value[:5].lower() == "data:"


def validate_data_uri(value: str) -> str:
	"""Return a normalised data URI, or raise BadResponse saying why it was refused."""
	match = _DATA_URI.match(value.strip())
	if not match:
		raise BadResponse("QR image is not a base64 data URI")
	mime = match["mime"].lower()
	if mime not in ALLOWED_MIME:
		raise BadResponse(f"QR image type {mime[:40]!r} is not allowed")
	data = re.sub(r"\s+", "", match["data"])
	if len(data) > MAX_IMAGE_BYTES * 4 // 3 + 4:
		raise BadResponse("QR image is larger than the cap")
	try:
		raw = base64.b64decode(data, validate=True)
	except (binascii.Error, ValueError):
		raise BadResponse("QR image is not valid base64")
	if not raw:
		raise BadResponse("QR image is empty")
	if mime == "image/png" and not raw.startswith(PNG_MAGIC):
		raise BadResponse("QR image says PNG but is not one")
	if mime == "image/svg+xml" and (b"<svg" not in raw[:2048].lower() or _SVG_DANGER.search(raw)):
		raise BadResponse("QR image is not a plain SVG")
	return f"data:{mime};base64,{data}"


def qr_matrix(payload: str) -> list[list[bool]]:
	if not payload or len(payload) > MAX_RAW_PAYLOAD:
		raise BadResponse("QR payload is empty or too long to encode")
	code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
	code.add_data(payload)
	code.make(fit=True)
	return code.get_matrix()


def render_svg(payload: str) -> str:
	matrix = qr_matrix(payload)
	size = len(matrix)
	runs = []
	for y, row in enumerate(matrix):
		x = 0
		while x < size:
			if row[x]:
				start = x
				while x < size and row[x]:
					x += 1
				runs.append(f"M{start},{y}h{x - start}v1h-{x - start}z")
			else:
				x += 1
	return (
		f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
		f'shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/>'
		f'<path fill="#000" d="{"".join(runs)}"/></svg>'
	)


def to_data_uri(value: str) -> str:
	"""A gateway's QR field (raw payload or data URI) -> a safe image data URI for an <img src>."""
	if is_data_uri(value):
		return validate_data_uri(value)
	if _URI_SCHEME.match(value):
		raise BadResponse("QR field holds a URI, not a QR payload")
	return _svg_data_uri(value)


@lru_cache(maxsize=256)
def _svg_data_uri(payload: str) -> str:
	# A QR on screen is read again every poll until it rotates (and arrives by webhook too): draw it once.
	svg = render_svg(payload)
	return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def render_terminal(payload: str) -> str:
	"""Draw a raw payload with half blocks, two modules per character row, light on dark terminals."""
	matrix = qr_matrix(payload)
	if len(matrix) % 2:
		matrix = [*matrix, [False] * len(matrix[0])]
	glyph = {(False, False): "█", (True, False): "▄", (False, True): "▀", (True, True): " "}
	return "\n".join(
		"".join(glyph[(top, bottom)] for top, bottom in zip(matrix[y], matrix[y + 1], strict=True))
		for y in range(0, len(matrix), 2)
	)
