"""Fetch one component: its spec and every file the spec builds from, verified, into the store.

Where each file comes from:

- local spec: every regular file in the spec's directory (not recursing; dot files, the
  component's TOML, ``*.comp.toml``, ``*.overlay.toml`` and project files skipped);
- upstream spec: every top-level regular file of the resolved dist-git commit, the spec renamed
  to ``<component>.spec`` when ``upstream-name`` differs;
- a ``sources`` file in either: each entry from the lookaside by hash (an entry whose file is
  already present next to the spec is verified against it instead). ``sources`` itself is
  metadata, not an input;
- ``source-files``: the lookaside first, then ``origin.uri``. ``replace-upstream`` replaces an
  upstream entry or file of the same name; a clash without it is an error. Entries with
  ``origin.type = "overlay"`` are produced by render and skipped here.

Nothing unverified enters the store: downloads are hashed as they stream and checked against
the declared sha256/sha512 before the store sees them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hermetic.errors import FetchError
from hermetic.fetch.digests import (DeclaredDigest, StreamHasher, declared_digest,
                                    mismatch_error)
from hermetic.fetch.distgit import DistGitMirror
from hermetic.fetch.http import DownloadError, download
from hermetic.fetch.plan import (DESCRIPTOR_NAMES, DESCRIPTOR_SUFFIXES, FetchPlan,
                                  shown_path)
from hermetic.fetch.sources_file import SourcesEntry, parse_sources_file
from hermetic.fetch.storage import DigestIndex, put_verified, staging_file, store_root
from hermetic.fetch.template import lookaside_url

SOURCES_FILE = "sources"


@dataclass(frozen=True)
class FetchStats:
    """Where the bytes came from: the network, the store (already known), or local files."""

    downloaded_files: int = 0
    downloaded_bytes: int = 0
    reused_files: int = 0
    reused_bytes: int = 0
    local_files: int = 0
    local_bytes: int = 0


@dataclass(frozen=True)
class FetchedComponent:
    """A component's input files, all in the store. ``files`` maps file name → blake3."""

    name: str
    spec_name: str
    files: dict[str, str]
    upstream_commit: str | None = None
    stats: FetchStats = field(default_factory=FetchStats, compare=False)

    @property
    def spec_digest(self) -> str:
        return self.files[self.spec_name]


class _Counters:
    def __init__(self) -> None:
        self.values = {name: 0 for name in FetchStats.__dataclass_fields__}

    def add(self, kind: str, size: int) -> None:
        self.values[f"{kind}_files"] += 1
        self.values[f"{kind}_bytes"] += size

    def freeze(self) -> FetchStats:
        return FetchStats(**self.values)


