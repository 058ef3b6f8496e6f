"""Flattening JSON-like values into fields: paths, keys, embedded JSON, and every limit."""

from __future__ import annotations

import json
import time

import pytest

from firewall.sources import fields
from firewall.sources.base import Field
from firewall.sources.fields import (
    Collector,
    Limits,
    decode_base64,
    flatten_value,
    parse_json_text,
    text_or_bytes,
)


def paths(fields: list[Field]) -> dict[str, list[str | bytes]]:
    """Group field values by path, in order."""
    grouped: dict[str, list[str | bytes]] = {}
    for item in fields:
        grouped.setdefault(item.path, []).append(item.value)
    return grouped


def test_strings_and_keys_become_fields_numbers_do_not() -> None:
    fields, problems = flatten_value("v", {"a": 1, "b": True, "c": None, "d": "x", "items": [3, "y", {"note": "z"}]})
    got = paths(fields)
    assert got["v.{}"] == ["a", "b", "c", "d", "items"]
    assert got["v.d"] == ["x"]
    assert got["v.items[1]"] == ["y"]
    assert got["v.items[2].{}"] == ["note"]
    assert got["v.items[2].note"] == ["z"]
    assert "v.a" not in got and "v.b" not in got and "v.items[0]" not in got
    assert problems == []


def test_a_list_naming_a_key_after_prototype_is_also_read_as_a_property_path() -> None:
    """`_.set(target, ["constructor", "prototype", "isAdmin"], true)`: one name per member."""
    fields, _ = flatten_value("b", '{"path": ["constructor", "prototype", "isAdmin"], "tags": ["a", "b"]}')
    got = paths(fields)
    assert got["b.path"] == ["constructor.prototype.isAdmin"]
    assert got["b.path[1]"] == ["prototype"]
    assert "b.tags" not in got, "only lists naming prototype"


@pytest.mark.parametrize(
    ("members", "spelt"),
    [
        (["a"] * 40 + ["constructor", "prototype", "x"], ".".join(["a"] * 40) + ".constructor.prototype.x"),
        (["constructor", ["prototype"], "isAdmin"], "constructor.prototype.isAdmin"),  # String(["prototype"])
        (["__proto__", "prototype", 1, True, None, "x"], "__proto__.prototype.1.true.null.x"),
        (["javascript", "constructor", "prototype"], None),  # a tag list: no key follows prototype
        (["a", ["prototype", "b"], "c"], None),  # that member is the key "prototype,b"
        ({"constructor", "prototype", "x"}, None),  # a set has no order
        (("constructor", "prototype", "x"), "constructor.prototype.x"),
        ([{"a": "b"}, "prototype", "x"], "[object Object].prototype.x"),  # an object is no array
        ([fields.JsonObject([("a", ["prototype", "x"])]), "y"], None),
        ([[[[[[[[[[["constructor"]]]]]]]]]], "prototype", "x"], "constructor.prototype.x"),
        ([type("Members", (list,), {})(["constructor"]), "prototype", "x"], "constructor.prototype.x"),
    ],
)
def test_property_paths_are_spelt_as_javascript_reads_them(members: object, spelt: str | None) -> None:
    assert fields.property_path(members) == spelt


def test_a_member_that_cannot_be_compared_spells_no_path() -> None:
    class Refuses:
        def __eq__(self, other: object) -> bool:
            raise ValueError("ambiguous")

        __hash__ = object.__hash__

    assert fields.property_path([Refuses(), "prototype", "x"]) is None
    _, problems = flatten_value("v", [Refuses(), "prototype", "x"])
    assert any("not a JSON-like value" in problem for problem in problems)


def test_json_in_a_string_is_opened_under_the_same_path() -> None:
    inner = json.dumps({"q": "1' OR '1'='1"})
    fields, _ = flatten_value("body", json.dumps({"payload": inner}))
    got = paths(fields)
    assert "body" not in got and "body.payload" not in got  # opened, not inspected twice
    assert got["body.payload.{}"] == ["q"]
    assert got["body.payload.q"] == ["1' OR '1'='1"]


def test_json_escapes_are_decoded() -> None:
    fields, _ = flatten_value("b", '{"x": "\\u003cscript\\u003e"}')
    assert paths(fields)["b.x"] == ["<script>"]


def test_duplicate_keys_are_all_inspected() -> None:
    fields, _ = flatten_value("b", '{"a": "first <script>", "a": "second"}')
    assert paths(fields)["b.a"] == ["first <script>", "second"]


