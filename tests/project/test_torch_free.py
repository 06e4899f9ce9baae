"""The validate path never imports torch: validate, summarise and emit every shipped spec in a fresh
interpreter, through the CLI and the library, then look at `sys.modules`.

A fresh subprocess is the only honest check: the test process itself imports torch elsewhere.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import contextlib, io, json, sys
from pathlib import Path

from graphspec import cli
from graphspec.compiler import summary
from graphspec.compiler.pipeline import compile_file

specs = sorted(str(p) for p in Path("specs").glob("*.yaml"))
codes = []
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    codes.append(cli.main(["validate", *specs]))
    for spec in specs:
        codes.append(cli.main(["summary", spec]))
        codes.append(cli.main(["summary", "--json", spec]))
        codes.append(cli.main(["emit", spec]))
        c = compile_file(spec)
        summary.as_dict(c.graph, c.spec.name)
        assert "class " in c.source
    codes.append(cli.main(["schema"]))


def torch_modules():
    return sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))


loaded = torch_modules()
networkx = [m for m in sys.modules if m.split(".")[0] == "networkx"]  # the compiler's graph
compile_file(specs[0]).build()  # the negative control: building a module must import torch
print(json.dumps({"specs": specs, "codes": codes, "torch": loaded, "networkx": networkx,
                  "stderr": err.getvalue(),
                  "stdout_chars": len(out.getvalue()), "control": "torch" in torch_modules()}))
"""


def test_validate_summary_emit_do_not_import_torch():
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert len(result["specs"]) >= 3
    assert result["codes"] == [0] * (2 + 3 * len(result["specs"])), result["stderr"]
    assert result["stdout_chars"] > 0
    assert result["torch"] == []
    assert "networkx" in result["networkx"]  # the compiler walks a networkx.DiGraph
    assert result["control"], "the probe must see torch once a module is built"
