"""Server-side SVG charts: well-formed, accessible, escaped, deterministic, and true to the data."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import pytest

from cybercrisis.situation import svg
from cybercrisis.situation.aggregate import IMPACT_ORDER, CountryCell

NS = {"s": svg.SVG_NS}
SCALE = ("normal", "elevated", "degraded", "crisis")
# fmt: off
EU27 = ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"]
# fmt: on
HOSTILE = "<script>alert(\"x\")</script> & 'q'"


def cell(status: str | None = None, outlook: str | None = None, impact: str | None = None, n: int = 0) -> CountryCell:
    return CountryCell(status=status, outlook=outlook, impact=impact, open_incidents=n, sources=[])


def parse(text: str) -> ET.Element:
    root = ET.fromstring(text)  # noqa: S314 - our own output, parsed to prove it is well-formed
    assert root.tag == f"{{{svg.SVG_NS}}}svg"
    return root


def accessible(root: ET.Element) -> tuple[str, str]:
    """The chart's title and desc, after checking that aria-labelledby points at them."""
    assert root.get("role") == "img"
    title, desc = root.find("s:title", NS), root.find("s:desc", NS)
    assert title is not None and desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert title.text and desc.text
    return title.text, desc.text


def tiles(root: ET.Element) -> dict[str, ET.Element]:
    """Map tiles by the code printed on them (the bold text of each group holding a 56px rect)."""
    out = {}
    for g in root.iter(f"{{{svg.SVG_NS}}}g"):
        rect = g.find("s:rect", NS)
        if rect is not None and rect.get("width") == str(svg.TILE):
            code = g.findall("s:text", NS)[0].text
            assert code is not None
            out[code] = g
    return out


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{{{svg.SVG_NS}}}text")]


PICTURE = {
    "FR": cell("crisis", "worsening", "red", 3),
    "DE": cell("degraded", "stable", "yellow", 1),
    "PL": cell(None, None, "green", 2),
}


def test_map_has_every_member_state_as_a_labelled_tile() -> None:
    root = parse(svg.country_map(PICTURE))
    found = tiles(root)
    assert sorted(found) == EU27
    for code, g in found.items():
        tooltip = g.find("s:title", NS)
        assert tooltip is not None and tooltip.text is not None and tooltip.text.startswith(f"{code}: ")


def test_map_colours_a_country_by_its_status_and_the_legend_maps_that_colour() -> None:
    root = parse(svg.country_map(PICTURE))
    colours = svg.palette_for("status", SCALE)
    found = tiles(root)
    fr, de, at = (found[c].find("s:rect", NS) for c in ("FR", "DE", "AT"))
    assert fr is not None and de is not None and at is not None
    assert fr.get("fill") == colours["crisis"] != colours["degraded"] == de.get("fill")
    assert at.get("fill") == svg.NEUTRAL and at.get("stroke-dasharray")
    assert [t.text for t in found["FR"].findall("s:text", NS)] == ["FR", "crisis"]  # colour is not the only carrier
    assert [t.text for t in found["AT"].findall("s:text", NS)] == ["AT", "no report"]
    legend = {}
    for g in root.iter(f"{{{svg.SVG_NS}}}g"):
        rect = g.find("s:rect", NS)
        if rect is not None and rect.get("width") == "16":
            legend[g.findtext("s:text", namespaces=NS)] = rect.get("fill")
    assert legend == {
        "normal": colours["normal"],
        "elevated": colours["elevated"],
        "degraded": colours["degraded"],
        "crisis": colours["crisis"],
        "no report": svg.NEUTRAL,
    }
    tooltip = found["FR"].findtext("s:title", namespaces=NS)
    assert tooltip == "FR: crisis, outlook worsening, worst impact red, 3 open incidents"
    assert (
        found["PL"].findtext("s:title", namespaces=NS) == "PL: no status reported, worst impact green, 2 open incidents"
    )


def test_map_desc_states_the_data_in_words() -> None:
    title, desc = accessible(parse(svg.country_map(PICTURE, title="Status today")))
    assert title == "Status today"
    assert "crisis: FR." in desc and "degraded: DE." in desc
    assert "FR: crisis, outlook worsening, worst impact red, 3 open incidents" in desc
    assert "No report: AT, BE," in desc and "PL" in desc.split("No report:")[1]
    assert "FR" not in desc.split("No report:")[1].split(".")[0]


def test_map_by_impact_uses_the_impact_palette() -> None:
    root = parse(svg.country_map(PICTURE, by="impact"))
    found = tiles(root)
    colours = dict(zip(IMPACT_ORDER, svg.IMPACT_COLOURS, strict=True))
    for code, impact in (("FR", "red"), ("DE", "yellow"), ("PL", "green")):
        rect = found[code].find("s:rect", NS)
        assert rect is not None and rect.get("fill") == colours[impact]
        assert found[code].findall("s:text", NS)[1].text == impact
    _, desc = accessible(root)
    assert "red: FR." in desc and "No impact reported: AT," in desc


def test_map_accepts_el_for_greece_and_draws_other_codes_below() -> None:
    root = parse(svg.country_map({"EL": cell("elevated"), "no": cell("normal")}))
    found = tiles(root)
    assert "GR" not in found and "EL" in found and "NO" in found and len(found) == 28
    rect = found["EL"].find("s:rect", NS)
    assert rect is not None and rect.get("fill") == svg.palette_for("status", SCALE)["elevated"]
    assert "Outside the 27 Member States" in texts(root)


def test_map_rejects_an_unknown_colouring() -> None:
    with pytest.raises(ValueError, match="unknown colouring"):
        svg.country_map(PICTURE, by="mood")


def test_hostile_strings_are_escaped_everywhere() -> None:
    scale = ("calm", HOSTILE)
    outputs = [
        svg.country_map({"FR": cell(HOSTILE, HOSTILE, None), HOSTILE: cell("calm")}, scale=scale, title=HOSTILE),
        svg.heatmap({HOSTILE: {HOSTILE: "red", "ok": HOSTILE}}, sectors=[HOSTILE], title=HOSTILE),
        svg.bars([(HOSTILE, 2), ("bell\x07", 1)], title=HOSTILE, unit=HOSTILE),
    ]
    for out in outputs:
        assert "<script" not in out
        root = parse(out)
        title, desc = accessible(root)
        assert title.startswith(HOSTILE) and HOSTILE in desc  # escaped on the way in, intact on the way out
    assert "bell\ufffd" in parse(outputs[2]).itertext()


def test_output_is_deterministic_and_ids_differ_between_charts() -> None:
    shuffled = dict(reversed(list(PICTURE.items())))
    assert svg.country_map(PICTURE) == svg.country_map(shuffled)
    clash = [("fr", cell("normal")), ("FR", cell("crisis"))]  # the same tile twice: the first key in order wins
    assert svg.country_map(dict(clash)) == svg.country_map(dict(reversed(clash)))
    assert svg.heatmap({"FR": {"a": "red"}}) == svg.heatmap({"FR": {"a": "red"}})
    one, two = parse(svg.bars([("a", 1)], title="one")), parse(svg.bars([("a", 1)], title="two"))
    assert one.get("aria-labelledby") != two.get("aria-labelledby")


HEAT = {"FR": {"energy": "red", "health": "yellow"}, "DE": {"energy": "white", "transport": "green"}}


def cells_of(root: ET.Element) -> dict[str, tuple[str | None, str | None]]:
    """Heatmap cells by tooltip: (fill, printed letter)."""
    out = {}
    for g in root.iter(f"{{{svg.SVG_NS}}}g"):
        rect, tip = g.find("s:rect", NS), g.findtext("s:title", namespaces=NS)
        if rect is not None and rect.get("width") == "30" and tip:
            out[tip] = (rect.get("fill"), g.findtext("s:text", namespaces=NS))
    return out


