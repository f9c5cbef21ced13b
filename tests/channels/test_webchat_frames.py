"""The web chat adapter: widget frames in, inquiries and message frames out."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from channels.base import Channel, IdentityKind, Reply, ReplyButton
from channels.webchat import (
    ButtonFrame,
    ChatLine,
    FrameError,
    Hello,
    Limits,
    MessageFrame,
    Ping,
    WebchatSender,
    client_id_of,
    conversation_id,
    inquiry_from_frame,
    line_frame,
    new_token,
    parse_frame,
)

LIMITS = Limits(max_message_chars=100, attachment_max_bytes=1000)
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
PDF = b"%PDF-1.7\n" + b"0" * 100


def frame(**fields: Any) -> str:
    return json.dumps(fields)


def refused(raw: str | bytes, code: str) -> str:
    with pytest.raises(FrameError) as caught:
        parse_frame(raw, LIMITS)
    assert caught.value.code == code
    return caught.value.reason


def test_tokens_are_unguessable_and_only_their_hash_is_used() -> None:
    token = new_token()
    assert len(token) == 43 and token != new_token()
    assert conversation_id(token) == hashlib.sha256(token.encode()).hexdigest()
    with pytest.raises(FrameError):
        conversation_id("short")


def test_hello_and_ping() -> None:
    token = new_token()
    assert parse_frame(frame(type="hello", token=token, after=17), LIMITS) == Hello(token, 17)
    assert parse_frame(frame(type="hello", token=None), LIMITS) == Hello(None, 0)
    assert parse_frame(frame(type="ping"), LIMITS) == Ping()
    assert "malformed" in refused(frame(type="hello", token="x' OR 1=1"), "bad_token")
    refused(frame(type="hello", token=token, after=-1), "bad_frame")
    refused(frame(type="hello", token=token, after=True), "bad_frame")


@pytest.mark.parametrize(("raw", "reason"), [
    (b"\x00binary", "binary"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    (frame(type="shout"), "unknown frame type"),
    (frame(type="message", text="halo"), "'id'"),
    (frame(type="message", id="../etc", text="halo"), "'id'"),
    (frame(type="message", id="abcdefgh", text=5), "'text'"),
])
def test_malformed_frames_say_what_is_wrong(raw: str | bytes, reason: str) -> None:
    assert reason in refused(raw, "bad_frame")


def test_message_text_is_cleaned_and_limited() -> None:
    parsed = parse_frame(frame(type="message", id="abcdefgh",
                               text="  halo\r\nmin\x00\x1b[31m  "), LIMITS)
    assert isinstance(parsed, MessageFrame) and parsed.text == "halo\nmin[31m"
    assert "limit is 100" in refused(frame(type="message", id="abcdefgh", text="x" * 101),
                                     "too_long")
    refused(frame(type="message", id="abcdefgh", text=" \n "), "empty")
    refused(frame(type="message", id="abcdefgh", text="x" * 20_000), "too_large")


def test_attachments_are_checked_by_type_content_and_size() -> None:
    def with_file(name: str, kind: str, data: bytes | str) -> str:
        encoded = data if isinstance(data, str) else base64.b64encode(data).decode()
        return frame(type="message", id="abcdefgh", text="",
                     attachment={"name": name, "type": kind, "data": encoded})

    parsed = parse_frame(with_file("C:\\Users\\ani\\izin.pdf", "application/pdf", PDF), LIMITS)
    assert isinstance(parsed, MessageFrame) and parsed.attachment is not None
    assert parsed.attachment.filename == "izin.pdf" and parsed.attachment.data == PDF
    refused(with_file("x.svg", "image/svg+xml", b"<svg/>"), "attachment_type")
    refused(with_file("x.pdf", "application/pdf", b"MZ\x90\x00"), "attachment_type")
    refused(with_file("x.pdf", "application/pdf", PDF + b"0" * 1000), "attachment_size")
    refused(with_file("x.pdf", "application/pdf", "!!notbase64!!"), "bad_attachment")


def test_profile_fields_are_checked() -> None:
    def with_profile(**profile: Any) -> str:
        return frame(type="message", id="abcdefgh", text="halo", profile=profile)

    parsed = parse_frame(with_profile(name="  Siti   Aminah ", email="siti@example.com",
                                      phone=""), LIMITS)
    assert isinstance(parsed, MessageFrame) and parsed.profile is not None
    assert parsed.profile.name == "Siti Aminah" and parsed.profile.phone is None
    refused(with_profile(email="bukan email"), "bad_email")
    refused(with_profile(phone="telepon saya"), "bad_phone")
    refused(with_profile(name="x" * 101), "bad_profile")


def test_a_message_becomes_an_inquiry_on_the_conversation() -> None:
    conversation = conversation_id(new_token())
    parsed = parse_frame(frame(type="message", id="msg-0001", text="gmn cara urus nib?",
                               profile={"name": "Budi", "email": "budi@example.com",
                                        "phone": "0812 3456 7890"}), LIMITS)
    assert isinstance(parsed, MessageFrame)
    inquiry = inquiry_from_frame(parsed, conversation=conversation, received_at=NOW)
    assert inquiry.channel is Channel.WEBCHAT
    assert inquiry.external_id == f"{conversation}:msg-0001"
    assert inquiry.sender.kind is IdentityKind.WEBCHAT and inquiry.sender.value == conversation
    assert inquiry.sender.name == "Budi" and inquiry.thread.conversation_id == conversation
    assert [(i.kind, i.value) for i in inquiry.extra_identities] == [
        (IdentityKind.EMAIL, "budi@example.com"), (IdentityKind.PHONE, "0812 3456 7890")]
    assert client_id_of(inquiry.external_id, conversation) == "msg-0001"
    assert client_id_of(inquiry.external_id, "other") is None


def test_a_button_click_becomes_an_inquiry_with_its_callback() -> None:
    parsed = parse_frame(frame(type="button", id="click-001", label="Ya", data="faq:yes:12"),
                         LIMITS)
    assert parsed == ButtonFrame("click-001", "Ya", "faq:yes:12")
    assert isinstance(parsed, ButtonFrame)
    inquiry = inquiry_from_frame(parsed, conversation="c" * 64, received_at=NOW)
    assert inquiry.text == "Ya" and inquiry.meta == {"callback": "faq:yes:12"}
    refused(frame(type="button", id="click-001", label="Ya", data="x" * 201), "bad_frame")


def test_line_frames_carry_text_as_data() -> None:
    line = ChatLine(seq=42, sender="agent", text="<b>halo</b>", at=NOW, author="Petugas Rina",
                    buttons=(("Ya", "faq:yes"),))
    assert line_frame(line) == {
        "type": "message", "seq": 42, "from": "agent", "text": "<b>halo</b>",
        "at": NOW.isoformat(), "author": "Petugas Rina",
        "buttons": [{"label": "Ya", "data": "faq:yes"}]}


async def test_the_sender_announces_the_reply_to_the_conversation() -> None:
    rung: list[str] = []

    def announce(conversation: str) -> int:
        rung.append(conversation)
        return 1

    reply = Reply(channel=Channel.WEBCHAT, recipient="r" * 64, text="halo",
                  idempotency_key="reply:1:x", ticket_number="PTSP-000001",
                  message_id="out:x", conversation_id="c" * 64,
                  buttons=(ReplyButton("Ya", "yes"),))
    receipt = await WebchatSender(announce).send(reply)
    assert rung == ["c" * 64] and receipt.external_ref == "out:x"
    assert "1 open chat window" in (receipt.detail or "")
