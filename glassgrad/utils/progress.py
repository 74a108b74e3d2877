"""Progress wherever a person waits: a tqdm bar in terminals and notebooks, plain lines in logs.

``progress(total, desc)`` returns an object with tqdm's ``update``, ``set_postfix`` and ``close``
(and works as a context manager). Which one depends on where the output goes:

- a terminal: a tqdm bar;
- a Jupyter notebook: an HTML bar redrawn in place (``NotebookProgress``), kept at its final count;
- anything else (a file, a pipe, a CI log): a plain line every ``interval`` seconds, and at each
  10% of the work when at least a sixth of ``interval`` has passed since the last line, so a long
  epoch leaves a trace in a log and a short one leaves none;
- ``enabled=False``: nothing.

``GLASSGRAD_PROGRESS`` (``bar``, ``lines`` or ``off``) overrides the choice, and
``GLASSGRAD_PROGRESS_INTERVAL`` (seconds, default 30) sets the interval of plain lines.
``initial`` is the count already done before this session (a resumed epoch): rates and the
estimated time left count only the work done since.
"""

import os
import sys
import time

DEFAULT_INTERVAL = 30.0


def _in_notebook():
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    try:
        return type(shell.get_ipython()).__name__ == "ZMQInteractiveShell"
    except Exception:  # an IPython without a running shell
        return False


def mode(stream=None, enabled=None):
    """``'bar'``, ``'lines'`` or ``'off'`` for output to ``stream`` (default stderr)."""
    forced = os.environ.get("GLASSGRAD_PROGRESS", "").strip().lower()
    if enabled is False or forced == "off":
        return "off"
    if forced in ("bar", "lines"):
        return forced
    stream = sys.stderr if stream is None else stream
    try:
        tty = bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or unusual stream
        tty = False
    return "bar" if tty or _in_notebook() else "lines"


def _interval():
    try:
        return max(0.0, float(os.environ.get("GLASSGRAD_PROGRESS_INTERVAL", DEFAULT_INTERVAL)))
    except ValueError:
        return DEFAULT_INTERVAL


def _duration(seconds):
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class LineProgress:
    """Plain progress lines (no carriage returns), for output that is not a terminal."""

    def __init__(self, total, desc="", unit="it", initial=0, stream=None, interval=None, clock=time.monotonic):
        self.total = total
        self.desc = desc
        self.unit = unit
        self.initial = self.n = initial
        self.stream = stream
        self.interval = _interval() if interval is None else float(interval)
        self.clock = clock
        self.start = self.last = clock()
        self.postfix = ""
        self.next_mark = self._mark_after(initial)
        self.lines = 0

    def _mark_after(self, n):
        if not self.total:
            return None
        return (int(10 * n / self.total) + 1) * self.total / 10

    def rate(self):
        """Units per second since this session started (work done before it, ``initial``, excluded)."""
        elapsed = self.clock() - self.start
        return (self.n - self.initial) / elapsed if elapsed > 0 else None

    def line(self):
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        parts = [f"{self.desc}: {done} {self.unit}"]
        if self.total:
            parts[0] += f" ({100 * self.n / self.total:.0f}%)"
        rate = self.rate()
        if rate:
            parts.append(f"{rate:.3g} {self.unit}/s")
            if self.total and self.n < self.total:
                parts.append(f"{_duration((self.total - self.n) / rate)} left")
        parts.append(f"{_duration(self.clock() - self.start)} elapsed")
        if self.postfix:
            parts.append(self.postfix)
        return ", ".join(parts)

    def update(self, n=1):
        self.n += n
        now = self.clock()
        crossed = self.next_mark is not None and self.n >= self.next_mark
        if crossed:
            self.next_mark = self._mark_after(self.n)
        since = now - self.last
        if since >= self.interval or (crossed and since >= self.interval / 6):
            self.last = now
            self.lines += 1
            print(self.line(), file=self.stream or sys.stderr, flush=True)

    def set_postfix(self, **values):
        self.postfix = " ".join(f"{key}={value}" for key, value in values.items())

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class NotebookProgress(LineProgress):
    """A bar in a Jupyter output: an HTML ``<progress>`` with the plain line beside it, drawn in place
    through a display handle (at most every ``interval`` seconds, and at ``close``).

    Chosen over tqdm's notebook widget: it needs no ipywidgets, and the saved notebook keeps each
    bar at its final count (a widget's state is not in the file, and tqdm's text fallback fills the
    output with carriage returns)."""

    def __init__(self, total, desc="", unit="it", initial=0, interval=0.2, clock=time.monotonic):
        from IPython.display import display

        super().__init__(total, desc, unit=unit, initial=initial, interval=interval, clock=clock)
        self.closed = False
        self.handle = display(self.bundle(), raw=True, display_id=True)

    def bundle(self):
        """The output's MIME bundle: the HTML bar and its ``text/plain`` line."""
        import html

        text = self.line()
        bar = f'<progress value="{self.n}" max="{self.total}" style="width:16em"></progress>' if self.total else ""
        body = f'<div style="font-family:monospace">{bar} {html.escape(text)}</div>'
        return {"text/html": body, "text/plain": text}

    def update(self, n=1):
        self.n += n
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            self.handle.update(self.bundle(), raw=True)

    def close(self):
        if not self.closed:
            self.closed = True
            self.handle.update(self.bundle(), raw=True)


def progress(total, desc="", *, unit="it", initial=0, enabled=None, stream=None, leave=False):
    """A bar, plain lines or nothing for ``total`` units of work (see the module docstring)."""
    chosen = mode(stream, enabled)
    if chosen == "lines":
        return LineProgress(total, desc, unit=unit, initial=initial, stream=stream)
    if chosen == "bar" and stream is None and _in_notebook():
        return NotebookProgress(total, desc, unit=unit, initial=initial)
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        initial=initial,
        disable=chosen == "off",
        leave=leave,
        dynamic_ncols=True,
        file=stream if stream is not None else sys.stderr,
    )
