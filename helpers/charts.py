"""Charts: matplotlib figures as inline PNG images, so the HTML needs no network."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display: charts are rendered to PNG bytes
import matplotlib.pyplot as plt
from markupsafe import Markup, escape


def bar_chart(
    labels: Sequence[str],
    values: Sequence[int],
    title: str,
    *,
    log: bool = False,
    vertical: bool = False,
) -> Markup:
    """Bars of ``values`` named by ``labels`` (horizontal, first on top, unless ``vertical``)."""
    if not labels:
        return Markup('<p class="car-note">Nothing to chart: no users.</p>')
    labels, values = list(labels), list(values)
    size = (6.4, 3.2) if vertical else (6.4, 0.45 * len(labels) + 0.9)
    fig, ax = plt.subplots(figsize=size, dpi=100)
    try:
        if vertical:
            ax.bar(labels, values, color="#4c72b0")
            ax.set_ylabel("count")
        else:
            ax.barh(labels[::-1], values[::-1], color="#4c72b0")
            ax.set_xlabel("count (log scale)" if log else "count")
            if log:
                ax.set_xscale("symlog")
        ax.set_title(title)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Markup(f'<img alt="{escape(title)} chart" src="data:image/png;base64,{data}"/>')
