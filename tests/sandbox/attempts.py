"""Escape attempts: small Python scripts run by the host's /usr/bin/python3.

Each prints ESCAPED and exits 0 when the attempt works, or prints why not and exits 1. The same
script runs inside the sandbox (must fail) and outside it (must work, proving it can fail).
``{placeholders}`` are filled from the test's host fixtures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PRELUDE = """
import ctypes, errno, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
def done(ok, why=''):
    print('ESCAPED' if ok else 'blocked: ' + str(why)); sys.exit(0 if ok else 1)
def sysc(nr, *args):
    r = libc.syscall(ctypes.c_long(nr), *args)
    return r, ctypes.get_errno()
"""


@dataclass(frozen=True)
class Attempt:
    name: str
    script: str
    # Where the control runs: "host" directly, or "userns" = a bare `unshare -r` namespace
    # (for operations any user may do there, so the control works without root and never
    # changes the host).
    control: str = "host"
    control_needs_root: bool = False
    spec: dict = field(default_factory=dict)


ATTEMPTS = [
    Attempt("tcp-to-host", """
s = socket.socket(); s.settimeout(3)
try: s.connect(('127.0.0.1', {tcp_port})); done(s.recv(5) == b'hello')
except OSError as e: done(False, e)
"""),
    Attempt("udp-to-host", """
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.5)
try:
    s.sendto(b'ping', ('127.0.0.1', {udp_port})); done(s.recvfrom(16)[0] == b'pong')
except OSError as e: done(False, e)
"""),
    Attempt("ipv6-to-host", """
s = socket.socket(socket.AF_INET6); s.settimeout(3)
try: s.connect(('::1', {tcp6_port})); done(s.recv(5) == b'hello')
except OSError as e: done(False, e)
"""),
    Attempt("packet-socket", """
try: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)); done(True)
except OSError as e: done(False, e)
""", control="userns"),
    Attempt("raw-socket", """
try: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); done(True)
except OSError as e: done(False, e)
""", control="userns"),
    Attempt("netlink-change-interfaces", """
import subprocess
links = subprocess.run(['ip', '-o', 'link'], capture_output=True, text=True).stdout
r = subprocess.run(['ip', 'addr', 'add', '10.211.3.4/32', 'dev', 'lo'], capture_output=True, text=True)
r2 = subprocess.run(['ip', 'link', 'set', 'lo', 'down'], capture_output=True, text=True)
done(r.returncode == 0 and r2.returncode == 0, (links, r.stderr, r2.stderr))
""", control="userns"),
    Attempt("host-interfaces-visible", """
names = [l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:]]
done(any(n != 'lo' for n in names), names)
"""),
    Attempt("abstract-unix-socket", """
s = socket.socket(socket.AF_UNIX); s.settimeout(3)
try: s.connect('\\0{abstract}'); done(s.recv(5) == b'hello')
except OSError as e: done(False, e)
"""),
    Attempt("read-secret", """
try: done(open({secret!r}).read() == 'secret')
except OSError as e: done(False, e)
"""),
    Attempt("write-read-only-tree", """
try:
    open({ro_tree!r} + '/planted', 'w').write('x'); done(True)
except OSError as e: done(False, e)
""", spec={"ro_bind": True}),
    Attempt("write-root", """
for path in ('/usr/planted', '/etc/planted', '/planted'):
    try: open(path, 'w').write('x'); os.unlink(path); done(True)
    except OSError as e: why = e
done(False, why)
""", control_needs_root=True),
    Attempt("ptrace-host-process", """
PTRACE_ATTACH, PTRACE_DETACH = 16, 17
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
if libc.ptrace(PTRACE_ATTACH, {victim_pid}, None, None) != 0:
    done(False, os.strerror(ctypes.get_errno()))
os.waitpid({victim_pid}, getattr(os, 'WALL', 0x40000000))
libc.ptrace(PTRACE_DETACH, {victim_pid}, None, None); done(True)
"""),
    Attempt("signal-host-process", """
try: os.kill({victim_pid}, 0); done(True)
except OSError as e: done(False, e)
"""),
    Attempt("mount", """
