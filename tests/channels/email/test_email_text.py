"""Decoding, HTML to text and quote stripping on their own."""

from __future__ import annotations

import pytest

from channels.email.text import (
    decode_bytes,
    html_to_text,
    sanitize_html,
    strip_quotes_and_signature,
)


@pytest.mark.parametrize(
    ("data", "declared", "text"),
    [
        ("café".encode(), "utf-8", "café"),
        ("café".encode(), "unknown-8bit", "café"),
        ("café".encode(), "x-no-such-charset", "café"),
        ("café".encode(), "base64", "café"),
        ("“ok”".encode("cp1252"), "iso-8859-1", "“ok”"),
        ("“ok”".encode("cp1252"), "utf-8", "“ok”"),
        ("naïve".encode(), "us-ascii", "naïve"),
        (b"\x81\x8d\x8f", "utf-8", "\x81\x8d\x8f"),
        (b"a\x00b", None, "ab"),
    ],
)
def test_decode_never_fails(data: bytes, declared: str | None, text: str) -> None:
    assert decode_bytes(data, declared)[0] == text


def test_html_to_text_blocks_lists_and_links() -> None:
    html = (
        "<h1>Syarat</h1><ul><li>KTP</li><li>NPWP</li></ul>"
        '<p>Lihat <a href="https://oss.go.id/">OSS</a>&nbsp;ya</p>'
    )
    assert html_to_text(html) == "Syarat\n\n- KTP\n- NPWP\n\nLihat OSS (https://oss.go.id/) ya"


def test_html_blockquote_becomes_quoted_lines() -> None:
    text = html_to_text("<p>Baik.</p><blockquote><p>Pesan lama</p></blockquote>")
    assert "> Pesan lama" in text
    assert strip_quotes_and_signature(text) == "Baik."


def test_sanitize_keeps_cid_images_and_drops_dangerous_parts() -> None:
    html = sanitize_html(
        '<img src="cid:x1" onerror="alert(1)"><a href="javascript:alert(1)">a</a>'
        "<script>alert(2)</script><p onclick=x>t</p>"
    )
    assert 'src="cid:x1"' in html
    assert "alert" not in html and "onclick" not in html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Oke.\n\nOn Mon, 3 Mar 2025 at 10:00, PTSP <k@ptsp.id> wrote:\n> lama", "Oke."),
        (
            "Oke.\n\nPada tanggal Sen, 3 Mar 2025 pukul 10.00 PTSP <k@ptsp.id>\nmenulis:\n> x",
            "Oke.",
        ),
        ("Oke.\n\n-----Pesan Asli-----\nDari: PTSP\nlama", "Oke."),
        ("Oke.\n________________________________\nFrom: PTSP\nSent: Senin\nTo: x", "Oke."),
        ("Oke.\n\nDari: PTSP <k@ptsp.id>\nDikirim: Senin, 3 Maret 2025\nKepada: saya", "Oke."),
        ("Oke.\n-- \nBudi\n0812", "Oke."),
        ("Oke.\n\nDikirim dari iPhone saya", "Oke."),
        ("Oke.\n\nSent from my Galaxy", "Oke."),
        ("Dikirim dari kantor kemarin, berkasnya sudah lengkap?\nTerima kasih", None),
        ("> cuma kutipan", ""),
    ],
)
def test_quotes_and_signatures(text: str, expected: str | None) -> None:
    assert strip_quotes_and_signature(text) == (text if expected is None else expected)
