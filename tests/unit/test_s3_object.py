"""S3 object content decoding: what the engine gets to see of an uploaded file."""

from __future__ import annotations

import gzip

from firewall import Firewall
from firewall.sources.base import Field
from firewall.sources.s3_object import DISGUISE_PATH, PATH, decode_object

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