os.makedirs('/tmp/m', exist_ok=True)
r = libc.mount(b'tmpfs', b'/tmp/m', b'tmpfs', ctypes.c_ulong(0), None)
done(r == 0, os.strerror(ctypes.get_errno()))
""", control="userns"),
    Attempt("nested-user-namespace", """
import subprocess
r = subprocess.run(['unshare', '--user', '--map-root-user', 'true'], capture_output=True, text=True)
pid = os.fork()
if pid == 0:
    os._exit(0 if libc.unshare(0x10000000) == 0 else 1)
_, st = os.waitpid(pid, 0)
done(r.returncode == 0 and os.waitstatus_to_exitcode(st) == 0, r.stderr)
"""),
    Attempt("chmod-setuid", """
path = os.path.join({scratch!r}, 'suid')
open(path, 'w').close()
try: os.chmod(path, 0o4755); done(os.stat(path).st_mode & 0o4000 != 0)
except OSError as e: done(False, e)
"""),
    Attempt("setxattr", """
path = os.path.join({scratch!r}, 'xattr')
open(path, 'w').close()
try: os.setxattr(path, 'user.hermetic', b'1'); done(True)
except OSError as e: done(False, e)
"""),
    Attempt("keyctl", """
KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING = 0, -3
r, err = sysc(250, ctypes.c_int(KEYCTL_GET_KEYRING_ID), ctypes.c_int(KEY_SPEC_SESSION_KEYRING), ctypes.c_int(1))
done(r > 0, os.strerror(err))
"""),
    Attempt("bpf", """
import struct
attr = struct.pack('IIII', 2, 4, 4, 1) + bytes(112)  # BPF_MAP_TYPE_ARRAY, key 4, value 4, 1 entry
buf = ctypes.create_string_buffer(attr, len(attr))
r, err = sysc(321, ctypes.c_int(0), buf, ctypes.c_uint(len(attr)))  # BPF_MAP_CREATE
done(r >= 0, os.strerror(err))
""", control_needs_root=True),
    Attempt("perf_event_open", """
import struct
# PERF_TYPE_SOFTWARE, size 128, PERF_COUNT_SW_TASK_CLOCK; flags: exclude_kernel|exclude_hv
attr = struct.pack('IIQQQQQ', 1, 128, 1, 0, 0, 0, (1 << 5) | (1 << 6)) + bytes(128 - 48)
buf = ctypes.create_string_buffer(attr, 128)
r, err = sysc(298, buf, ctypes.c_int(0), ctypes.c_int(-1), ctypes.c_int(-1), ctypes.c_ulong(0))
done(r >= 0, os.strerror(err))
"""),
    Attempt("tiocsti", """
import fcntl, termios
master = os.open('/dev/ptmx', os.O_RDWR | os.O_NOCTTY)
libc.grantpt(master); libc.unlockpt(master)
libc.ptsname.restype = ctypes.c_char_p
slave = os.open(libc.ptsname(master), os.O_RDWR)
try: os.setsid()
except OSError: pass
try: fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
except OSError: pass
try: fcntl.ioctl(slave, termios.TIOCSTI, b'x'); done(True)
except OSError as e: done(False, e)
"""),
    Attempt("write-proc-sys", """
try:
    # Per-network-namespace, so writable by the namespace's root unless /proc/sys is read-only.
    with open('/proc/sys/net/ipv4/ip_forward', 'w') as f: f.write('0')
    done(True)
except OSError as e: done(False, e)
""", control="userns"),
    Attempt("fork-bomb", """
import time
children = []
try:
    for i in range(200):
        pid = os.fork()
        if pid == 0:
            time.sleep(5); os._exit(0)
        children.append(pid)
    ok, why = True, ''
except OSError as e:
    ok, why = False, f'{{len(children)}} forks, then {{e}}'
for pid in children: os.kill(pid, 9); os.waitpid(pid, 0)
done(ok, why)
""", spec={"nproc": 64}),
    Attempt("fill-tmp", """
try:
    with open(os.path.join({scratch_tmp!r}, 'fill'), 'wb') as f:
        for _ in range(32): f.write(bytes(1 << 20))
        f.flush(); os.fsync(f.fileno())
    done(True)
except OSError as e: done(False, e)
""", spec={"tmp_size": 8 << 20}),
]

BY_NAME = {attempt.name: attempt for attempt in ATTEMPTS}
