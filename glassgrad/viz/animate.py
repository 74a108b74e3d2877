"""Step-by-step animation of a graph: values forward, then local gradients and chain-rule products back.

One list of :class:`Frame` drives two outputs that need no external program:
``write_html`` (a single offline page: inline SVG, CSS and JavaScript, no CDN)
and ``write_gif`` (the same frames drawn with Pillow). The page can be driven
from its address: ``page.html#step=last`` (or ``#step=7``) steps forward from the
start to that frame on load, and ``<pre id="state">`` always holds the visible
values and gradients as JSON, so a headless browser can check what a reader sees.
"""

import html
import json
from dataclasses import dataclass

import numpy as np

from glassgrad.viz import fonts
from glassgrad.viz.graph import describe, format_number

COLUMN_WIDTH = 190
ROW_HEIGHT = 92
BOX_W, BOX_H = 112, 46
MARGIN = 40
CAPTION_H = 64


@dataclass
class Frame:
    """What one step shows: node values and gradients, edge labels, a caption and the node in focus."""

    phase: str
    caption: str
    shown: tuple
    focus: str | None = None


def node_key(node):
    """The id used in the page for a node: its name when it has one (``grad-a``), else its node id."""
    return node.name or node.id


def _text(array):
    return "?" if array is None else describe(array)


def _paren(x):
    text = format_number(x)
    return f"({text})" if text.startswith("-") else text


def build_frames(graph, local=None, formulas=None, derivative_formulas=None, title=None):
    """The frames of the walk: graph, forward values, then local derivative and chain rule per op.

    ``local`` maps ``(input_id, node_id)`` to d(node)/d(input) (see
    ``glassgrad.viz.local_derivatives``); ``formulas`` maps a node id to text like
    ``"a * x"``; ``derivative_formulas`` maps an edge to text like ``"x"``.
    """
    local = local or {}
    formulas = formulas or {}
    derivative_formulas = derivative_formulas or {}
    root = graph.by_id[graph.root]
    top = node_key(root)
    frames, shown = [], []

    def add(phase, caption, focus=None):
        frames.append(Frame(phase, caption, tuple(shown), focus))

    add("graph", title or f"The graph of {top}: {sum(n.kind == 'op' for n in graph)} operations")
    inputs = [n for n in graph if n.kind == "input"]
    shown += [f"val-{node_key(n)}" for n in inputs]
    add("forward", "Forward: the inputs " + ", ".join(f"{node_key(n)} = {_text(n.value)}" for n in inputs))
    for node in graph:
        if node.kind != "op":
            continue
        key = node_key(node)
        shown.append(f"val-{key}")
        formula = formulas.get(node.id)
        if formula:
            operands = formula
            for child_id in node.inputs:
                child = graph.by_id[child_id]
                if child.name and child.value is not None and np.size(child.value) == 1:
                    operands = _replace_name(operands, child.name, _paren(np.asarray(child.value).item()))
            caption = f"Forward: {key} = {formula} = {operands} = {_text(node.value)}"
        else:
            caption = f"Forward: {key} = {node.op}({', '.join(node_key(graph.by_id[c]) for c in node.inputs)}) = {_text(node.value)}"
        add("forward", caption, node.id)

    shown.append(f"grad-{top}")
    add("backward", f"Backward starts at the output: d{top}/d{top} = 1", root.id)
    pending = {n.id: len(graph.consumers(n.id)) for n in graph}
    for node in reversed(graph.nodes):
        if node.kind != "op" or not node.inputs:
            continue
        key = node_key(node)
        parts = []
        for child_id in node.inputs:
            child_key = node_key(graph.by_id[child_id])
            edge = (child_id, node.id)
            shown.append(f"local-{child_key}-{key}")
            value = local.get(edge)
            symbolic = derivative_formulas.get(edge)
            text = f"d{key}/d{child_key}"
            if symbolic and symbolic != format_number(value if value is not None else np.nan):
                text += f" = {symbolic}"
            parts.append(f"{text} = {format_number(value) if value is not None else '?'}")
        add("local", f"Local derivatives at {key}: " + ",  ".join(parts), node.id)
        parts = []
        for child_id in node.inputs:
            child = graph.by_id[child_id]
            child_key = node_key(child)
            shown.append(f"prod-{child_key}-{key}")
            value = local.get((child_id, node.id))
            grad = None if node.grad is None or isinstance(node.grad, dict) else np.asarray(node.grad).sum()
            if value is not None and grad is not None:
                parts.append(
                    f"d{top}/d{key} · d{key}/d{child_key} = {_paren(grad)} · {_paren(value)} = {format_number(grad * value)}"
                )
            pending[child_id] -= 1
            if pending[child_id] == 0:
                shown.append(f"grad-{child_key}")
        caption = "Chain rule into " + ", ".join(node_key(graph.by_id[c]) for c in node.inputs)
        add("chain", caption + (": " + ";  ".join(parts) if parts else ""), node.id)

    add("done", f"Gradients of {top}: " + ",  ".join(f"d{top}/d{node_key(n)} = {_text(n.grad)}" for n in inputs))
    return frames


