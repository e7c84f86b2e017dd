"""The packages of a created buildroot when ``[buildroot] include`` is not given (pure).

What rpmbuild and ordinary C specs need on Debian: rpm itself, a compiler, libc headers (gcc
does not pull them in on Debian) and make, bash for %_buildshell, the compressors payloads and
brp-compress use, and the usual spec tools. One list for the model's default and the buildroot
provider, or a stored buildroot would never be reused. It lives apart from both so that code
that only runs builds (a worker) need not import the configuration model.
"""

RPM_BUILD_SET: tuple[str, ...] = (
    "rpm", "gcc", "g++", "libc6-dev", "make", "bash", "coreutils", "findutils", "grep", "sed",
    "gawk", "diffutils", "patch", "tar", "gzip", "bzip2", "xz-utils", "zstd", "cpio", "file",
    "binutils", "elfutils", "pkg-config", "unzip",
)
