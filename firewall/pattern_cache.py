"""What earlier loads proved about a signature directory, so that a cold start need not redo it.

Compiling a `regex` pattern runs its pure-Python parser (milliseconds each), and deriving a
signature's fast-pattern literals and its relaxed form for the screen parse it again; for a few
hundred signatures that is most of a cold start. `.pattern-cache.json` beside the signature files
records, per pattern, that it compiles, which literals it requires and its relaxed form. Entries
are keyed by the pattern text and the whole file by the `regex` version and the derivation code,
so an edited pattern or a new engine is checked afresh. A cache that cannot be written (a
read-only Lambda filesystem) is simply not written: the bundle ships one, made when the asset is
built.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import regex

from .engine import literals as literals_module
from .engine import relaxed as relaxed_module

FILE_NAME = ".pattern-cache.json"


def _salt() -> str:
    code = Path(literals_module.__file__).read_bytes() + Path(relaxed_module.__file__).read_bytes()
    return hashlib.sha256(code + regex.__version__.encode()).hexdigest()[:16]


class PatternCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.salt = _salt()
        self.valid: set[str] = set()
        """Patterns known to compile."""
        self.literals: dict[str, list[list[str]] | None] = {}
        """Derived literal groups per pattern (None: the parser does not know its syntax)."""
        self.relaxed: dict[str, tuple[str, str] | None] = {}
        """Relaxed forms per pattern, for the screen (None: not relaxable)."""
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = None
            if isinstance(data, dict) and data.get("salt") == self.salt:
                self.valid = set(data.get("valid") or ())
                self.literals = dict(data.get("literals") or {})
                self.relaxed = {
                    pattern: None if forms is None else (forms[0], forms[1])
                    for pattern, forms in (data.get("relaxed") or {}).items()
                }

    @classmethod
    def beside(cls, location: Path) -> PatternCache:
        return cls(location / FILE_NAME if location.is_dir() else None)

    def update(
        self,
        valid: Iterable[str],
        derived: Mapping[str, tuple[frozenset[str], ...] | None],
        relaxed: Mapping[str, tuple[str, str] | None] | None = None,
    ) -> None:
        """Record patterns that compiled, derived literals and relaxed forms; written only when
        something is new."""
        new_valid = set(valid) - self.valid
        fresh = {
            p: (None if groups is None else [sorted(g) for g in groups])
            for p, groups in derived.items()
            if p not in self.literals
        }
        fresh_relaxed = {p: form for p, form in (relaxed or {}).items() if p not in self.relaxed}
        if not (new_valid or fresh or fresh_relaxed) or self.path is None:
            return
        self.valid |= new_valid
        self.literals.update(fresh)
        self.relaxed.update(fresh_relaxed)
        try:
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".pattern-cache.")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(
                    {
                        "salt": self.salt,
                        "valid": sorted(self.valid),
                        "literals": self.literals,
                        "relaxed": self.relaxed,
                    },
                    out,
                    sort_keys=True,
                )
            os.chmod(temporary, 0o644)
            os.replace(temporary, self.path)
        except OSError:
            pass  # read-only location: the next cold start derives again
