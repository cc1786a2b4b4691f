"""docs/extending.md is a program: its Python blocks, in order, must run.

The blocks are written to a module file and imported, exactly as a user
would put them in their own code (opcode tracing needs real source files).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def test_extending_guide_runs(tmp_path: Path, capsys) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 4
    module_path = tmp_path / "extending_example.py"
    module_path.write_text("\n\n".join(blocks), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("extending_example", module_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["extending_example"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop("extending_example", None)
    out = capsys.readouterr().out
    assert "reserve" in out and "read .left" in out
