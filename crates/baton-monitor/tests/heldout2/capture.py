#!/usr/bin/env python3
"""cap.py OUT SECONDS CMD...: run CMD on a fresh pty (120x40, TERM=xterm-256color),
keep every byte it writes for SECONDS (nothing is typed), then kill it: the raw
tail a conductor would judge."""
import fcntl, os, pty, select, signal, struct, sys, termios, time
out, secs, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "xterm-256color"
    os.execvp(cmd[0], cmd)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
data = b""
end = time.time() + secs
while time.time() < end:
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
try:
    os.killpg(pid, signal.SIGKILL)
except ProcessLookupError:
    pass
os.waitpid(pid, 0)
open(out, "wb").write(data)
print(f"{out}: {len(data)} bytes")
