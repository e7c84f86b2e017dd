"""The team binary cache: one protocol, three transports, substituters, an uploader, a server.

Public interface::

    Remote                                   the protocol (hermetic.remote.protocol)
    open_remote(url, token=None) -> Remote   http(s)://, file:///DIR, azure://ACCOUNT/CONTAINER
    read_token(token_file=None) -> str|None  a token file, else $HERMETIC_CACHE_TOKEN
    Substituters(remotes_with_priorities, trusted_keys).pull(store, key) -> ActionEntry | None
    Uploader(remotes, token=None, secret_key=None, force=False).submit(store, key); .close()
    push_buildroot(store_root, digest, remotes, name=None) -> BuildrootRecord
    pull_buildroot(store_root, digest, remote, name=None) -> Buildroot | None
    make_server(store_root, host, port, write_token=..., read_token=...) -> CacheServer
"""

from hermetic.remote.buildroots import BuildrootRecord, pull_buildroot, push_buildroot
from hermetic.remote.errors import IntegrityError, RemoteError, RemoteUnavailable
from hermetic.remote.open import TOKEN_ENV, open_remote, read_token
from hermetic.remote.protocol import Remote
from hermetic.remote.substituters import Substituters
from hermetic.remote.uploader import Uploader, upload_entry

__all__ = [
    "BuildrootRecord", "IntegrityError", "Remote", "RemoteError", "RemoteUnavailable",
    "Substituters", "TOKEN_ENV", "Uploader", "open_remote", "pull_buildroot", "push_buildroot",
    "read_token", "upload_entry",
]
