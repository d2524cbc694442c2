"""The Andon wallboard as Grafana gets it: a tile repeated per line, big, refreshed every 10 s,
states in their colours, the current shift's OEE or the labelled last hour's, a link to the
line's details; the loss waterfall's invisible base."""

from __future__ import annotations

import pytest

from dashboards.andon import TEXT_COLOUR, URGENCY
from dashboards.catalog import OPERATIONS, SPECS, Json, render_all
from dashboards.context import Build
from dashboards.fields import STATES
from dashboards.links import link_problems


def _andon(language: str = "en") -> Json:
    return render_all(Build(language=language))["iiot-andon"]  # type: ignore[arg-type]


def test_one_big_tile_per_line_refreshed_every_ten_seconds() -> None:
    andon = _andon()
    assert next(s.folder for s in SPECS if s.uid == "iiot-andon") == OPERATIONS
    assert andon["refresh"] == "10s"
    variables = {v["name"]: v for v in andon["templating"]["list"]}  # type: ignore[index]
    assert list(variables) == ["enterprise", "plant", "line"]
    assert variables["line"]["multi"] and variables["line"]["includeAll"]
    (tile,) = andon["panels"]  # type: ignore[misc]
    assert (tile["repeat"], tile["repeatDirection"], tile["title"]) == ("line", "h", "${line}")
    options = tile["options"]
    assert options["text"]["valueSize"] >= 48 and options["colorMode"] == "background"
    assert options["reduceOptions"]["fields"] == "/.*/"  # the state, shift and reason are text
    assert tile["gridPos"]["h"] >= 12  # four values of 48 points, one above the other


@pytest.mark.parametrize(("language", "last_hour", "shift"), [
    ("zh", "'最近 1 小时'", "当前班次"), ("en", "'Last hour'", "current shift"),
])  # fmt: skip
def test_oee_is_the_current_shifts_so_far_or_the_labelled_last_hour(
    language: str, last_hour: str, shift: str
) -> None:
    (tile,) = _andon(language)["panels"]  # type: ignore[misc]
    sql = tile["targets"][0]["rawSql"]
    assert sql.startswith("SELECT s.state, o.oee, o.shift, s.reason ")
    # the windows (not the hours) of the shift instance running at the range's end
    assert "v_oee_shift WHERE grain = 'window'" in sql
    assert "shift_start <= $__timeTo()::timestamptz AND shift_end > $__timeTo()" in sql
    assert f"{last_hour} FROM iiot.v_oee" in sql and "$__timeFilter" not in sql
    assert shift in tile["description"] and last_hour.strip("'") in tile["description"]
    colours = {o["matcher"]["options"]: p["value"]["fixedColor"]
               for o in tile["fieldConfig"]["overrides"] for p in o["properties"]
               if p["id"] == "color"}  # fmt: skip
    assert colours == {"shift": TEXT_COLOUR, "reason": TEXT_COLOUR}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_state_a_line_can_show_has_its_text_and_colour(language: str) -> None:
    (tile,) = _andon(language)["panels"]  # type: ignore[misc]
    (mapping,) = tile["fieldConfig"]["defaults"]["mappings"]
    assert set(mapping["options"]) == set(URGENCY)
    for state, (text, colour) in STATES.items():
        assert mapping["options"][state]["color"] == colour
        assert mapping["options"][state]["text"] == getattr(text, language)
    assert mapping["options"]["offline"]["text"] == {"zh": "离线", "en": "Offline"}[language]


def test_tiles_link_to_the_line_keeping_the_range() -> None:
    dashboards = render_all(Build(language="en"))
    (tile,) = dashboards["iiot-andon"]["panels"]  # type: ignore[misc]
    urls = {link["url"] for o in tile["fieldConfig"]["overrides"] for p in o["properties"]
            if p["id"] == "links" for link in p["value"]}  # fmt: skip
    assert urls == {"/d/iiot-line-device?var-enterprise=${enterprise}&var-plant=${plant}"
                    "&var-line=${line}&${__url_time_range}"}  # fmt: skip
    assert link_problems(dashboards) == []


def test_waterfall_base_is_invisible() -> None:
    panels = render_all(Build(language="en"))["iiot-enterprise"]["panels"]
    (waterfall,) = [p for p in panels if p["title"] == "Loss waterfall: the six big losses"]  # type: ignore[union-attr]
    base = [o for o in waterfall["fieldConfig"]["overrides"] if o["matcher"]["options"] == "base_s"]
    properties = {p["id"]: p["value"] for o in base for p in o["properties"]}
    assert properties["color"]["fixedColor"] == "transparent"
    assert properties["custom.hideFrom"] == {"legend": True, "tooltip": True, "viz": False}
