"""Write a rendered component out as a plain directory (for people and for ``rpmbuild``).

The directory is built next to its final place and swapped in with renames, so a reader never
sees a half-written one; each file is written with fsync. Files are copies, not links into the
store, so editing them can never damage the store.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hermetic.render.component import RenderedComponent


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def write_rendered(rendered: RenderedComponent, store: Any, dest: Path) -> Path:
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    try:
        for name, digest in rendered.files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if name == rendered.spec_name:
                _write(target, rendered.spec_bytes)
            else:
                _write(target, Path(store.objects.path(digest)).read_bytes())
            target.chmod(0o644)
        staging.chmod(0o755)
        old = None
        if dest.exists():
            old = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.old."))
            os.rename(dest, old / "previous")
        os.rename(staging, dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest
