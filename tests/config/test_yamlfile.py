import pytest
from pydantic import BaseModel, ConfigDict

from config import InputError
from config.yamlfile import MAX_BYTES, MAX_DEPTH, load_yaml_model, parse_yaml_model


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    weight: float


class Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    items: list[Item]


def problems(text: str) -> list[str]:
    with pytest.raises(InputError) as info:
        parse_yaml_model(text, Doc, source="f.yaml")
    return info.value.problems


def test_valid_document_parses():
    doc = parse_yaml_model("title: t\nitems:\n  - name: a\n    weight: 1\n", Doc, source="f.yaml")
    assert doc.items[0].weight == 1.0


def test_wrong_type_names_line_field_and_value():
    assert problems("title: t\nitems:\n  - name: a\n    weight: high\n") == [
        "f.yaml:4: items[0].weight: Input should be a valid number, unable to parse string as a number, got 'high'"
    ]


def test_unknown_key_suggests_the_close_one():
    (problem,) = problems("title: t\nitems:\n  - name: a\n    wieght: 1\n    weight: 2\n")
    assert problem == "f.yaml:4: items[0].wieght: unknown key (did you mean 'weight'?)"


def test_missing_key_points_at_the_parent():
    assert problems("title: t\nitems:\n  - name: a\n") == ["f.yaml:3: items[0].weight: required key is missing"]


def test_yaml_syntax_error_has_a_line():
    (problem,) = problems("title: t\nitems: [\n  - name: a\n")
    assert problem.startswith("f.yaml:") and ": yaml: " in problem


def test_duplicate_keys_are_an_error_not_a_silent_overwrite():
    assert problems("title: t\ntitle: u\nitems: []\n") == ["f.yaml:2: title: duplicate key"]


def test_empty_file():
    assert problems("# nothing\n") == ["f.yaml:1: (file): is empty"]


def test_a_key_repeated_many_times_is_reported_once():
    assert problems("title: t\n" + "title: u\n" * 1000 + "items: []\n") == ["f.yaml:2: title: duplicate key"]


def test_anchors_and_aliases_within_the_limits_still_work():
    doc = parse_yaml_model("title: t\nitems:\n  - &a {name: a, weight: 1}\n  - *a\n", Doc, source="f.yaml")
    assert [item.name for item in doc.items] == ["a", "a"]


def test_nesting_deeper_than_the_limit_is_refused_at_its_line():
    assert problems(f"title: t\nitems: []\nx:\n  {'[' * 5000}{']' * 5000}\n") == [
        f"f.yaml:4: too deeply nested (more than {MAX_DEPTH} levels)"
    ]


def test_alias_bomb_is_refused_before_it_expands():
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]" for i in range(8)]
    (problem,) = problems("\n".join(levels) + "\n")
    assert problem == "f.yaml:5: too many YAML aliases (they expand to more than 100,000 values)"


def test_alias_inside_its_own_anchor_is_refused():
    assert problems("title: &t [*t]\nitems: []\n") == ["f.yaml:1: yaml: alias *t is inside the value it names"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [("9" * 5000, "a number with more than 4,300 digits"), ("2024-13-45", "not a valid timestamp: month must be")],
)
def test_values_python_cannot_build_are_a_line_not_a_crash(value, problem):
    (line,) = problems(f"title: t\nitems:\n  - name: a\n    weight: {value}\n")
    assert line.startswith(f"f.yaml:4: yaml: {problem}")


def test_file_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_bytes("title: t\nitems:\n  - name: café\n    weight: 1\n".encode("latin-1"))
    with pytest.raises(InputError) as info:
        load_yaml_model(path, Doc)
    assert info.value.problems == [f"{path}:3: not UTF-8 text (byte 0xe9); save it as UTF-8"]


@pytest.mark.parametrize(("encoding", "name"), [("utf-16", "UTF-16"), ("utf-32", "UTF-32")])
def test_utf16_and_utf32_are_refused_even_with_a_byte_order_mark(tmp_path, encoding, name):
    path = tmp_path / "f.yaml"
    path.write_bytes("title: t\nitems: []\n".encode(encoding))
    with pytest.raises(InputError, match=rf":1: not UTF-8 text \({name}\); save it as UTF-8"):
        load_yaml_model(path, Doc)


def test_utf8_with_a_byte_order_mark_is_fine(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_bytes(b"\xef\xbb\xbftitle: t\nitems: []\n")
    assert load_yaml_model(path, Doc).title == "t"


def test_file_over_the_size_limit_is_refused_unread(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_bytes(b"title: t\nitems: []\n" + b"#" * MAX_BYTES)
    with pytest.raises(InputError, match=r": too large \(more than 128 KB\)"):
        load_yaml_model(path, Doc)
