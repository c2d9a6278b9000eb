"""Server-side SVG charts of a situation picture: a tile map, an impact heatmap and bar charts.

Each chart is one self-contained SVG string: no script, no style element or attribute, no external asset, and the
same input always gives the same bytes. Each is an accessible image: role="img", a <title>, and a <desc> that states
all the data in words; each shape carries its own <title> as a tooltip. Colour is never the only carrier: every tile
and cell prints its value, and the palettes are sequential (ColorBrewer YlOrRd), ordered by lightness. Every string
that may come from configuration or users is escaped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

from cybercrisis.situation.aggregate import IMPACT_ORDER, CountryCell

SVG_NS = "http://www.w3.org/2000/svg"
NEUTRAL = "#d9d9d9"  # no report, or a value off the scale; drawn with a dashed outline
EMPTY = "#ffffff"
INK = "#1a1a1a"
OUTLINE = "#4d4d4d"  # at least 3:1 against white, so light tiles keep a visible edge
BAR = "#3f6ea8"
# white, green, yellow, red: hues that match the NIS names, at clearly different lightness (97, 89/64, 37 % L*)
# so that they stay apart for colour-blind readers; every cell also prints its letter (W, G, Y, R).
IMPACT_COLOURS = ("#f7f7f7", "#5aae61", "#fee08b", "#b2182b")
YLORRD = {  # ColorBrewer YlOrRd, light to dark, by number of classes
    3: ("#ffeda0", "#feb24c", "#f03b20"),
    4: ("#ffffb2", "#fecc5c", "#fd8d3c", "#e31a1c"),
    5: ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"),
    6: ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"),
    7: ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026"),
    8: ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026"),
    9: ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026", "#800026"),
}
NO_REPORT = {"status": "no report", "impact": "no impact reported"}  # legend label of the neutral colour
TILE_NONE = {"status": "no report", "impact": "unreported"}  # what a neutral tile prints
BOLD = ' font-weight="bold"'
GRID = (  # the 27 Member States, roughly where they lie
    "..  ..  ..  ..  SE  FI  ..",
    "IE  ..  ..  DK  ..  EE  ..",
    "..  ..  NL  DE  PL  LV  ..",
    "..  ..  BE  CZ  SK  LT  ..",
    "..  FR  LU  AT  HU  RO  ..",
    "PT  ES  IT  SI  HR  BG  ..",
    "..  ..  MT  ..  ..  GR  CY",
)
POSITIONS = {code: (col, row) for row, line in enumerate(GRID) for col, code in enumerate(line.split()) if code != ".."}
ALIASES = {"EL": "GR"}  # the EU writes Greece EL, ISO 3166 writes GR
TILE, STEP, COLS = 56, 62, len(GRID[0].split())
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# --- text and colour helpers -----------------------------------------------------------------------------------


def _clean(value: object) -> str:
    return _NOT_XML.sub("\ufffd", str(value))


def _t(value: object) -> str:
    """Escaped text content. No attribute ever carries outside text: they hold numbers and our own colours."""
    return escape(_clean(value))


def _short(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _count(n: int, plural: str) -> str:
    return f"{n} {plural[:-1] if n == 1 and plural.endswith('s') else plural}"


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _ink(fill: str) -> str:
    """Dark text on light fills, white text on dark ones (WCAG relative luminance)."""

    def linear(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else float(((s + 0.055) / 1.055) ** 2.4)

    r, g, b = (linear(c) for c in _rgb(fill))
    return "#ffffff" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.2 else INK


def sequential(n: int) -> tuple[str, ...]:
    """n colours from light to dark; ColorBrewer's own classes up to 9, interpolated beyond."""
    if n <= 0:
        return ()
    if n <= 2:
        return (("#fd8d3c",), (YLORRD[3][0], YLORRD[3][2]))[n - 1]
    if n in YLORRD:
        return YLORRD[n]
    stops = [_rgb(c) for c in YLORRD[9]]
    out = []
    for i in range(n):
        pos = i * (len(stops) - 1) / (n - 1)
        k = min(int(pos), len(stops) - 2)
        frac = pos - k
        mixed = (round(a + (b - a) * frac) for a, b in zip(stops[k], stops[k + 1], strict=True))
        out.append("#" + "".join(f"{c:02x}" for c in mixed))
    return tuple(out)