class ComponentFetcher:
    """Fetches one plan into one store. Not shared between threads."""

    def __init__(self, plan: FetchPlan, store: Any, *, stat_cache: Any = None,
                 timeout: float | None = None) -> None:
        self.plan = plan
        self.store = store
        self.index = DigestIndex(store)
        self.stat_cache = stat_cache
        self.timeout = timeout
        self.counters = _Counters()

    # -- entry point ------------------------------------------------------------------------

    def fetch(self) -> FetchedComponent:
        plan = self.plan
        upstream_commit = None
        if plan.upstream is not None:
            files, local_paths, sources_text, spec_name, upstream_commit = self._upstream_spec()
        else:
            files, local_paths, sources_text, spec_name = self._local_spec()
        upstream_entries: dict[str, SourcesEntry] = {}
        if sources_text is not None:
            # Errors name the component first, then the file and line.
            origin = (f"{plan.where}: dist-git {plan.upstream.package}@{upstream_commit[:12]}"
                      if plan.upstream
                      else f"{plan.where}: {shown_path(plan.local_spec.parent)}")
            upstream_entries = {e.filename: e for e in parse_sources_file(sources_text, origin)}

        for request in plan.source_files:
            name = request.filename
            if name == spec_name:
                raise FetchError(f"{request.where}: {name!r} would replace the spec itself")
            listed = upstream_entries.get(name)
            if listed is not None and not request.replace_upstream and (
                    listed.hash_type, listed.hexdigest) != (request.digest.algorithm,
                                                            request.digest.hexdigest):
                raise FetchError(f"{request.where}: {name!r} is also listed, with another "
                                 f"digest, in the upstream sources file ({listed.where})",
                                 hint="set replace-upstream = true (with a replace-reason) to "
                                      "use this entry instead")
            upstream_entries.pop(name, None)
            if name in files and not request.replace_upstream:
                # The file is already there (kept next to the spec): it must be these bytes.
                files[name] = self._verify_present(name, request.digest, files[name],
                                                   local_paths.get(name), request.where)
                continue
            files[name] = self._obtain(name, request.digest, request.where,
                                       self._urls(name, request.digest, request.origin_uri))

        for name, entry in upstream_entries.items():
            digest = declared_digest(entry.hash_type, entry.hexdigest, entry.where)
            if name in files:
                files[name] = self._verify_present(name, digest, files[name],
                                                   local_paths.get(name), entry.where)
            else:
                files[name] = self._obtain(name, digest, entry.where,
                                           self._urls(name, digest, None))

        return FetchedComponent(plan.name, spec_name, dict(sorted(files.items())),
                                upstream_commit, self.counters.freeze())

    # -- specs --------------------------------------------------------------------------------

    def _local_spec(self):
        plan = self.plan
        spec = plan.local_spec
        assert spec is not None
        if not spec.is_file():
            raise FetchError(f"{plan.where}.spec.path: spec file {spec} does not exist")
        files: dict[str, str] = {}
        paths: dict[str, Path] = {}
        sources_text = None
        for entry in sorted(os.scandir(spec.parent), key=lambda e: e.name):
            name = entry.name
            path = Path(entry.path)
            if (name.startswith(".") or not entry.is_file() or name in DESCRIPTOR_NAMES
                    or name.endswith(DESCRIPTOR_SUFFIXES) or path.resolve() in
                    plan.ignored_local_files):
                continue
            if name == SOURCES_FILE:
                sources_text = path.read_text(encoding="utf-8", errors="replace")
                continue
            files[name] = self._put_local(path)
            paths[name] = path
        return files, paths, sources_text, spec.name

    def _upstream_spec(self):
        plan = self.plan
        upstream = plan.upstream
        assert upstream is not None
        mirror = DistGitMirror(store_root(self.store), upstream.dist_git_url)
        resolved = mirror.resolve(branch=upstream.branch, commit=upstream.commit,
                                  snapshot=upstream.snapshot, where=f"{plan.where}.spec")
        tree = mirror.top_level_files(resolved.commit)
        wanted_spec = f"{upstream.package}.spec"
        if wanted_spec not in {f.name for f in tree}:
            found = ", ".join(f.name for f in tree if f.name.endswith(".spec")) or "none"
            raise FetchError(f"{plan.where}.spec: {upstream.dist_git_url} at {resolved.commit} "
                             f"has no {wanted_spec} (spec files found: {found})",
                             hint="set spec.upstream-name to the dist-git package name")
        spec_name = f"{plan.name}.spec"
        files: dict[str, str] = {}
        sources_text = None
        for tree_file in tree:
            if tree_file.name == SOURCES_FILE:
                sources_text = mirror.read_blob(tree_file.blob).decode("utf-8", "replace")
                continue
            name = spec_name if tree_file.name == wanted_spec else tree_file.name
            if name in files:
                raise FetchError(f"{plan.where}.spec: {upstream.dist_git_url} has both "
                                 f"{wanted_spec} and {name}; cannot rename the spec")
            files[name] = self._put_git_blob(mirror, tree_file.blob, name)
        return files, {}, sources_text, spec_name, resolved.commit

    # -- getting bytes into the store ----------------------------------------------------------

    def _urls(self, name: str, digest: DeclaredDigest, origin_uri: str | None) -> list[str]:
        urls = []
        if self.plan.lookaside_template:
            urls.append(lookaside_url(self.plan.lookaside_template, self.plan.lookaside_package,
                                      name, digest.algorithm, digest.hexdigest))
        if origin_uri:
            urls.append(origin_uri)
        return urls

    def _obtain(self, name: str, digest: DeclaredDigest, where: str, urls: list[str]) -> str:
        known = self.index.lookup(digest)
        if known is not None:
            self._used(known)
            self.counters.add("reused", self.store.objects.path(known).stat().st_size)
            return known
        if not urls:
            raise FetchError(f"{where}: {name}: nowhere to fetch it from "
                             f"(no lookaside-base-uri and no origin.uri)")
        failures = []
        for url in urls:
            with staging_file(self.store) as staging:
                hasher = StreamHasher(digest.algorithm)
                try:
                    kwargs = {"timeout": self.timeout} if self.timeout else {}
                    size = download(url, staging, hasher, **kwargs)
                except DownloadError as error:
                    failures.append(str(error))
                    continue
                actual = hasher.declared_hexdigest()
                if actual != digest.hexdigest:
                    raise mismatch_error(f"{where}: {name} from {url}", digest, actual)
                stored = put_verified(self.store, staging, digest, hasher.blake3_hexdigest())
                self.counters.add("downloaded", size)
                return stored
        raise FetchError(f"{where}: cannot fetch {name}: " + "; ".join(failures))

    def _used(self, blake3_hex: str) -> None:
        """Tell gc the object is still wanted (its least-recently-used order)."""
        touch = getattr(self.store.objects, "touch", None)
        if touch is not None:
            try:
                touch(blake3_hex)
            except OSError:
                pass  # a read-only store still serves its objects

    def _put_local(self, path: Path) -> str:
        size = path.stat().st_size
        if self.stat_cache is not None:
            blake3_hex = self.stat_cache.cached_digest(path, ("blake3",))["blake3"]
            if self.store.objects.has(blake3_hex):
                self._used(blake3_hex)
                self.counters.add("local", size)
                return blake3_hex
        stored = self.store.objects.put_file(path)
        self.counters.add("local", size)
        return stored

    def _put_git_blob(self, mirror: DistGitMirror, blob: str, name: str) -> str:
        # git already names the bytes (and verified them when fetching): remember the blob id
        # so a re-fetch of the same commit copies nothing.
        blob_digest = DeclaredDigest("git-blob", blob)
        known = self.index.lookup(blob_digest)
        if known is not None:
            self._used(known)
            self.counters.add("local", self.store.objects.path(known).stat().st_size)
            return known
        with staging_file(self.store, prefix="git-") as staging:
            mirror.write_blob(blob, staging)
            stored = self.store.objects.put_file(staging)
            self.index.record(blob_digest, stored)
            self.counters.add("local", staging.stat().st_size)
        return stored

    def _verify_present(self, name: str, digest: DeclaredDigest, blake3_hex: str,
                        local_path: Path | None, where: str) -> str:
        """A sources entry whose file is already next to the spec: it must be the same bytes."""
        path = local_path or self.store.objects.path(blake3_hex)
        if self.stat_cache is not None and local_path is not None:
            actual = self.stat_cache.cached_digest(path, (digest.algorithm,))[digest.algorithm]
        else:
            from hermetic.hashing import hash_file
            actual = hash_file(path, (digest.algorithm,))[digest.algorithm]
        if actual != digest.hexdigest:
            raise mismatch_error(f"{where}: {name} (the copy next to the spec)", digest, actual)
        self.index.record(digest, blake3_hex)
        return blake3_hex


def fetch_plan(plan: FetchPlan, store: Any, *, stat_cache: Any = None,
               timeout: float | None = None) -> FetchedComponent:
    return ComponentFetcher(plan, store, stat_cache=stat_cache, timeout=timeout).fetch()
