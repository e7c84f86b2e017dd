"""Explain why two builds' outputs differ, in layers: files, then header tags, then payload files.

1. whole files: the same output names with the same blake3, or not;
2. header tags of a differing RPM, each classed (``TAG_CLASSES``):
   - ``volatile``: stamps of when, where and by whom it was built (BUILDTIME, BUILDHOST, COOKIE,
     SOURCEPKGID, signatures);
   - ``digest``: checksums and sizes computed over the rest (SHA256HEADER, PAYLOADDIGEST, ...):
     they follow any other difference and explain nothing by themselves;
   - ``content``: everything else (file digests, sizes, descriptions, dependencies, ...);
3. payload files: which paths differ in content, size, mode, mtime or link target, with their
   sizes and digests, and for small text files the changed lines.
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hermetic.audit.payload import PayloadFile, list_payload
from hermetic.audit.rpmfile import RpmHeaders, read_headers
from hermetic.hashing import blake3_file

VOLATILE_TAGS = frozenset({
    "BUILDTIME", "BUILDHOST", "COOKIE", "SOURCEPKGID", "INSTALLTIME",
    "RSAHEADER", "DSAHEADER", "SIGPGP", "SIGGPG", "FILESIGNATURES", "VERITYSIGNATURES",
})
DIGEST_TAGS = frozenset({
    "SHA1HEADER", "SHA256HEADER", "SIGMD5", "SIGSIZE", "LONGSIGSIZE", "PAYLOADSIZE",
    "LONGARCHIVESIZE", "RESERVEDSPACE", "PAYLOADDIGEST", "PAYLOADDIGESTALT", "HEADERIMMUTABLE",
    "HEADERSIGNATURES", "HEADERI18NTABLE",
})
CLASS_ORDER = {"content": 0, "volatile": 1, "digest": 2}
MAX_VALUE_CHARS = 160
MAX_DIFF_LINES = 16


def tag_class(tag: str) -> str:
    if tag in VOLATILE_TAGS:
        return "volatile"
    if tag in DIGEST_TAGS:
        return "digest"
    return "content"


@dataclass
class TagDiff:
    header: str                 # "signature" or "main"
    tag: str
    tag_class: str              # content | volatile | digest
    a: str
    b: str
    files: list[str] = field(default_factory=list)  # FILE* arrays: the paths whose entry differs


@dataclass
class FileDiff:
    path: str
    change: str                 # content | added | removed | mode | mtime | link
    size_a: int | None
    size_b: int | None
    digest_a: str | None
    digest_b: str | None
    detail: str = ""            # e.g. "mode 0644 -> 0600"
    text_diff: list[str] = field(default_factory=list)


@dataclass
class RpmDiff:
    tags: list[TagDiff] = field(default_factory=list)
    files: list[FileDiff] = field(default_factory=list)
    diffoscope: str | None = None   # path of the saved diffoscope report
    error: str | None = None        # when a layer could not be read

    def content_tags(self) -> list[str]:
        return [t.tag for t in self.tags if t.tag_class == "content"]


@dataclass
class OutputComparison:
    name: str
    status: str                 # identical | different | only-in-a | only-in-b
    digest_a: str | None = None
    digest_b: str | None = None
    size_a: int | None = None
    size_b: int | None = None
    rpm: RpmDiff | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _render(value: Any) -> str:
    if isinstance(value, bytes):
        text = value.hex()
    elif isinstance(value, list) and len(value) == 1:
        text = str(value[0])
    else:
        text = repr(value) if not isinstance(value, str) else value
    text = text.replace("\n", "\\n")
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 1] + "…"


def _differing_files(tag: str, a: Any, b: Any, headers_a: RpmHeaders) -> list[str]:
    """For per-file arrays of equal length: the paths whose entries differ."""
    if not tag.startswith("FILE") or not isinstance(a, list) or not isinstance(b, list) \
            or len(a) != len(b):
        return []
    paths = headers_a.file_paths()
    if len(paths) != len(a):
        return []
    return [paths[i] for i, (x, y) in enumerate(zip(a, b)) if x != y]


def compare_headers(a: RpmHeaders, b: RpmHeaders) -> list[TagDiff]:
    diffs: list[TagDiff] = []
    for header, tags_a, tags_b in (("signature", a.signature, b.signature),
                                   ("main", a.main, b.main)):
        for tag in sorted(set(tags_a) | set(tags_b)):
            value_a, value_b = tags_a.get(tag), tags_b.get(tag)
            if value_a == value_b:
                continue
            diffs.append(TagDiff(
                header=header, tag=tag, tag_class=tag_class(tag),
                a="(absent)" if tag not in tags_a else _render(value_a),
                b="(absent)" if tag not in tags_b else _render(value_b),
                files=_differing_files(tag, value_a, value_b, a) if header == "main" else []))
    diffs.sort(key=lambda d: (CLASS_ORDER[d.tag_class], d.header != "main", d.tag))
    return diffs


def _text_diff(a: PayloadFile, b: PayloadFile) -> list[str]:
    if a.content is None or b.content is None or b"\0" in a.content or b"\0" in b.content:
        return []
    try:
        lines_a = a.content.decode("utf-8").splitlines()
        lines_b = b.content.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return []
    diff = list(difflib.unified_diff(lines_a, lines_b, "a" + a.path, "b" + b.path,
                                     n=1, lineterm=""))
    return diff[:MAX_DIFF_LINES] + (["…"] if len(diff) > MAX_DIFF_LINES else [])


def compare_payloads(a: dict[str, PayloadFile], b: dict[str, PayloadFile]) -> list[FileDiff]:
    diffs: list[FileDiff] = []
    for path in sorted(set(a) | set(b)):
        file_a, file_b = a.get(path), b.get(path)
        if file_a is None or file_b is None:
            present = file_a or file_b
            assert present is not None
            diffs.append(FileDiff(
                path, "removed" if file_b is None else "added",
                file_a.size if file_a else None, file_b.size if file_b else None,
                file_a.digest if file_a else None, file_b.digest if file_b else None))
            continue
        sizes_digests = (file_a.size, file_b.size, file_a.digest, file_b.digest)
        if file_a.link != file_b.link:
            diffs.append(FileDiff(path, "link", *sizes_digests,
                                  detail=f"-> {file_a.link} / -> {file_b.link}"))
        elif file_a.digest != file_b.digest:
            diffs.append(FileDiff(path, "content", *sizes_digests,
                                  text_diff=_text_diff(file_a, file_b)))
        elif file_a.mode != file_b.mode:
            diffs.append(FileDiff(path, "mode", *sizes_digests,
                                  detail=f"mode {file_a.mode:o} -> {file_b.mode:o}"))
        elif file_a.mtime != file_b.mtime:
            diffs.append(FileDiff(path, "mtime", *sizes_digests,
                                  detail=f"mtime {file_a.mtime} -> {file_b.mtime}"))
    return diffs


def run_diffoscope(a: Path, b: Path, report_dir: Path, stem: str) -> str | None:
    """diffoscope's text and HTML reports for one pair, when diffoscope is installed."""
    if shutil.which("diffoscope") is None:
        return None
    report_dir.mkdir(parents=True, exist_ok=True)
    text = report_dir / f"{stem}.diffoscope.txt"
    subprocess.run(["diffoscope", "--text", str(text), "--html", str(text.with_suffix(".html")),
                    str(a), str(b)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return str(text) if text.exists() else None


def compare_rpm_files(a: Path, b: Path) -> RpmDiff:
    """Layers 2 and 3 for one pair of RPMs with different bytes."""
    from hermetic.errors import HermeticError

    result = RpmDiff()
    try:
        headers_a, headers_b = read_headers(a), read_headers(b)
        result.tags = compare_headers(headers_a, headers_b)
        result.files = compare_payloads(list_payload(a), list_payload(b))
    except HermeticError as error:
        result.error = error.message
    return result


def compare_outputs(a: dict[str, Path], b: dict[str, Path], *,
                    diffoscope_dir: Path | None = None,
                    digests: dict[Path, str] | None = None) -> list[OutputComparison]:
    """Compare two builds' outputs (file name → path), RPMs and SRPM alike, by name."""
    digests = dict(digests or {})

    def digest_of(path: Path) -> str:
        if path not in digests:
            digests[path] = blake3_file(path)
        return digests[path]

    results: list[OutputComparison] = []
    for name in sorted(set(a) | set(b)):
        if name not in b:
            results.append(OutputComparison(name, "only-in-a", digest_a=digest_of(a[name]),
                                            size_a=a[name].stat().st_size))
            continue
        if name not in a:
            results.append(OutputComparison(name, "only-in-b", digest_b=digest_of(b[name]),
                                            size_b=b[name].stat().st_size))
            continue
        item = OutputComparison(name, "identical", digest_of(a[name]), digest_of(b[name]),
                                a[name].stat().st_size, b[name].stat().st_size)
        if item.digest_a != item.digest_b:
            item.status = "different"
            item.rpm = compare_rpm_files(a[name], b[name])
            if diffoscope_dir is not None:
                item.rpm.diffoscope = run_diffoscope(a[name], b[name], diffoscope_dir, name)
        results.append(item)
    return results