def test_heatmap_cells_carry_colour_and_letter() -> None:
    root = parse(svg.heatmap(HEAT))
    colours = svg.palette_for("impact", ())
    cells = cells_of(root)
    assert cells["FR, energy: red impact"] == (colours["red"], "R")
    assert cells["DE, energy: white impact"] == (colours["white"], "W")
    assert cells["DE, transport: green impact"] == (colours["green"], "G")
    assert cells["FR, transport: not reported"] == (svg.EMPTY, None)
    assert len(cells) == 6  # 2 countries x 3 sectors
    assert texts(root)[:5] == ["energy", "health", "transport", "DE", "W"]  # columns sorted, then rows sorted
    _, desc = accessible(root)
    assert "FR: energy red, health yellow." in desc and "DE: energy white, transport green." in desc
    assert "1 red cell," in desc


def test_heatmap_keeps_the_given_sector_order_and_shows_unlisted_sectors() -> None:
    root = parse(svg.heatmap(HEAT, sectors=["transport", "banking", "energy"]))
    assert texts(root)[:5] == ["transport", "banking", "energy", "health", "DE"]
    assert cells_of(root)["DE, banking: not reported"] == (svg.EMPTY, None)


def test_heatmap_marks_values_off_the_scale() -> None:
    cells = cells_of(parse(svg.heatmap({"FR": {"energy": "purple"}})))
    assert cells["FR, energy: purple impact"] == (svg.NEUTRAL, "?")


@pytest.mark.parametrize("heat", [{}, {"FR": {}}])
def test_empty_heatmap_says_no_impact_is_reported(heat: dict[str, dict[str, str]]) -> None:
    title, desc = accessible(parse(svg.heatmap(heat)))
    assert "no impact reported" in title and "no impact reported" in desc


def test_bars_print_each_value_and_scale_to_the_largest() -> None:
    rows = [("2026-01-01", 0), ("2026-01-02", 4), ("2026-01-03", 2)]
    root = parse(svg.bars(rows, title="Incidents per day"))
    widths = [r.get("width") for r in root.iter(f"{{{svg.SVG_NS}}}rect")]
    assert widths == ["0", "300", "150"]
    assert texts(root) == ["2026-01-01", "0", "2026-01-02", "4", "2026-01-03", "2"]
    title, desc = accessible(root)
    assert title == "Incidents per day"
    assert desc == "Incidents per day: 6 incidents in all. 2026-01-01: 0; 2026-01-02: 4; 2026-01-03: 2."
    tips = [g.findtext("s:title", namespaces=NS) for g in root.iter(f"{{{svg.SVG_NS}}}g")]
    assert tips == ["2026-01-01: 0 incidents", "2026-01-02: 4 incidents", "2026-01-03: 2 incidents"]


def test_bars_handle_all_zero_and_empty_input() -> None:
    root = parse(svg.bars([("a", 0), ("b", 0)], title="Quiet", unit="reports"))
    assert [r.get("width") for r in root.iter(f"{{{svg.SVG_NS}}}rect")] == ["0", "0"]
    assert accessible(root)[1].startswith("Quiet: 0 reports in all.")
    assert accessible(parse(svg.bars([("a", 1)], title="One")))[1].startswith("One: 1 incident in all.")
    title, desc = accessible(parse(svg.bars([], title="Nothing")))
    assert "no data" in title and "no data" in desc


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 9, 12])
def test_status_palette_runs_from_light_to_dark(n: int) -> None:
    scale = [f"level{i}" for i in range(n)]
    colours = list(svg.palette_for("status", scale).values())
    assert len(set(colours)) == n

    def lightness(c: str) -> float:
        r, g, b = (int(c[i : i + 2], 16) for i in (1, 3, 5))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    assert all(lightness(a) > lightness(b) for a, b in itertools.pairwise(colours))


def test_legend_items_end_with_the_neutral_colour() -> None:
    assert svg.legend_items("status", SCALE) == [*svg.palette_for("status", SCALE).items(), ("no report", svg.NEUTRAL)]
    assert [label for label, _ in svg.legend_items("impact", SCALE)] == [*IMPACT_ORDER, "no impact reported"]
    assert svg.palette_for("status", SCALE)["crisis"] == "#e31a1c"
    with pytest.raises(ValueError, match="unknown colouring"):
        svg.legend_items("mood", SCALE)