def palette_for(by: str, scale: Sequence[str]) -> dict[str, str]:
    """Value -> fill colour: the status scale (least to most severe) or the NIS impact levels."""
    if by == "status":
        values = list(dict.fromkeys(scale))
        return dict(zip(values, sequential(len(values)), strict=True))
    if by == "impact":
        return dict(zip(IMPACT_ORDER, IMPACT_COLOURS, strict=True))
    raise ValueError(f"unknown colouring {by!r}: expected 'status' or 'impact'")


def legend_items(by: str, scale: Sequence[str]) -> list[tuple[str, str]]:
    """(label, colour) for each value, least severe first, then the neutral colour of a missing report."""
    return [*palette_for(by, scale).items(), (NO_REPORT[by], NEUTRAL)]


# --- drawing helpers -------------------------------------------------------------------------------------------


def _text(
    x: int, y: int, value: str, *, size: int = 11, anchor: str = "start", fill: str = INK, extra: str = ""
) -> str:
    return f'<text x="{x}" y="{y}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{extra}>{_t(value)}</text>'


def _rect(x: int, y: int, w: int, h: int, fill: str, *, stroke: str = OUTLINE, dashed: bool = False) -> str:
    dash = ' stroke-dasharray="3 2"' if dashed else ""
    return f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}" stroke="{stroke}"{dash}/>'


def _group(tooltip: str, *parts: str) -> str:
    return f"<g><title>{_t(tooltip)}</title>{''.join(parts)}</g>"


def _svg(kind: str, title: str, desc: str, width: int, height: int, body: Sequence[str]) -> str:
    title, desc, content = _t(title), _t(desc), "".join(body)
    digest = hashlib.sha256("\n".join((title, desc, content)).encode()).hexdigest()[:12]
    uid = f"{kind}-{digest}"  # stable for the same chart, apart for different charts on one page
    return (
        f'<svg xmlns="{SVG_NS}" role="img" aria-labelledby="{uid}-t {uid}-d" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif">'
        f'<title id="{uid}-t">{title}</title><desc id="{uid}-d">{desc}</desc>{content}</svg>'
    )


def _nothing(kind: str, title: str, message: str) -> str:
    return _svg(
        kind, f"{title}: {message}", f"{title}: {message}.", 320, 40, [_text(10, 25, message.capitalize(), size=13)]
    )


def _legend(x: int, y: int, heading: str, items: Sequence[tuple[str, str]], neutral_label: str) -> list[str]:
    out = [_text(x, y + 11, heading, size=12, extra=BOLD)]
    for i, (label, colour) in enumerate(items):
        top = y + 20 + i * 22
        swatch = _rect(x, top, 16, 16, colour, dashed=label == neutral_label)
        out.append(_group(label, swatch, _text(x + 24, top + 13, _short(label, 22))))
    return out


# --- charts ----------------------------------------------------------------------------------------------------


def _describe(code: str, cell: CountryCell | None) -> str:
    if cell is None:
        return f"{code}: no report"
    parts = [cell.status or "no status reported"]
    if cell.outlook:
        parts.append(f"outlook {cell.outlook}")
    if cell.impact:
        parts.append(f"worst impact {cell.impact}")
    parts.append(_count(cell.open_incidents, "open incidents"))
    return f"{code}: " + ", ".join(parts)


