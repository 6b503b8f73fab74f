#!/usr/bin/env python3
"""capture.py [--answer-queries] OUT SECONDS CMD...: run CMD on a fresh pty (120x40,
TERM=xterm-256color), keep every byte it writes for SECONDS (nothing is
typed), note how its terminal takes input then, and kill it.

With --answer-queries (heldout11 on) it answers the queries a program
sends its terminal as baton's screen does (crates/baton-monitor/src/screen.rs):
the cursor's position (CSI 6 n, from a pyte screen fed the same bytes),
status (CSI 5 n), device attributes (CSI c, CSI > c), foreground and
background colours (OSC 10/11 ; ?). Programs that get no answer wait
before drawing anything (prompt_toolkit, survey, enquiries). Needs pyte.

Writes OUT (the raw bytes a conductor would judge) and OUT with `.tty` for
`.txt`: one line `canonical=yes|no echo=yes|no reads=terminal|polls|no`,
the terminal's modes and what the terminal's foreground process group is
blocked in (a read of the terminal; a poll/select/epoll wait, or every
thread parked on a futex, as an idle Go program's are; neither),
as the conductor sees a PTY or tmux session it judges."""
import fcntl, os, pty, re, select, signal, struct, sys, termios, time

QUERY = re.compile(rb"\x1b\[(\??)([0-9;]*)([nc])|\x1b\[>[0-9;]*c|\x1b\](1[01]);\?(?:\x07|\x1b\\)")


def answers(chunk, screen):
    """What baton's screen answers to the queries in `chunk`, in order."""
    out = b""
    for m in QUERY.finditer(chunk):
        whole = m.group(0)
        if whole.startswith(b"\x1b[>"):
            out += b"\x1b[>0;10;1c"
        elif whole.startswith(b"\x1b]"):
            colour = b"ffff/ffff/ffff" if m.group(4) == b"10" else b"0000/0000/0000"
            out += b"\x1b]" + m.group(4) + b";rgb:" + colour + b"\x1b\\"
        elif m.group(3) == b"c" and m.group(2) in (b"", b"0") and not m.group(1):
            out += b"\x1b[?1;2c"
        elif m.group(3) == b"n" and m.group(2) == b"6":
            out += b"\x1b[%d;%dR" % (screen.cursor.y + 1, screen.cursor.x + 1)
        elif m.group(3) == b"n" and m.group(2) == b"5":
            out += b"\x1b[0n"
    return out

READS = {0, 17, 19}  # read, pread64, readv (x86_64)
POLLS = {7, 23, 232, 270, 271, 281, 441}  # poll, select, epoll_wait, pselect6, ppoll, epoll_pwait(2)
PARKS = {202, 449}  # futex, futex_waitv: threads parked while the rest wait for a child
WAITS = {61, 247}  # wait4, waitid: a shell that started the program (an idle Go runtime: polls)


def reads(fd, slave):
    try:
        fg = os.tcgetpgrp(fd)
    except OSError:
        return "no"
    seen = "no"
    parked, busy = False, False
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{p}/stat").read()
            if int(stat[stat.rindex(")") + 2:].split()[2]) != fg:
                continue
            for t in os.listdir(f"/proc/{p}/task"):
                call = open(f"/proc/{p}/task/{t}/syscall").read().split()
                if not call or not call[0].isdigit():
                    busy = True
                    continue
                nr = int(call[0])
                parked = parked or nr in PARKS
                busy = busy or nr not in PARKS | POLLS | WAITS | READS
                if nr in READS:
                    target = os.readlink(f"/proc/{p}/fd/{int(call[1], 16)}")
                    if target in (slave, "/dev/tty"):
                        return "terminal"
                    busy = True
                if nr in POLLS:
                    seen = "polls"
        except (OSError, ValueError, IndexError):
            continue
    if seen == "no" and parked and not busy:
        return "polls"
    return seen


args = sys.argv[1:]
answering = args[:1] == ["--answer-queries"]
if answering:
    args = args[1:]
out, secs, cmd = args[0], float(args[1]), args[2:]
pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "xterm-256color"
    os.execvp(cmd[0], cmd)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
# The slave's name: the child's fd 0 names it.
time.sleep(0.05)
try:
    slave = os.readlink(f"/proc/{pid}/fd/0")
except OSError:
    slave = "?"
data = b""
if answering:
    import pyte

    screen = pyte.Screen(120, 40)
    stream = pyte.ByteStream(screen)
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
        if answering:
            stream.feed(chunk)
            reply = answers(chunk, screen)
            if reply:
                os.write(fd, reply)
try:
    lflag = termios.tcgetattr(fd)[3]
except termios.error:
    lflag = termios.ICANON | termios.ECHO
yn = lambda b: "yes" if b else "no"
state = (
    f"canonical={yn(lflag & termios.ICANON)} echo={yn(lflag & termios.ECHO)} "
    f"reads={reads(fd, slave)}\n"
)
alive = os.waitpid(pid, os.WNOHANG) == (0, 0)
try:
    os.killpg(pid, signal.SIGKILL)
except ProcessLookupError:
    pass
try:
    os.waitpid(pid, 0)
except ChildProcessError:
    pass
open(out, "wb").write(data)
open(out[: -len(".txt")] + ".tty", "w").write(state)
print(f"{out}: {len(data)} bytes, {state.strip()}, {'running' if alive else 'ended'}")
