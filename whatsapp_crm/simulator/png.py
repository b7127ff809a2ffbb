"""A real, scannable QR as PNG bytes, without Pillow: a minimal 8-bit grayscale encoder (zlib + struct).

Evolution and WAHA hand out images as well as raw payloads; the app must cope with a real PNG, so the
simulators draw one. The QR matrix comes from the app's own qr_matrix (the qrcode package, 4-module border).
"""

from __future__ import annotations

import base64
import struct
import zlib
from functools import lru_cache

from whatsapp_crm.gateway.qr import qr_matrix

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SCALE = 4  # pixels per module


def _chunk(kind: bytes, data: bytes) -> bytes:
	return (
		struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
	)


def encode_png(matrix: list[list[bool]], scale: int = SCALE) -> bytes:
	"""Dark modules black, light ones white; the border is whatever the matrix already holds."""
	size = len(matrix)
	width = size * scale
	rows = []
	for row in matrix:
		line = b"\x00" + b"".join((b"\x00" if dark else b"\xff") * scale for dark in row)  # filter 0
		rows.extend([line] * scale)
	header = struct.pack(">IIBBBBB", width, width, 8, 0, 0, 0, 0)  # 8-bit grayscale, no interlace
	return (
		PNG_MAGIC
		+ _chunk(b"IHDR", header)
		+ _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
		+ _chunk(b"IEND", b"")
	)


@lru_cache(maxsize=64)
def qr_png(payload: str) -> bytes:
	"""The PNG of one QR payload; cached because pollers ask for the same QR many times."""
	return encode_png(qr_matrix(payload))


def qr_data_uri(payload: str) -> str:
	return "data:image/png;base64," + base64.b64encode(qr_png(payload)).decode("ascii")
