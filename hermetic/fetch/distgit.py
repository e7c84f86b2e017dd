"""dist-git with real ``git``: a bare mirror per repository URL, kept in the store.

``<store>/git/<blake3 of url>.git`` holds every branch of one dist-git repository. A component
resolves to exactly one commit:

1. ``upstream-commit`` — checked out exactly; no network when the mirror already has it;
2. else ``upstream-distro.snapshot`` — the last first-parent commit on ``dist-git-branch``
   whose committer date is at or before the snapshot. No network when the mirror's branch tip
   is already newer than the snapshot (history before it does not move);
3. else the current tip of ``dist-git-branch`` (this always asks the server).

Files are read straight from git objects (``git cat-file``): no working tree is checked out.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import blake3

from hermetic.errors import FetchError

_COMMIT = re.compile(r"[0-9a-f]{7,64}")
# Regular files only: symlinks (120000) and submodules (160000) have no bytes to build from.
_REGULAR_MODES = ("100644", "100755")

_thread_locks: dict[Path, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


@dataclass(frozen=True)
class TreeFile:
    name: str
    blob: str         # git object id
    executable: bool


@dataclass(frozen=True)
class ResolvedCommit:
    url: str
    commit: str
    repo: Path
    fetched: bool     # True when the server was contacted


def parse_snapshot(snapshot: str, where: str) -> int:
    """ISO 8601 date-time → seconds since the epoch; no time zone means UTC."""
    try:
        moment = datetime.fromisoformat(snapshot.strip())
    except ValueError:
        raise FetchError(f"{where}: snapshot {snapshot!r} is not an ISO 8601 date-time "
                         f"(e.g. 2025-01-31T00:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


class DistGitMirror:
    """One bare mirror of one dist-git URL."""

    def __init__(self, store_root: Path, url: str) -> None:
        self.url = url
        self.repo = store_root / "git" / (blake3.blake3(url.encode()).hexdigest() + ".git")

    # -- git plumbing ---------------------------------------------------------------------

    def _git(self, *args: str, check: bool = True, stdout=subprocess.PIPE,
             ) -> subprocess.CompletedProcess:
        env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C", LANG="C",
                   GIT_DIR=str(self.repo))
        env.pop("GIT_WORK_TREE", None)
        result = subprocess.run(["git", *args], env=env, stdout=stdout,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise FetchError(f"{self.url}: git {args[0]} failed: {_last_line(result.stderr)}")
        return result

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One fetcher per mirror, across threads (a lock) and processes (flock)."""
        with _thread_locks_guard:
            thread_lock = _thread_locks.setdefault(self.repo, threading.Lock())
        with thread_lock:
            self.repo.parent.mkdir(parents=True, exist_ok=True)
            with open(self.repo.with_suffix(".lock"), "a") as lock_file:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)

    def _ensure_repo(self) -> None:
        if (self.repo / "HEAD").is_file():
            return
        self.repo.mkdir(parents=True, exist_ok=True)
        self._git("init", "--quiet", "--bare")
        self._git("config", "hermetic.url", self.url)

    def _fetch_branches(self) -> None:
        result = self._git("fetch", "--quiet", "--prune", "--no-tags", "--", self.url,
                           "+refs/heads/*:refs/heads/*", check=False)
        if result.returncode != 0:
            raise FetchError(f"{self.url}: cannot fetch dist-git repository: "
                             f"{_last_line(result.stderr)}")

    def _fetch_commit(self, commit: str) -> None:
        # Servers that allow fetching any reachable commit by id (uploadpack.allowAnySHA1InWant)
        # give us commits no branch points to any more. Failure here is not yet an error.
        self._git("fetch", "--quiet", "--no-tags", "--", self.url, commit, check=False)

    def _commit_id(self, revision: str) -> str | None:
        result = self._git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}",
                           check=False)
        return result.stdout.decode().strip() if result.returncode == 0 else None

    def _branch_tip_time(self, branch: str) -> int | None:
        result = self._git("log", "-1", "--format=%ct", f"refs/heads/{branch}", "--",
                           check=False)
        text = result.stdout.decode().strip()
        return int(text) if result.returncode == 0 and text else None

    # -- resolution -------------------------------------------------------------------------

    def resolve(self, *, branch: str | None, commit: str | None, snapshot: str | None,
                where: str) -> ResolvedCommit:
        with self.locked():
            self._ensure_repo()
            if commit:
                return self._resolve_pinned(commit.strip().lower(), where)
            if not branch:
                raise FetchError(f"{where}: upstream spec needs upstream-commit or the distro "
                                 f"version's dist-git-branch")
            if snapshot:
                return self._resolve_snapshot(branch, parse_snapshot(snapshot, where),
                                              snapshot, where)
            self._fetch_branches()
            tip = self._commit_id(f"refs/heads/{branch}")
            if tip is None:
                raise FetchError(f"{where}: branch {branch!r} does not exist in {self.url}")
            return ResolvedCommit(self.url, tip, self.repo, fetched=True)

    def _resolve_pinned(self, commit: str, where: str) -> ResolvedCommit:
        if not _COMMIT.fullmatch(commit):
            raise FetchError(f"{where}: upstream-commit {commit!r} is not a git commit id "
                             f"(7 to 64 hex digits)")
        found = self._commit_id(commit)
        fetched = False
        if found is None:
            self._fetch_branches()
            fetched = True
            found = self._commit_id(commit)
        if found is None and len(commit) in (40, 64):
            self._fetch_commit(commit)
            found = self._commit_id(commit)
        if found is None:
            raise FetchError(f"{where}: upstream-commit {commit} does not exist in {self.url}")
        return ResolvedCommit(self.url, found, self.repo, fetched)

    def _resolve_snapshot(self, branch: str, epoch: int, snapshot: str,
                          where: str) -> ResolvedCommit:
        tip_time = self._branch_tip_time(branch)
        fetched = False
        if tip_time is None or tip_time <= epoch:
            # The mirror may miss commits made before the snapshot: ask the server.
            self._fetch_branches()
            fetched = True
        if self._commit_id(f"refs/heads/{branch}") is None:
            raise FetchError(f"{where}: branch {branch!r} does not exist in {self.url}")
        log = self._git("log", "--first-parent", "--format=%H %ct", f"refs/heads/{branch}",
                        "--").stdout.decode()
        for line in log.splitlines():
            commit_id, _, committed = line.partition(" ")
            if int(committed) <= epoch:
                return ResolvedCommit(self.url, commit_id, self.repo, fetched)
        raise FetchError(f"{where}: branch {branch!r} of {self.url} has no commit at or before "
                         f"snapshot {snapshot}")

    # -- reading ----------------------------------------------------------------------------

    def top_level_files(self, commit: str) -> list[TreeFile]:
        """Regular files at the top of the commit's tree (dot files excluded), sorted by name."""
        listing = self._git("ls-tree", "-z", "--full-tree", commit).stdout.decode()
        files = []
        for record in filter(None, listing.split("\0")):
            meta, _, name = record.partition("\t")
            mode, kind, blob = meta.split()
            if kind == "blob" and mode in _REGULAR_MODES and not name.startswith("."):
                files.append(TreeFile(name, blob, mode == "100755"))
        return sorted(files, key=lambda f: f.name)

    def read_blob(self, blob: str) -> bytes:
        return self._git("cat-file", "blob", blob).stdout

    def write_blob(self, blob: str, destination: Path) -> None:
        with open(destination, "wb") as out:
            self._git("cat-file", "blob", blob, stdout=out)
            out.flush()
            os.fsync(out.fileno())


def _last_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no error output"
