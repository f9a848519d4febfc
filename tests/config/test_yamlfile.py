import pytest
from pydantic import BaseModel, ConfigDict

from config import InputError
from config.yamlfile import parse_yaml_model


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
