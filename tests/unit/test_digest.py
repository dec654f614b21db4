"""The one refresh-tag fingerprint (views/digest.py): stable across web processes, blind to
key order, and the only place the UI hashes content."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from views.digest import digest, digest_chunks

ROOT = Path(__file__).resolve().parents[2]


def test_same_content_same_tag_in_every_process():
    code = ("from views.digest import digest; "
            "print(digest({'b': [1, 2.5, None], 'a': 'x', 'when': __import__('datetime').date(2026, 1, 20)}))")
    tags = {subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                           env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout.strip() for seed in ("1", "2")}
    assert len(tags) == 1
    import datetime as dt
    assert tags == {digest({"a": "x", "when": dt.date(2026, 1, 20), "b": [1, 2.5, None]})}


def test_different_content_different_tag_and_short():
    a, b = digest({"v": 1.0}), digest({"v": 1.0000001})
    assert a != b and re.fullmatch(r"[0-9a-f]{16}", a)
    y = np.array([1.0, 2.0])
    assert digest_chunks([b"s1:", y.tobytes()]) != digest_chunks([b"s1:", (y + 1e-12).tobytes()])
    assert digest_chunks([b"ab", b"c"]) == digest_chunks([b"abc"])


def test_no_other_ui_module_hashes_content_itself():
    offenders = [str(p.relative_to(ROOT)) for d in ("components", "callbacks") for p in (ROOT / d).glob("*.py")
                 if p.name != "digest.py" and re.search(r"^\s*(import hashlib|from hashlib)", p.read_text(), re.M)]
    assert offenders == []
