"""Every Python snippet of README.md runs as written (each in a fresh process, in a temporary folder).

A snippet that is a fragment (it needs the reader's own objects) is listed in FRAGMENTS with the
reason, keyed by a line it contains, so a new snippet without an entry must run.
"""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")

FRAGMENTS = {
    "model.load_state_dict(torch_model.state_dict())": "needs the reader's PyTorch model and a partial state dict",
    "optimizer = glassgrad.optim.AdamW(model.parameters(), lr=1e-3)": "needs the reader's model and epoch counter",
}


def python_blocks(text):
    """(line number, code) of every ```python block; a <!-- no-run --> line just before skips one."""
    blocks = []
    for match in re.finditer(r"^( *)```python\n(.*?)^\1```", text, flags=re.S | re.M):
        before = text[: match.start()].rstrip().splitlines()[-1:] or [""]
        if before[0].strip() == "<!-- no-run -->":
            continue
        indent = len(match.group(1))
        code = "\n".join(line[indent:] for line in match.group(2).splitlines())
        blocks.append((text.count("\n", 0, match.start()) + 1, code))
    return blocks


with open(README, encoding="utf-8") as _f:
    BLOCKS = python_blocks(_f.read())


def test_the_readme_has_snippets():
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("line, code", BLOCKS, ids=[f"README.md:{line}" for line, _ in BLOCKS])
def test_readme_python_snippet_runs(tmp_path, line, code):
    for marker, reason in FRAGMENTS.items():
        if marker in code:
            pytest.skip(f"README.md:{line} is a fragment: {reason}")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), MPLBACKEND="Agg")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, f"README.md:{line} failed:\n{out.stderr[-3000:]}"


def test_every_fragment_entry_is_still_in_the_readme():
    codes = [code for _, code in BLOCKS]
    for marker in FRAGMENTS:
        assert any(marker in code for code in codes), f"FRAGMENTS entry {marker!r} matches no README snippet"
