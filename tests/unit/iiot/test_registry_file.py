"""Registry files (iiot/registry_file.py) and line-aware YAML (iiot/yaml_lines.py): every
mistake is one line naming the file, the line and what is wrong."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml
from pydantic import BaseModel

from iiot.registry_file import LocatedError, document, load
from iiot.types import MODEL_CONFIG
from iiot.yaml_lines import load as load_located
from simulators import Simulation, SimulationOptions, registry_export

GOOD = """\
# two enterprises, three devices
enterprises:
  - id: qd-haier
    name: 海尔智家 Haier Smart Home
    city: qingdao
    industry: smart appliances
    cloud: true
  - {id: jn-inspur, name: 浪潮 Inspur, city: jinan, industry: servers, cloud: false}
births:
  - device_id: press-01
    enterprise: qd-haier
    plant_id: qd-haier-p1
    line_id: qd-haier-p1-l1
    kind: stamping_press
    key_process: true
    numerically_controlled: true
    sample_interval_s: 5
    ideal_cycle_s: 12.5
  - {device_id: press-02, enterprise: qd-haier, plant_id: qd-haier-p1,
     line_id: qd-haier-p1-l1, kind: stamping_press, key_process: true,
     numerically_controlled: true, sample_interval_s: 5.0, ideal_cycle_s: 12.5}
  - {device_id: srv-01, enterprise: jn-inspur, plant_id: jn-inspur-p1, line_id: jn-inspur-p1-l1,
     kind: smt_placement, key_process: false, numerically_controlled: true,
     sample_interval_s: 1.0, ideal_cycle_s: 3.0}
"""


def written(tmp_path: Path, text: str, name: str = "registry.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(LocatedError) as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_good_file_gives_valid_births_with_their_enterprise(tmp_path: Path) -> None:
    births = load(written(tmp_path, GOOD))
    assert [b.device_id for b in births] == ["press-01", "press-02", "srv-01"]
    assert births[0].enterprise == births[1].enterprise
    assert births[0].enterprise.name == "海尔智家 Haier Smart Home"
    assert births[2].enterprise.city == "jinan" and births[2].enterprise.cloud is False
    assert births[0].sample_interval_s == 5.0 and births[0].v == 1


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_an_export_loads_back_to_the_simulations_births(tmp_path: Path, fmt: str) -> None:
    simulation = Simulation(SimulationOptions(devices=30, seed=4))
    path = written(tmp_path, registry_export(simulation, fmt), f"registry.{fmt}")  # type: ignore[arg-type]
    assert load(path) == simulation.births()
    doc = orjson.loads(path.read_bytes()) if fmt == "json" else yaml.safe_load(path.read_text())
    ids = {b.enterprise.id for b in simulation.births()}
    assert [e["id"] for e in doc["enterprises"]] == sorted(
        ids, key=[b.enterprise.id for b in simulation.births()].index
    )
    assert all(isinstance(b["enterprise"], str) and "v" not in b for b in doc["births"])  # ids


def test_document_refuses_one_enterprise_described_two_ways() -> None:
    births = Simulation(SimulationOptions(devices=2, seed=0)).births()
    cloud = births[1].enterprise.cloud
    other = births[1].model_copy(
        update={"enterprise": births[1].enterprise.model_copy(update={"cloud": not cloud})}
    )
    assert births[0].enterprise.id == other.enterprise.id
    with pytest.raises(ValueError, match="described in two ways"):
        document([births[0], other])


PATTERN = "'^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'"


@pytest.mark.parametrize(
    ("line", "text", "expected"),
    [
        (19, "  - {device_id: press-02, enterprise: qd-haeir, plant_id: qd-haier-p1,",
         "19: births.1.enterprise: unknown enterprise 'qd-haeir' "
         "(the file's enterprises: qd-haier, jn-inspur)"),
        (14, "    kind: stamping:press",
         f"14: births.0.kind: String should match pattern {PATTERN} (got 'stamping:press')"),
        (12, None, "10: births.0.plant_id: Field required"),
        (7, "    cloud: maybe",
         "7: enterprises.0.cloud: Input should be a valid boolean (got 'maybe')"),
        (24, "     sample_interval_s: 1.0, ideal_cycle_s: 3.0, colour: red}",
         "24: births.2.colour: Extra inputs are not permitted"),
        (19, "  - {device_id: press-01, enterprise: qd-haier, plant_id: qd-haier-p1,",
         "19: births.1.device_id: device 'press-01' is given twice (first at line 10)"),
        (8, "  - {id: qd-haier, name: 浪潮 Inspur, city: jinan, industry: servers, cloud: false}",
         "8: enterprises.1.id: enterprise 'qd-haier' is given twice (first at line 3)"),
        (18, "    ideal_cycle_s: -1",
         "18: births.0.ideal_cycle_s: Input should be greater than 0 (got -1)"),
        (5, "    city: qingdao\n   bad: indent", "6: not YAML: …"),
        (9, "births: 5\nother:",
         "9: births: Input should be a valid list (got 5) (and 1 more)"),
    ],
    ids=["unknown-enterprise", "bad-value", "missing-field", "bad-enterprise-field",
         "unknown-field", "device-twice", "enterprise-twice", "out-of-range", "not-yaml",
         "not-a-list"],
)  # fmt: skip
def test_a_mistake_is_one_line_with_the_file_and_its_line(
    tmp_path: Path, line: int, text: str | None, expected: str
) -> None:
    lines = GOOD.splitlines()
    lines[line - 1 : line] = [] if text is None else [text]
    path = written(tmp_path, "\n".join(lines) + "\n")
    error = error_of(path)
    if expected.endswith("…"):  # libyaml and PyYAML word it differently
        assert error.startswith(f"{path}:{expected[:-1]}") and len(error) > len(path.name) + 20
    else:
        assert error == f"{path}:{expected}"


def test_a_file_that_is_no_registry_at_all(tmp_path: Path) -> None:
    for text in ("", "- a\n- b\n", "just text\n"):
        path = written(tmp_path, text)
        assert (
            error_of(path)
            == f"{path}:1: a registry file is a mapping with `enterprises` and `births`"
        )
    path = written(tmp_path, "enterprises: []\n")
    assert error_of(path) == f"{path}:1: births: Field required"
    missing = tmp_path / "nope.yaml"
    assert error_of(missing) == f"{missing}: cannot read: No such file or directory"


class _Pair(BaseModel):
    model_config = MODEL_CONFIG

    a: int
    b: int


def test_yaml_lines_names_the_first_mistake_and_counts_the_rest(tmp_path: Path) -> None:
    located = load_located(written(tmp_path, "pairs:\n  - {a: 1, b: 2}\n  -\n    a: x\n    b: y\n"))
    assert located.line_of(("pairs", 1)) == 4 and located.line_of(("pairs", 1, "b")) == 5
    with pytest.raises(LocatedError) as caught:
        located.validate(_Pair, ("pairs", 1))
    reason = "pairs.1.a: Input should be a valid integer (got 'x') (and 1 more)"
    assert str(caught.value) == f"{tmp_path}/registry.yaml:4: {reason}"
    assert (caught.value.line, caught.value.name) == (4, f"{tmp_path}/registry.yaml")
