import json
import os
import re
import shutil
import subprocess

import pytest

from glassgrad.cli import main

ARGS = ["explain", "(a*x + b*y) * (c*z)", "--set", "a=2", "b=5", "c=1", "x=1", "y=2", "z=1", "--target", "15"]


@pytest.fixture(scope="module")
def explained(tmp_path_factory):
    out = tmp_path_factory.mktemp("explain")
    return out


def test_explain_prints_the_seed_walkthrough_and_writes_files(explained, capsys):
    assert main([*ARGS, "--out", str(explained)]) == 0
    text = capsys.readouterr().out
    for line in ["p = a * x = 2 * 1 = 2", "q = b * y = 5 * 2 = 10", "s = p + q = 2 + 10 = 12", "r = c * z = 1 * 1 = 1"]:
        assert line in text
    assert "t = s * r = 12 * 1 = 12" in text and "dL/dt = -1" in text and "dt/ds = r = 1" in text
    assert "dL/da = -1, " in text and "dL/db = -2, " in text and "dL/dc = -12, " in text
    assert {"explain.html", "explain.gif", "graph.dot"} <= set(os.listdir(explained))


def test_explain_user_errors_are_one_line(capsys):
    assert main(["explain", "x * y", "--set", "x=1"]) == 2
    assert "no value for y" in capsys.readouterr().err
    assert main(["explain", "x * y", "--set", "x"]) == 2


def test_headless_chromium_steps_to_gradient_of_a(explained, tmp_path):
    """Open the page in a real browser, step to the last frame from the address, read what it shows."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip(
            "chromium not installed (apt-get install chromium): the browser test of the explain page is skipped"
        )
    page = explained / "explain.html"
    if not page.exists():
        assert main([*ARGS, "--out", str(explained)]) == 0
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--dump-dom",
    ]

    def state(address):
        dom = subprocess.run([chromium, *flags, address], capture_output=True, text=True, timeout=60).stdout
        match = re.search(r'<pre id="state">(.*?)</pre>', dom, re.S)
        assert match, f"no state in the page chromium rendered: {dom[:300]!r}"
        return json.loads(match[1].replace("&quot;", '"').replace("&amp;", "&"))

    start = state(page.as_uri())
    assert start["step"] == 0 and start["grads"] == {}
    end = state(page.as_uri() + "#step=last")
    assert end["step"] == end["last"] and end["phase"] == "done"
    assert (end["grads"]["a"], end["grads"]["b"], end["grads"]["c"]) == ("-1", "-2", "-12")
    assert end["values"]["t"] == "12"
    middle = state(page.as_uri() + "#step=8")
    assert middle["step"] == 8 and "a" not in middle["grads"]
