"""A small server-side SVG line chart of consistency scores over persona versions (no JS, CSP-safe)."""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, PAD = 560, 200, 36


def score_chart_svg(rows: list[dict]) -> SafeString:
    """`rows`: [{"version": n, "score": 0..1, ...}] in version order → an accessible inline SVG."""
    points = [row for row in rows if row.get("score") is not None]
    if not points:
        return mark_safe('<p class="help">No finished evaluation runs yet.</p>')
    span = max(1, len(points) - 1)
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    coords = [
        (PAD + inner_w * index / span if len(points) > 1 else WIDTH / 2, PAD + inner_h * (1 - float(row["score"])))
        for index, row in enumerate(points)
    ]
    parts = [
        f'<svg class="persona-score-chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        'role="img" aria-label="Consistency score per persona version">',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#888"/>',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#888"/>',
    ]
    for tick in (0.0, 0.5, 1.0):
        y = PAD + inner_h * (1 - tick)
        parts.append(f'<text x="{PAD - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{tick:.1f}</text>')
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#417690" stroke-width="2"/>')
    for (x, y), row in zip(coords, points, strict=True):
        label = escape(f"v{row['version']}: {float(row['score']):.2f} ({row.get('model', '')})")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#417690"><title>{label}</title></circle>')
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - PAD + 16}" text-anchor="middle" font-size="11">v{escape(row["version"])}</text>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle" font-size="10">{float(row["score"]):.2f}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every dynamic value above is escaped or numeric