def test_text_that_is_not_json_is_just_text() -> None:
    for text in ["[not json", "{'single': 'quotes'}", "plain", "", "   "]:
        fields, problems = flatten_value("b", text)
        assert fields == [Field("b", text)]
        assert problems == []


def test_huge_integers_do_not_stop_json_parsing() -> None:
    text = '{"n": ' + "9" * 10_000 + ', "s": "\\u0027 or 1=1"}'
    fields, problems = flatten_value("b", text)
    assert paths(fields)["b.s"] == ["' or 1=1"]
    assert problems == []


def test_ten_thousand_deep_json_records_a_problem_and_keeps_the_text() -> None:
    body = "[" * 10_000 + '"deep"' + "]" * 10_000
    fields, problems = flatten_value("sqs.body", body)
    assert fields[0] == Field("sqs.body", body)
    assert problems and "too deeply" in problems[0]


def test_deep_but_parseable_json_stops_at_the_depth_limit() -> None:
    body = '{"a":' * 200 + '"x"' + "}" * 200
    fields, problems = flatten_value("b", body)
    assert any("deeper than 64" in problem for problem in problems)
    assert max(item.path.count(".a") for item in fields) <= 64
    assert any('"x"' in f.value and len(f.value) > 500 for f in fields)  # the subtree past the limit, as text


def test_deep_python_value_is_kept_as_text_when_too_deep() -> None:
    value: object = "payload"
    for _ in range(100):
        value = {"k": value}
    fields, problems = flatten_value("detail", value)
    assert problems and "deeper than 64" in problems[0]
    assert any(isinstance(item.value, str) and "payload" in item.value for item in fields)


def test_very_deep_python_value_does_not_crash() -> None:
    value: object = "payload"
    for _ in range(5_000):
        value = [value]
    fields, problems = flatten_value("detail", value)
    assert problems
    assert len(fields) <= 1


def test_field_cap_records_a_problem_once() -> None:
    fields, problems = flatten_value("b", [str(i) for i in range(50)], Limits(max_fields=10))
    assert len(fields) == 10
    assert len(problems) == 1 and "more than 10 fields" in problems[0]


def test_json_in_string_layers_are_bounded() -> None:
    text = "x"
    for _ in range(12):
        text = json.dumps({"m": text})
    fields, problems = flatten_value("b", text)
    assert any("JSON-in-string layers" in problem for problem in problems)
    innermost_opened = text
    for _ in range(8):  # max_json_layers: the string left unopened is still a field
        innermost_opened = json.loads(innermost_opened)["m"]
    assert innermost_opened in [f.value for f in fields]


def test_a_json_body_is_inspected_through_its_parts_not_again_whole() -> None:
    body = json.dumps({"items": [{"note": "x" * 100} for _ in range(100)]})
    fields, _ = flatten_value("b", body)
    assert body not in [f.value for f in fields]
    assert ("b.items[99].note", "x" * 100) in [(f.path, f.value) for f in fields]
    assert flatten_value("b", "not json {")[0] == [Field("b", "not json {")]


def test_long_keys_are_shortened_in_paths_but_kept_whole_as_values() -> None:
    key = "k" * 500
    fields, _ = flatten_value("b", {key: "v"})
    assert Field("b.{}", key) in fields
    value_path = next(item.path for item in fields if item.value == "v")
    assert len(value_path) < 80 and value_path.endswith("…")


def test_unprintable_key_characters_are_masked_in_paths() -> None:
    fields, _ = flatten_value("b", {"a\nb": "v"})
    assert Field("b.a?b", "v") in fields
    assert Field("b.{}", "a\nb") in fields


def test_bytes_are_fields() -> None:
    fields, _ = flatten_value("b", {"blob": b"\xff\x00"})
    assert Field("b.blob", b"\xff\x00") in fields


def test_one_megabyte_string_is_one_field_and_fast() -> None:
    body = "A" * (1024 * 1024)
    started = time.perf_counter()
    fields, problems = flatten_value("sqs.body", body)
    assert fields == [Field("sqs.body", body)]
    assert problems == []
    assert time.perf_counter() - started < 1.0


def test_one_megabyte_json_with_many_strings_is_capped_not_crashed() -> None:
    body = json.dumps([f"value-{i}" for i in range(100_000)])
    assert len(body) > 1_000_000
    collector = Collector()
    collector.walk_text("sqs.body", body)
    assert len(collector.fields) == collector.limits.max_fields
    assert collector.problems


