"""The score distributions of a run, farm accounts against honest ones, as SVG or PNG.

Drawn with matplotlib (the ``geofence-policy[plot]`` extra), which writes both formats; the
file's extension chooses, and any other extension is refused before the run starts. Each
account counts once, at its highest score within its first ``EARLY`` requests (what the ROC
AUC ranks); the challenge and deny thresholds of the policy's score ladder are drawn across.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from geofence.errors import ConfigurationError
from geofence.simulate.metrics import Report

__all__ = ["FORMATS", "check_plot_path", "plot_scores"]

FORMATS = (".svg", ".png")
"""The plot formats written."""


def check_plot_path(path: str | Path) -> Path:
    """``path`` if its extension is one this writes and matplotlib is installed, else a
    ``ConfigurationError`` saying why."""
    target = Path(path)
    if target.suffix.lower() not in FORMATS:
        raise ConfigurationError(
            f"cannot write a plot as {target.suffix or 'a file without an extension'!r}: "
            f"give a path ending in {' or '.join(FORMATS)}"
        )
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            "the plot needs matplotlib: pip install 'geofence-policy[plot]'"
        ) from None
    return target


def plot_scores(
    path: str | Path,
    farm: Sequence[float],
    benign: Sequence[float],
    result: Report,
    ladder: Sequence[tuple[str, float]] = (("challenge", 0.5), ("deny", 0.85)),
) -> Path:
    """Write the histogram of per-account scores (log counts) to ``path``; returns it."""
    target = check_plot_path(path)
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.2), dpi=100)
    bins = [i / 40 for i in range(41)]
    axes.hist(benign, bins=bins, color="#3a8d3f", alpha=0.7, label=f"honest ({len(benign):,})")
    axes.hist(farm, bins=bins, color="#c0392b", alpha=0.7, label=f"farm ({len(farm):,})")
    for name, at in ladder:
        axes.axvline(at, color="#555555", linestyle="--", linewidth=1)
        axes.text(at + 0.01, 0.95, name, transform=axes.get_xaxis_transform(), fontsize=9)
    axes.set_yscale("log")
    axes.set_xlim(0, 1)
    axes.set_xlabel(f"account score (highest within its first 50 requests); AUC {result.auc:.3f}")
    axes.set_ylabel("accounts")
    axes.set_title(
        f"geofence simulate: recall@50 {result.recall_early:.3f}, "
        f"honest flagged {result.benign_flagged_share:.3%}"
    )
    axes.legend(loc="upper center")
    figure.tight_layout()
    figure.savefig(target, format=target.suffix.lower().lstrip("."), metadata=_metadata(target))
    plt.close(figure)
    return target


def _metadata(target: Path) -> dict[str, str | None]:
    # No creation date in the file: the same run writes the same bytes.
    if target.suffix.lower() == ".svg":
        return {"Date": None, "Creator": "geofence simulate"}
    return {"Software": "geofence simulate"}
