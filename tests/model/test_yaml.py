"""The YAML layer: YAML 1.2 scalars, merge keys, line index, and both parsers agreeing."""

from __future__ import annotations

from supplynet.model import example_path
from supplynet.model._yaml import compose, format_path

TRICKY = """\
a: no
b: 010
c: 0o10
d: 0x1F
e: 1:30
f: ~
g: .inf
h: -.5e1
i: 'quoted 1'
j: "2"
k: true
l:
m: [1, 2.0, x]
base: &base {x: 1, y: 2}
merged:
  <<: *base
  y: 3
"""


def test_yaml_1_2_core_scalars(parser: str) -> None:
    data, lines, issues = compose(TRICKY, "t.yaml", parser=parser)
    assert issues == []
    assert data["a"] == "no" and data["e"] == "1:30"  # not a bool, not sexagesimal
    assert (data["b"], data["c"], data["d"]) == (10, 8, 31)
    assert data["f"] is None and data["l"] is None and data["g"] == float("inf") and data["h"] == -5.0
    assert (data["i"], data["j"], data["k"]) == ("quoted 1", "2", True)
    assert data["m"] == [1, 2.0, "x"]
    assert data["merged"] == {"x": 1, "y": 3}  # explicit keys win over merged ones
    assert lines[("m",)] == 13 and lines[("merged", "y")] == 17


def test_line_index_points_at_items_and_keys(parser: str) -> None:
    text = "sites:\n  - id: A\n    location:\n      lat: 1\n  - {id: B}\n"
    _, lines, _ = compose(text, "t.yaml", parser=parser)
    assert lines[("sites", 0)] == 2 and lines[("sites", 0, "location", "lat")] == 4 and lines[("sites", 1)] == 5


def test_parsers_agree_on_the_examples(libyaml: None) -> None:
    for name in ("tiny", "realistic"):
        text = example_path(name).read_text(encoding="utf-8")
        assert compose(text, name, parser="ruamel")[:2] == compose(text, name, parser="libyaml")[:2]


def test_format_path() -> None:
    assert format_path(("sites", 3, "location", "lat")) == "sites[3].location.lat"
    assert format_path(("name",)) == "name" and format_path(()) == ""
