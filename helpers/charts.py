"""Charts: matplotlib figures as inline PNG images, so the HTML needs no network.

Every chart is :data:`WIDTH` inches at :data:`DPI` and every text in it at least
:data:`FONT_PT` points: :data:`FONT_PX` pixels of the PNG. A phone (390 px) shows the image
at 330-370 of its 480 pixels, so its smallest text still reads at 11 px or more; each
``<img>`` carries ``data-font-px`` so that a browser test can check it at any width.
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: charts are rendered to PNG bytes
import matplotlib.pyplot as plt
from markupsafe import Markup, escape

WIDTH, DPI, FONT_PT = 4.8, 100, 12
FONT_PX = FONT_PT * DPI / 72
_STYLE = {
    name: FONT_PT
    for name in ("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize",
                 "ytick.labelsize", "legend.fontsize")
}  # fmt: skip


def _styled(chart: Callable[..., Markup]) -> Callable[..., Markup]:
    """Draw ``chart`` with the report's font sizes, leaving matplotlib's settings as they were
    for the notebook's own plots."""

    @functools.wraps(chart)
    def styled(*args: Any, **kwargs: Any) -> Markup:
        with plt.rc_context(_STYLE):
            return chart(*args, **kwargs)

    return styled


def _png(fig) -> str:  # type: ignore[no-untyped-def]
    try:
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(fig, title: str) -> Markup:  # type: ignore[no-untyped-def]
    data = _png(fig)
    return Markup(
        f'<img class="car-chart" alt="{escape(title)} chart" data-font-px="{FONT_PX:.1f}" '
        f'src="data:image/png;base64,{data}"/>'
    )


def _thin_x(ax, x: Sequence[str]) -> None:  # type: ignore[no-untyped-def]
    """At most 10 x labels (every k-th period): 28 dates at the report's font would overlap."""
    step = max(1, -(-len(x) // 10))
    ax.set_xticks(range(0, len(x), step), labels=[x[i] for i in range(0, len(x), step)])


def _tidy(ax, title: str) -> None:  # type: ignore[no-untyped-def]
    ax.set_title(title)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


@_styled
def heatmap(
    rows: Sequence[str],
    columns: Sequence[str],
    cells: Sequence[Sequence[float | None]],
    title: str,
) -> Markup:
    """A grid of fractions (0-1) shaded by value; a None cell (not observed) stays blank."""
    if not rows:
        return Markup('<p class="car-note">Nothing to chart.</p>')
    import numpy as np

    values = np.array([[np.nan if v is None else v for v in r] for r in cells], dtype=float)
    fig, ax = plt.subplots(figsize=(WIDTH, 0.4 * len(rows) + 1.6), dpi=DPI)
    ax.imshow(values, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(columns)), labels=list(columns))
    ax.set_yticks(range(len(rows)), labels=list(rows))
    for i, r in enumerate(cells):
        for j, v in enumerate(r):
            if v is not None:
                # Percent without the sign (the title says so): nine columns fit the width.
                ax.text(j, i, f"{v * 100:.0f}", ha="center", va="center", fontsize=FONT_PT,
                        color="white" if v > 0.6 else "black")  # fmt: skip
    ax.set_title(title)
    return _img(fig, title)


@_styled
def line_chart(
    x: Sequence[str], series: dict[str, Sequence[float | None]], title: str, *, unit: str
) -> Markup:
    """One line per series over ``x`` (period labels); None is a gap."""
    if not x:
        return Markup('<p class="car-note">Nothing to chart.</p>')
    # More than three series: the legend gets axes of its own below the chart, where it hides
    # no line.
    below = len(series) > 3
    if below:
        fig, (ax, key) = plt.subplots(
            2, 1, figsize=(WIDTH, 3.4 + 0.28 * len(series)), dpi=DPI,
            height_ratios=[3.4, 0.28 * len(series)],
        )  # fmt: skip
        key.axis("off")
    else:
        fig, ax = plt.subplots(figsize=(WIDTH, 3.4), dpi=DPI)
    for name, values in series.items():
        ax.plot(list(x), [float("nan") if v is None else v for v in values], marker="o",
                markersize=3, label=name)  # fmt: skip
    ax.set_ylabel(unit)
    _thin_x(ax, x)
    ax.tick_params(axis="x", labelrotation=45)
    if below:
        # From the figure's left edge, not the axes': the names have the whole width.
        share = 0.28 * len(series) / (3.4 + 0.28 * len(series))
        legend = fig.legend(*ax.get_legend_handles_labels(), loc="upper left",
                            bbox_to_anchor=(0.01, share), frameon=False)  # fmt: skip
        legend.set_in_layout(False)
    elif len(series) > 1:
        ax.legend()
    _tidy(ax, title)
    return _img(fig, title)


@_styled
def stacked_bars(
    x: Sequence[str], up: dict[str, Sequence[int]], down: dict[str, Sequence[int]], title: str
) -> Markup:
    """Bars of ``up`` stacked above zero and ``down`` below it, per ``x``."""
    if not x:
        return Markup('<p class="car-note">Nothing to chart.</p>')
    fig, ax = plt.subplots(figsize=(WIDTH, 3.4), dpi=DPI)
    base = [0] * len(x)
    for name, values in up.items():
        ax.bar(list(x), list(values), bottom=base, label=name)
        base = [b + v for b, v in zip(base, values, strict=True)]
    for name, values in down.items():
        ax.bar(list(x), [-v for v in values], label=name)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("users")
    _thin_x(ax, x)
    ax.tick_params(axis="x", labelrotation=45)
    ax.legend()
    _tidy(ax, title)
    return _img(fig, title)


@_styled
def bar_chart(
    labels: Sequence[str],
    values: Sequence[int],
    title: str,
    *,
    unit: str = "count",
    log: bool = False,
    vertical: bool = False,
) -> Markup:
    """Bars of ``values`` named by ``labels`` (horizontal, first on top, unless ``vertical``),
    all counts of one ``unit`` (the value axis's label): users and sessions never share one."""
    if not labels:
        return Markup('<p class="car-note">Nothing to chart: no users.</p>')
    labels, values = list(labels), list(values)
    size = (WIDTH, 3.4) if vertical else (WIDTH, 0.5 * len(labels) + 1.1)
    fig, ax = plt.subplots(figsize=size, dpi=DPI)
    try:
        if vertical:
            ax.bar(labels, values, color="#4c72b0")
            ax.set_ylabel(unit)
            _thin_x(ax, labels)
        else:
            ax.barh(labels[::-1], values[::-1], color="#4c72b0")
            ax.set_xlabel(f"{unit} (log scale)" if log else unit)
            if log:
                ax.set_xscale("symlog")
        _tidy(ax, title)
    except BaseException:
        plt.close(fig)
        raise
    return _img(fig, title)
