"""Charts: matplotlib figures as inline PNG images, so the HTML needs no network."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display: charts are rendered to PNG bytes
import matplotlib.pyplot as plt
from markupsafe import Markup, escape


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
    return Markup(f'<img alt="{escape(title)} chart" src="data:image/png;base64,{data}"/>')


def _tidy(ax, title: str) -> None:  # type: ignore[no-untyped-def]
    ax.set_title(title)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


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
    fig, ax = plt.subplots(figsize=(6.4, 0.35 * len(rows) + 1.4), dpi=100)
    ax.imshow(values, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(columns)), labels=list(columns))
    ax.set_yticks(range(len(rows)), labels=list(rows))
    for i, r in enumerate(cells):
        for j, v in enumerate(r):
            if v is not None:
                ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=8,
                        color="white" if v > 0.6 else "black")  # fmt: skip
    ax.set_title(title)
    return _img(fig, title)


def line_chart(
    x: Sequence[str], series: dict[str, Sequence[float | None]], title: str, *, unit: str
) -> Markup:
    """One line per series over ``x`` (period labels); None is a gap."""
    if not x:
        return Markup('<p class="car-note">Nothing to chart.</p>')
    fig, ax = plt.subplots(figsize=(6.4, 3.2), dpi=100)
    for name, values in series.items():
        ax.plot(list(x), [float("nan") if v is None else v for v in values], marker="o",
                markersize=3, label=name)  # fmt: skip
    ax.set_ylabel(unit)
    ax.tick_params(axis="x", labelrotation=45)
    if len(series) > 1:
        ax.legend(fontsize=8)
    _tidy(ax, title)
    return _img(fig, title)


def stacked_bars(
    x: Sequence[str], up: dict[str, Sequence[int]], down: dict[str, Sequence[int]], title: str
) -> Markup:
    """Bars of ``up`` stacked above zero and ``down`` below it, per ``x``."""
    if not x:
        return Markup('<p class="car-note">Nothing to chart.</p>')
    fig, ax = plt.subplots(figsize=(6.4, 3.2), dpi=100)
    base = [0] * len(x)
    for name, values in up.items():
        ax.bar(list(x), list(values), bottom=base, label=name)
        base = [b + v for b, v in zip(base, values, strict=True)]
    for name, values in down.items():
        ax.bar(list(x), [-v for v in values], label=name)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("users")
    ax.tick_params(axis="x", labelrotation=45)
    ax.legend(fontsize=8)
    _tidy(ax, title)
    return _img(fig, title)


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
    size = (6.4, 3.2) if vertical else (6.4, 0.45 * len(labels) + 0.9)
    fig, ax = plt.subplots(figsize=size, dpi=100)
    try:
        if vertical:
            ax.bar(labels, values, color="#4c72b0")
            ax.set_ylabel(unit)
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
