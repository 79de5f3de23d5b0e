"""Server-rendered SVG charts: geometry computed here, drawn by a template. No JavaScript."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Bar:
    label: str
    amount: Decimal
    x: float
    y: float
    width: float
    height: float
    label_x: float  # centre of the bar, for its texts
    amount_y: float  # baseline of the amount written above the bar


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    baseline: float
    label_y: float  # baseline of the bucket labels under the axis
    bars: list[Bar]


def bar_chart(items: list[tuple[str, Decimal]], *, width: int = 560, height: int = 220) -> BarChart:
    """Vertical bars scaled to the largest positive amount; negative amounts draw no bar."""
    top, bottom = 24, 40  # room for the amount above a bar and the label below the axis
    plot = height - top - bottom
    slot = width / max(len(items), 1)
    bar_width = slot * 0.6
    peak = max([amount for _, amount in items if amount > 0], default=Decimal(0))
    bars = []
    for i, (label, amount) in enumerate(items):
        h = float(amount / peak) * plot if peak > 0 and amount > 0 else 0.0
        if 0 < h < 2:
            h = 2.0  # keep a small amount visible
        x = i * slot + (slot - bar_width) / 2
        bars.append(
            Bar(label=label, amount=amount, x=round(x, 1), y=round(top + plot - h, 1),
                width=round(bar_width, 1), height=round(h, 1), label_x=round(x + bar_width / 2, 1),
                amount_y=round(top + plot - h - 6, 1))
        )
    return BarChart(width=width, height=height, baseline=top + plot, label_y=top + plot + 20, bars=bars)