def _replace_name(formula, name, value):
    """Replace whole-word occurrences of ``name`` in ``formula`` (so ``a`` does not hit ``tanh``)."""
    import re

    return re.sub(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", value, formula)


# -- layout ------------------------------------------------------------------------


def layout(graph):
    """Pixel centres of the nodes: inputs on the left, the output on the right, trees unfolded."""
    depth = {}
    for node in graph:
        depth[node.id] = 1 + max((depth[c] for c in node.inputs), default=-1)
    for node in graph:
        if node.kind == "input":
            consumers = graph.consumers(node.id)
            depth[node.id] = max(0, min((depth[c.id] for c in consumers), default=1) - 1)
    row, next_row = {}, [0]

    def place(node_id):
        # Iterative post-order from the root: inputs take rows in the order they are reached.
        stack = [(node_id, False)]
        while stack:
            current, expanded = stack.pop()
            if current in row:
                continue
            node = graph.by_id[current]
            if not node.inputs:
                row[current] = next_row[0]
                next_row[0] += 1
            elif expanded:
                row[current] = float(np.mean([row[c] for c in node.inputs]))
            else:
                stack.append((current, True))
                stack.extend((c, False) for c in reversed(node.inputs))

    place(graph.root)
    # Leaves take rows in turn and ops the mean of their inputs' rows, so two nodes of one column
    # can land on the same row: keep each column's order but push nodes apart by one row.
    for column in set(depth.values()):
        ids = sorted((n.id for n in graph if depth[n.id] == column), key=lambda i: row.get(i, 0))
        for above, below in zip(ids, ids[1:]):
            row[below] = max(row.get(below, 0), row[above] + 1)
    positions = {
        node.id: (MARGIN + BOX_W / 2 + depth[node.id] * COLUMN_WIDTH, MARGIN + 24 + row.get(node.id, 0) * ROW_HEIGHT)
        for node in graph
    }
    width = int(MARGIN * 2 + BOX_W + max(depth.values()) * COLUMN_WIDTH)
    height = int(MARGIN * 2 + 24 + max(max(row.values(), default=0), 0) * ROW_HEIGHT + BOX_H + CAPTION_H)
    return positions, max(width, 640), height


def _edge_points(positions, src, dst):
    (x0, y0), (x1, y1) = positions[src], positions[dst]
    return x0 + BOX_W / 2, y0, x1 - BOX_W / 2, y1


def _edge_label_point(positions, src, dst):
    x0, y0, x1, y1 = _edge_points(positions, src, dst)
    return x0 + (x1 - x0) * 0.5, y0 + (y1 - y0) * 0.5


def _scene(graph, local):
    """Every drawable item once, with its place: the same scene for the page and the GIF."""
    positions, width, height = layout(graph)
    items = []
    for src, dst in graph.edges():
        s, d = graph.by_id[src], graph.by_id[dst]
        x, y = _edge_label_point(positions, src, dst)
        value = local.get((src, dst))
        grad = None if d.grad is None or isinstance(d.grad, dict) else np.asarray(d.grad).sum()
        local_text = f"∂{node_key(d)}/∂{node_key(s)} = {format_number(value)}" if value is not None else ""
        product = f"→ {format_number(grad * value)}" if value is not None and grad is not None else ""
        items.append(("local", f"local-{node_key(s)}-{node_key(d)}", x, y - 8, local_text))
        items.append(("prod", f"prod-{node_key(s)}-{node_key(d)}", x, y + 12, product))
    for node in graph:
        x, y = positions[node.id]
        key = node_key(node)
        items.append(("value", f"val-{key}", x, y + 4, _short(node.value)))
        items.append(("grad", f"grad-{key}", x, y + BOX_H / 2 + 16, "∇ " + _short(node.grad)))
    return positions, width, height, items


def _short(array):
    if array is None:
        return "?"
    text = describe(array)
    return text if len(text) <= 22 else text.split("]")[0] + "]"


def _node_title(node):
    if node.kind == "input":
        return node.label
    return f"{node.name} ({node.op})" if node.name else node.op


# -- HTML ----------------------------------------------------------------------------

_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:16px;color:#222}
svg{border:1px solid #ddd;background:#fff;max-width:100%;height:auto}
.box{fill:#eef3fd;stroke:#4a6fb5;stroke-width:1.5}
.box.input{fill:#f4f4f4;stroke:#777}
.box.focus{stroke:#e8710a;stroke-width:3.5}
.edge{stroke:#888;stroke-width:1.4;fill:none;marker-end:url(#arrow)}
.title{font-size:13px;font-weight:bold;text-anchor:middle}
.value{font-size:12px;fill:#137333;text-anchor:middle}
.grad{font-size:12px;fill:#c5221f;text-anchor:middle;font-weight:bold}
.local{font-size:11px;fill:#1a57c9;text-anchor:middle}
.prod{font-size:11px;fill:#a0138e;text-anchor:middle;font-weight:bold}
.hidden{visibility:hidden}
#caption{font-size:16px;min-height:2.6em;margin:10px 0;white-space:pre-wrap}
button{font-size:15px;margin-right:6px}
#state{font-size:11px;color:#555;background:#fafafa;padding:6px}
"""

# The drawing's own styles (a subset of the page's), for an SVG shown outside the page.
_SVG_CSS = " ".join(line for line in _CSS.strip().splitlines() if line.startswith((".", "svg")))

_JS = """
const FRAMES = JSON.parse(document.getElementById('frames').textContent);
const ITEMS = Array.from(document.querySelectorAll('[data-step-item]'));
let current = 0, timer = null;
function show(i) {
  current = Math.max(0, Math.min(FRAMES.length - 1, i));
  const frame = FRAMES[current], visible = new Set(frame.shown);
  for (const el of ITEMS) el.classList.toggle('hidden', !visible.has(el.id));
  for (const box of document.querySelectorAll('.box')) box.classList.toggle('focus', box.dataset.node === frame.focus);
  document.getElementById('caption').textContent = frame.caption;
  document.getElementById('counter').textContent = (current + 1) + ' / ' + FRAMES.length + '  (' + frame.phase + ')';
  document.getElementById('slider').value = current;
  const state = {step: current, last: FRAMES.length - 1, phase: frame.phase, values: {}, grads: {}};
  for (const el of ITEMS) {
    if (el.classList.contains('hidden')) continue;
    if (el.id.startsWith('val-')) state.values[el.id.slice(4)] = el.dataset.text;
    if (el.id.startsWith('grad-')) state.grads[el.id.slice(5)] = el.dataset.text;
  }
  document.getElementById('state').textContent = JSON.stringify(state);
}
function next() { show(current + 1); }
function prev() { show(current - 1); }
function play() {
  if (timer) { clearInterval(timer); timer = null; return; }
  if (current === FRAMES.length - 1) show(0);
  timer = setInterval(() => { if (current >= FRAMES.length - 1) { clearInterval(timer); timer = null; } else next(); }, 1200);
}
document.getElementById('next').onclick = next;
document.getElementById('prev').onclick = prev;
document.getElementById('reset').onclick = () => show(0);
document.getElementById('play').onclick = play;
document.getElementById('slider').oninput = (e) => show(parseInt(e.target.value, 10));
document.addEventListener('keydown', (e) => { if (e.key === 'ArrowRight') next(); if (e.key === 'ArrowLeft') prev(); });
function fromAddress() {
  const match = /step=(last|\\d+)/.exec(location.hash + location.search);
  show(0);
  if (!match) return;
  const target = match[1] === 'last' ? FRAMES.length - 1 : parseInt(match[1], 10);
  while (current < Math.min(target, FRAMES.length - 1)) next();
}
window.addEventListener('hashchange', fromAddress);
fromAddress();
"""


def svg_text(graph, local=None, hidden=False):
    """The graph as one SVG drawing: boxes, edges, values, gradients and edge labels.

    ``hidden=True`` writes the labels hidden, for the page's script to reveal step by step;
    otherwise everything known is shown (the notebook view of a ``Graph``).
    """
    local = local or {}
    positions, width, height, items = _scene(graph, local)
    esc = html.escape
    svg = [
        f'<svg id="graph" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height - CAPTION_H}" '
        f'viewBox="0 0 {width} {height - CAPTION_H}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#888"/></marker></defs>',
    ]
    if not hidden:
        # A drawing shown on its own carries its styles (a notebook has no page CSS for it).
        svg.append(f"<style>{_SVG_CSS}</style>")
    for src, dst in graph.edges():
        x0, y0, x1, y1 = _edge_points(positions, src, dst)
        svg.append(f'<path class="edge" d="M{x0:.1f},{y0:.1f} L{x1:.1f},{y1:.1f}"/>')
    for node in graph:
        x, y = positions[node.id]
        kind = "box input" if node.kind == "input" else "box"
        rx = BOX_H / 2 if node.kind == "input" else 8
        svg.append(
            f'<rect class="{kind}" data-node="{node.id}" x="{x - BOX_W / 2:.1f}" y="{y - BOX_H / 2:.1f}" '
            f'width="{BOX_W}" height="{BOX_H}" rx="{rx}"/>'
        )
        svg.append(f'<text class="title" x="{x:.1f}" y="{y - 8:.1f}">{esc(_node_title(node))}</text>')
    for kind, item_id, x, y, text in items:
        if not hidden and (text in ("", "?", "∇ ?")):
            continue
        state = " hidden" if hidden else ""
        svg.append(
            f'<text id="{esc(item_id)}" class="{kind}{state}" data-step-item="1" '
            f'data-text="{esc(text.removeprefix("∇ "))}" '
            f'x="{x:.1f}" y="{y:.1f}">{esc(text)}</text>'
        )
    svg.append("</svg>")
    return "".join(svg)


class Animation:
    """The step-by-step page of a graph, shown inline by Jupyter (``_repr_html_``) or saved (``save``)."""

    def __init__(self, graph, local=None, title=None, frames=None):
        self.graph = graph
        self.local = local or {}
        self.title = title or "glassgrad: graph, step by step"
        self.frames = frames if frames is not None else build_frames(graph, self.local, title=title)

    def html(self):
        """The whole self-contained page as text."""
        return page_html(self.graph, self.frames, self.local, self.title)

    def save(self, path):
        """Write the page to ``path``; returns the path."""
        return write_html(self.graph, self.frames, path, self.local, title=self.title)

    def _repr_html_(self):
        # In an iframe the page's script runs in its own document, as when it is opened from a file.
        source = html.escape(self.html(), quote=True)
        height = layout(self.graph)[2] + 260
        return f'<iframe srcdoc="{source}" style="width:100%;height:{height}px;border:0"></iframe>'


def write_html(graph, frames, path, local=None, title="glassgrad: forward and backward, step by step"):
    """Write the self-contained page (works offline: no external file, font or script)."""
    page = page_html(graph, frames, local, title)
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path


def page_html(graph, frames, local=None, title="glassgrad: forward and backward, step by step"):
    """The self-contained page (works offline: no external file, font or script) as text."""
    local = local or {}
    esc = html.escape
    svg = [svg_text(graph, local, hidden=True)]
    frames_json = json.dumps([f.__dict__ for f in frames], ensure_ascii=False).replace("</", "<\\/")
    initial_state = json.dumps(
        {"step": 0, "last": len(frames) - 1, "phase": frames[0].phase, "values": {}, "grads": {}}
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title><style>{_CSS}</style></head>
<body>
<h2>{esc(title)}</h2>
<div><button id="reset">« start</button><button id="prev">◀ back</button><button id="next">next ▶</button>
<button id="play">play / pause</button><input id="slider" type="range" min="0" max="{len(frames) - 1}" value="0">
<span id="counter">1 / {len(frames)}</span></div>
<div id="caption">{esc(frames[0].caption)}</div>
{"".join(svg)}
<p>Green: forward values. Blue on an edge: the local derivative ∂(node)/∂(input). Purple: the chain-rule
product, the gradient flowing back along that edge. Red ∇: the gradient of the output with respect to the node.
Keys ← → step; the address <code>#step=last</code> or <code>#step=N</code> jumps by stepping from the start.</p>
<pre id="state">{esc(initial_state)}</pre>
<script type="application/json" id="frames">{frames_json}</script>
<script>{_JS}</script>
</body></html>
"""
    return page


# -- GIF -------------------------------------------------------------------------------

_COLORS = {"value": (19, 115, 51), "grad": (197, 34, 31), "local": (26, 87, 201), "prod": (160, 19, 142)}


def _wrap(text, width):
    lines, line = [], ""
    for word in text.split(" "):
        if len(line) + len(word) + 1 > width and line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line]


def render_frames(graph, frames, local=None):
    """The frames as Pillow images (RGB), drawn from the same scene as the page."""
    from PIL import Image, ImageDraw

    local = local or {}
    positions, width, height, items = _scene(graph, local)
    font, small = fonts.font(13), fonts.font(11)
    caption_lines = max(len(_wrap(f.caption, width // 7)) for f in frames)
    height = height - CAPTION_H + 16 + 17 * caption_lines
    # What every frame shares (edges, boxes, titles) is drawn once.
    base = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(base)
    for src, dst in graph.edges():
        x0, y0, x1, y1 = _edge_points(positions, src, dst)
        draw.line([(x0, y0), (x1, y1)], fill=(136, 136, 136), width=2)
        angle = np.arctan2(y1 - y0, x1 - x0)
        tip = [(x1, y1)] + [(x1 - 9 * np.cos(angle + s), y1 - 9 * np.sin(angle + s)) for s in (0.45, -0.45)]
        draw.polygon(tip, fill=(136, 136, 136))
    for node in graph:
        _draw_box(draw, node, positions[node.id], font, focus=False)
    images = []
    for frame in frames:
        image = base.copy()
        draw = ImageDraw.Draw(image)
        if frame.focus is not None:
            node = graph.by_id[frame.focus]
            _draw_box(draw, node, positions[node.id], font, focus=True)
        shown = set(frame.shown)
        for kind, item_id, x, y, text in items:
            if item_id in shown and text:
                draw.text(
                    (x, y - 4), text, fill=_COLORS[kind], font=small if kind in ("local", "prod") else font, anchor="mm"
                )
        top = height - 12 - 17 * caption_lines
        for i, line in enumerate(_wrap(frame.caption, width // 7)):
            draw.text((12, top + 17 * i), line, fill="black", font=font)
        images.append(image)
    return images


def _draw_box(draw, node, position, font, focus):
    x, y = position
    draw.rounded_rectangle(
        [x - BOX_W / 2, y - BOX_H / 2, x + BOX_W / 2, y + BOX_H / 2],
        radius=BOX_H / 2 if node.kind == "input" else 8,
        fill=(244, 244, 244) if node.kind == "input" else (238, 243, 253),
        outline=(232, 113, 10) if focus else (74, 111, 181),
        width=4 if focus else 2,
    )
    draw.text((x, y - 12), _node_title(node), fill="black", font=font, anchor="mm")


def write_gif(graph, frames, path, local=None, duration_ms=1400):
    """Write the animated GIF (loops forever; the last frame stays three times longer)."""
    from glassgrad.viz import plots

    plots.save_gif(render_frames(graph, frames, local), path, duration_ms, hold_last=3)
    return path


def save(graph, html_path=None, gif_path=None, local=None, title=None):
    """Write the step-by-step page and/or GIF of any :class:`~glassgrad.viz.graph.Graph`.

    ``local`` (from ``local_derivatives``, computed before backward) labels the edges of scalar
    nodes; array-valued nodes show their shape and statistics. Returns the paths written.
    """
    frames = build_frames(graph, local, title=title)
    written = []
    if html_path:
        written.append(write_html(graph, frames, html_path, local, title=title or "glassgrad: graph, step by step"))
    if gif_path:
        written.append(write_gif(graph, frames, gif_path, local))
    return written