def test_parse_json_text_only_tries_objects_and_arrays() -> None:
    assert parse_json_text("42") == (None, None)
    assert parse_json_text('"x"') == (None, None)
    assert parse_json_text("  [1]")[0] == [0]  # numbers are placeholders: they are never fields


@pytest.mark.parametrize(
    "text",
    ['{"a": "b"}', "{ }", '{\n\t"a": 1}', "[]", "[ ]", '["x"]', "[-1]", "[0.5]", "[true]", "[false]",
     "[null]", "[NaN]", "[Infinity]", "[[1]]", '[{"a": 1}]', " \n [1]"],
)
def test_every_way_json_can_open_is_parsed(text: str) -> None:
    assert parse_json_text(text)[0] == fields._loads(text.lstrip())


@pytest.mark.parametrize("text", ["{{7*7}}", "{x}", "{'a': 1}", "[x]", "[ a]", "{ 1: 2}", "[)", "{"])
def test_text_that_cannot_open_json_is_not_handed_to_the_parser(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """19,000 fields of `{{7*7}}` would each cost a parser error."""

    def refuse(_text: str) -> None:
        raise AssertionError("the parser was called")

    monkeypatch.setattr(fields, "_loads", refuse)
    assert parse_json_text(text) == (None, None)


def test_decode_base64_is_strict() -> None:
    assert decode_base64("aGk=") == (b"hi", None)
    data, problem = decode_base64("not base64!")
    assert data is None and problem and "invalid base64" in problem


def test_text_or_bytes() -> None:
    assert text_or_bytes("é".encode()) == "é"
    assert text_or_bytes(b"\xc3\x28") == b"\xc3\x28"


def test_fields_come_in_document_order_keys_first() -> None:
    value = {"a": "1", "b": {"c": "2", "d": ["3", {"e": "4"}, "5"]}, "f": "6", "g": '{"h": "7"}', "i": b"8"}
    fields, problems = flatten_value("r", value)
    assert [(f.path, f.value) for f in fields] == [
        ("r.{}", "a"), ("r.{}", "b"), ("r.{}", "f"), ("r.{}", "g"), ("r.{}", "i"),
        ("r.a", "1"),
        ("r.b.{}", "c"), ("r.b.{}", "d"), ("r.b.c", "2"),
        ("r.b.d[0]", "3"), ("r.b.d[1].{}", "e"), ("r.b.d[1].e", "4"), ("r.b.d[2]", "5"),
        ("r.f", "6"),
        ("r.g.{}", "h"), ("r.g.h", "7"),
        ("r.i", b"8"),
    ]
    assert problems == []


def test_paths_at_the_root_and_non_string_keys() -> None:
    fields, _ = flatten_value("", {"a": ["x"], 7: "y", None: ("z",)})
    assert [(f.path, f.value) for f in fields] == [
        ("{}", "a"), ("{}", "7"), ("{}", "None"), ("a[0]", "x"), ("7", "y"), ("None[0]", "z"),
    ]


def test_field_cap_reached_among_a_maps_keys() -> None:
    fields, problems = flatten_value("b", {"k1": "v", "k2": "v", "k3": "v", "k4": "v"}, Limits(max_fields=3))
    assert [(f.path, f.value) for f in fields] == [("b.{}", "k1"), ("b.{}", "k2"), ("b.{}", "k3")]
    assert problems == ["more than 3 fields; the rest were not inspected"]


def test_too_deep_subtree_with_bytes_is_kept_as_text() -> None:
    fields, problems = flatten_value("b", {"a": {"c": b"\xff"}}, Limits(max_depth=1))
    assert [(f.path, f.value) for f in fields] == [("b.{}", "a"), ("b.a", '{"c": "\ufffd"}')]
    assert problems == ["b.a: nested deeper than 1 levels"]


def test_field_is_immutable_and_compares_by_path_and_value() -> None:
    field = Field("p", "v")
    assert (field.path, field.value) == ("p", "v")
    assert field == Field("p", "v") and field != Field("p", "w")
    assert repr(field) == "Field(path='p', value='v')"
    try:
        field.value = "x"  # type: ignore[misc]
    except AttributeError:
        pass
    else:
        raise AssertionError("Field is mutable")
