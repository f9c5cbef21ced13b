"""CSRF, security headers, resident content made inert, attachments."""

from __future__ import annotations

import httpx
from sqlmodel import select

from channels.base import AttachmentData, Channel, Identity, IdentityKind, Inquiry
from helpdesk.bootstrap import Services
from helpdesk.models import Attachment, Direction, Message, Role
from helpdesk.web.consultant_tickets import safe_html
from tests.helpdesk.factories import T0, email_inquiry
from tests.web.conftest import SignIn, token

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
HOSTILE_TEXT = ('<script>alert("xss")</script> <img src=x onerror=alert(1)> '
                '<a href="javascript:alert(2)">klik</a>')


def hostile_inquiry() -> Inquiry:
    return Inquiry(
        channel=Channel.EMAIL, external_id="evil@x.example",
        sender=Identity(IdentityKind.EMAIL, "jahat@x.example", '<b onmouseover="x()">Jahat</b>'),
        subject='<svg onload="alert(3)">', text=HOSTILE_TEXT,
        html='<p>Halo</p><script>alert(4)</script><img src="x" onerror="alert(5)">'
             '<a href="javascript:alert(6)">tautan</a><a href="https://ptsp.example">ok</a>',
        received_at=T0,
        attachments=(AttachmentData("foto.png", "image/png", PNG),
                     AttachmentData("palsu.png", "image/png", b"<html><script>x</script>"),
                     AttachmentData("surat.html", "text/html", b"<script>alert(7)</script>")))


async def test_state_changes_need_the_csrf_token(clients: SignIn, services: Services) -> None:
    result = services.intake.receive(email_inquiry(1))
    client = await clients(Role.CONSULTANT)
    url = f"/tickets/{result.ticket_id}/note"
    assert (await client.post(url, data={"text": "tanpa token"})).status_code == 403
    assert (await client.post(url, data={"text": "salah", "csrf_token": "x" * 43})
            ).status_code == 403
    good = await token(client)
    cross = await client.post(url, data={"text": "lintas situs", "csrf_token": good},
                              headers={"origin": "https://evil.example"})
    assert cross.status_code == 403
    with services.store.read() as session:
        assert not session.exec(select(Message).where(Message.direction == Direction.NOTE)).all()
    ok = await client.post(url, data={"text": "catatan sah"}, headers={"x-csrf-token": good})
    assert ok.status_code == 303
    anonymous = await clients(None)
    assert (await anonymous.post("/signin", data={"email": "a@b.c", "password": "x"})
            ).status_code == 403


async def test_pages_carry_security_headers(clients: SignIn) -> None:
    response = await (await clients(Role.CONSULTANT)).get("/tickets")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["cache-control"] == "no-store"
    assert "<script>" not in response.text.replace('<script src="/static/app/', "")


async def test_resident_content_is_shown_inert(clients: SignIn, services: Services) -> None:
    result = services.intake.receive(hostile_inquiry())
    client = await clients(Role.CONSULTANT)
    page = (await client.get(f"/tickets/{result.ticket_id}")).text
    body = page.split('<main id="main"', 1)[1]
    assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in body
    assert "<script" not in body.replace('<script src="/static/app/', "")
    lowered = body.lower()
    # No live markup from the resident: only escaped text or sanitised HTML.
    assert "<img src=x onerror" not in lowered and '<img src="x" onerror' not in lowered
    assert '<a href="javascript:' not in lowered and "<svg" not in lowered
    assert 'href="https://ptsp.example"' in body
    queue = (await client.get("/tickets?view=open")).text
    assert "<svg" not in queue and "&lt;svg onload=" in queue


def test_sanitiser_keeps_text_and_drops_active_content() -> None:
    cleaned = str(safe_html('<p onclick="x()">Hi <a href="javascript:y()">a</a>'
                            '<iframe src="https://x"></iframe><style>p{}</style></p>'))
    assert "onclick" not in cleaned and "javascript:" not in cleaned
    assert "iframe" not in cleaned and "style" not in cleaned and "Hi" in cleaned


async def test_attachments_download_and_only_real_images_inline(
        clients: SignIn, services: Services) -> None:
    services.intake.receive(hostile_inquiry())
    client = await clients(Role.CONSULTANT)
    with services.store.read() as session:
        files = {a.filename: a.id for a in session.exec(select(Attachment))}
    html_file = await client.get(f"/attachments/{files['surat.html']}")
    assert html_file.headers["content-disposition"].startswith("attachment;")
    assert html_file.headers["content-type"] == "application/octet-stream"
    image = await client.get(f"/attachments/{files['foto.png']}/inline")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    fake = await client.get(f"/attachments/{files['palsu.png']}/inline")
    assert fake.status_code == 415
    assert (await client.get(f"/attachments/{files['surat.html']}/inline")).status_code == 415
    anonymous = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with anonymous:
        assert (await anonymous.get(f"/attachments/{files['foto.png']}")).status_code == 303