def country_map(
    countries: Mapping[str, CountryCell],
    *,
    by: str = "status",
    scale: Sequence[str] = ("normal", "elevated", "degraded", "crisis"),
    title: str = "Member States",
) -> str:
    """A tile map of the 27 Member States coloured by reported status or worst impact; others in a row below."""
    colours = palette_for(by, scale)
    order = list(colours)
    cells: dict[str, tuple[str, CountryCell | None]] = {}  # map code -> (code as the caller wrote it, cell)
    for key, item in sorted(countries.items(), key=lambda kv: kv[0]):
        code = key.strip().upper()
        cells.setdefault(ALIASES.get(code, code), (code, item))
    extras = sorted(c for c in cells if c not in POSITIONS)
    places = dict(POSITIONS)
    for i, code in enumerate(extras):
        places[code] = (i % COLS, len(GRID) + i // COLS)  # below the map, under a heading
    body: list[str] = []
    groups: dict[str, list[str]] = {v: [] for v in order}
    missing: list[str] = []
    details: list[str] = []
    for code in sorted(places):
        shown, cell = cells.get(code, (code, None))
        value = None if cell is None else (cell.status if by == "status" else cell.impact)
        fill = colours.get(value, NEUTRAL) if value is not None else NEUTRAL
        if value in groups:
            groups[value].append(shown)
        elif cell is None or value is None:
            missing.append(shown)
        if cell is not None:
            details.append(_describe(shown, cell))
        col, row = places[code]
        x, y, ink = 10 + col * STEP, 10 + row * STEP + (24 if row >= len(GRID) else 0), _ink(fill)
        label = _short(value, 9) if value else TILE_NONE[by]
        body.append(
            _group(
                _describe(shown, cell),
                _rect(x, y, TILE, TILE, fill, dashed=fill == NEUTRAL),
                _text(x + TILE // 2, y + 25, _short(shown, 4), size=15, anchor="middle", fill=ink, extra=BOLD),
                _text(x + TILE // 2, y + 44, label, size=9, anchor="middle", fill=ink),
            )
        )
    rows = len(GRID) + (len(extras) + COLS - 1) // COLS
    if extras:
        body.append(_text(10, 22 + len(GRID) * STEP, "Outside the 27 Member States", size=12, extra=BOLD))
    legend_x = 10 + COLS * STEP + 14
    heading = "Status" if by == "status" else "Worst impact"
    body += _legend(legend_x, 10, heading, legend_items(by, scale), NO_REPORT[by])
    height = max(20 + rows * STEP + (24 if extras else 0), 40 + (len(order) + 1) * 22)
    what = "the status each reported" if by == "status" else "the worst impact reported in any sector"
    desc = [
        f"{title}: tile map of the {len(POSITIONS)} EU Member States coloured by {what}, "
        f"from least to most severe: {', '.join(order)}."
    ]
    desc += [f"{v}: {', '.join(groups[v])}." for v in reversed(order) if groups[v]]
    if missing:
        desc.append(f"{NO_REPORT[by].capitalize()}: {', '.join(missing)}.")
    if details:
        desc.append("Details: " + "; ".join(details) + ".")
    return _svg("map", title, " ".join(desc), legend_x + 190, height, body)


def heatmap(
    heat: Mapping[str, Mapping[str, str]],
    *,
    sectors: Sequence[str] | None = None,
    title: str = "Impact by Member State and sector",
) -> str:
    """Worst impact per Member State (rows) and sector (columns), a letter in each cell."""
    if not any(heat.values()):
        return _nothing("heatmap", title, "no impact reported")
    present = sorted({s for row in heat.values() for s in row})
    columns = list(dict.fromkeys(sectors)) if sectors is not None else []
    columns += [s for s in present if s not in columns]  # a sector missing from the list is shown, not dropped
    rows = sorted(heat)
    colours = palette_for("impact", ())
    cell, left = 30, 12 + 8 * max(len(_short(_clean(c), 8)) for c in rows)
    labels = [_short(_clean(s), 22) for s in columns]
    reach = round(max(len(s) for s in labels) * 6.5 * 0.71)  # how far a label rotated by 45 degrees reaches
    top = 20 + reach
    body = []
    for j, (sector, label) in enumerate(zip(columns, labels, strict=True)):
        x, y = left + j * cell + cell // 2, top - 6
        body.append(_group(sector, _text(x, y, label, extra=f' transform="rotate(-45 {x} {y})"')))
    counts = dict.fromkeys(IMPACT_ORDER, 0)
    lines = []
    for i, country in enumerate(rows):
        y = top + i * cell
        body.append(_group(country, _text(left - 8, y + 19, _short(country, 8), anchor="end")))
        found = []
        for j, sector in enumerate(columns):
            x, value = left + j * cell, heat[country].get(sector)
            if value is None:
                body.append(
                    _group(f"{country}, {sector}: not reported", _rect(x, y, cell, cell, EMPTY, stroke="#bdbdbd"))
                )
                continue
            fill = colours.get(value, NEUTRAL)
            counts[value] = counts.get(value, 0) + 1
            found.append(f"{sector} {value}")
            letter = value[:1].upper() if value in colours else "?"
            body.append(
                _group(
                    f"{country}, {sector}: {value} impact",
                    _rect(x, y, cell, cell, fill, dashed=fill == NEUTRAL),
                    _text(x + cell // 2, y + 20, letter, size=13, anchor="middle", fill=_ink(fill)),
                )
            )
        lines.append(f"{country}: {', '.join(found) if found else 'nothing reported'}.")
    y = top + len(rows) * cell + 14
    items = [*[(f"{v} ({v[:1].upper()})", c) for v, c in colours.items()], ("not reported", EMPTY)]
    for k, (label, colour) in enumerate(items):
        x = left + k * 104
        stroke = "#bdbdbd" if colour == EMPTY else OUTLINE
        body.append(_group(label, _rect(x, y, 16, 16, colour, stroke=stroke), _text(x + 22, y + 13, label)))
    width = max(left + len(columns) * cell + reach + 10, left + len(items) * 104)
    total = ", ".join(_count(n, f"{v} cells") for v, n in reversed(counts.items()) if n)  # most severe first
    scope = f"{_count(len(rows), 'Member States')} in {_count(len(columns), 'sectors')}"
    desc = [f"{title}: worst impact reported by {scope}, on the scale {', '.join(IMPACT_ORDER)}; {total}.", *lines]
    return _svg("heatmap", title, " ".join(desc), width, y + 30, body)


def bars(rows: Sequence[tuple[str, int]], *, title: str, unit: str = "incidents") -> str:
    """Horizontal bars, one per row in the given order, each with its value printed after it."""
    if not rows:
        return _nothing("bars", title, "no data")
    labels = [_short(_clean(label), 24) for label, _ in rows]
    left, height, longest = 14 + round(6.5 * max(len(s) for s in labels)), 22, 300
    peak = max(v for _, v in rows)
    body = []
    for i, ((label, value), shown) in enumerate(zip(rows, labels, strict=True)):
        y = 8 + i * height
        width = round(max(value, 0) * longest / peak) if peak > 0 else 0
        body.append(
            _group(
                f"{label}: {_count(value, unit)}",
                _text(left - 8, y + 15, shown, anchor="end"),
                f'<rect x="{left}" y="{y + 3}" width="{width}" height="{height - 6}" fill="{BAR}"/>',
                _text(left + width + 5, y + 15, str(value)),
            )
        )
    bottom = 8 + len(rows) * height
    body.append(f'<line x1="{left}" y1="4" x2="{left}" y2="{bottom + 4}" stroke="{OUTLINE}"/>')
    listed = "; ".join(f"{label}: {value}" for label, value in rows)
    desc = f"{title}: {_count(sum(v for _, v in rows), unit)} in all. {listed}."
    return _svg("bars", title, desc, left + longest + 60, bottom + 12, body)
