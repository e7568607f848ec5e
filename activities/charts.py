"""Bar charts as standalone SVG: no plotting library, the same bytes in the stored HTML and the e-mail.

A value of None is drawn as an empty slot labelled `no_data` (the reader's words for "no data"), never as a zero.
"""

import html
import math


def svg_bars(title: str, items: list[tuple[str, float | None]], percent: bool = False, width: int = 640,
             height: int = 220, colour: str = "#4a7bb7", no_data: str = "no data") -> str:
    """Vertical bars, one per (label, value); percentages run on a fixed 0–100 % scale."""
    left, right, top, bottom = 48, 12, 28, 52
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, v in items if v is not None]
    # Percentages on 0–100 %; counts up to a multiple of 4 so the four grid steps are whole numbers.
    top_value = 1.0 if percent else 4 * math.ceil(max(values + [1.0]) / 4)
    slot = plot_w / max(len(items), 1)
    bar_w = max(min(slot * 0.7, 60), 2)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" font-family="sans-serif" font-size="11" '
             f'data-chart="{html.escape(title)}">',
             f"<title>{html.escape(title)}</title>",
             f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{html.escape(title)}</text>']
    for i in range(5):  # grid and axis labels
        fraction = i / 4
        y = round(top + plot_h * (1 - fraction), 1)
        label = f"{fraction * 100:.0f}%" if percent else _number(top_value * fraction)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y}" y2="{y}" stroke="#ddd"/>'
                     f'<text x="{left - 4}" y="{y + 4}" text-anchor="end" fill="#555">{label}</text>')
    if not items:
        parts.append(f'<text x="{width / 2}" y="{top + plot_h / 2}" text-anchor="middle" fill="#888">{html.escape(no_data)}</text>')
    for i, (label, value) in enumerate(items):
        x = left + slot * i + (slot - bar_w) / 2
        cx = round(left + slot * i + slot / 2, 1)
        if value is None:
            parts.append(f'<text x="{cx}" y="{top + plot_h - 4}" text-anchor="middle" fill="#888">{html.escape(no_data)}</text>')
        else:
            h = round(plot_h * min(value / top_value, 1.0), 1) if top_value else 0
            shown = f"{value * 100:.0f}%" if percent else _number(value)
            parts.append(f'<rect x="{round(x, 1)}" y="{round(top + plot_h - h, 1)}" width="{round(bar_w, 1)}" '
                         f'height="{h}" fill="{colour}"><title>{html.escape(label)}: {shown}</title></rect>'
                         f'<text x="{cx}" y="{round(top + plot_h - h - 3, 1)}" text-anchor="middle">{shown}</text>')
        parts.append(f'<text x="{cx}" y="{top + plot_h + 14}" text-anchor="middle" fill="#333">'
                     f'{html.escape(label[:14])}</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#999"/>')
    parts.append("</svg>")
    return "".join(parts)


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"
