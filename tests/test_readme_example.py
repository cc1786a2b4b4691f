"""The README's plain-threading example runs and finds the check-then-act bug."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example(tmp_path: Path, capsys) -> None:
    block = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)[0]
    path = tmp_path / "readme_example.py"
    path.write_text(block, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("readme_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["readme_example"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop("readme_example", None)
    result = module.result
    assert result.failed and result.kind == "assertion" and result.preemptions == 1
    assert "balance went negative: -60" in capsys.readouterr().out
