//! What a terminal's foreground programs are blocked in, read from `/proc`:
//! a program blocked in a `read` of its terminal waits for the keyboard.
//!
//! Looked at once per quiet spell of a session (when the input-wait
//! detector judges it), never per chunk of output: a walk of `/proc` costs
//! a few hundred small reads.

use std::path::Path;

use baton_monitor::input_wait::terminal::Reads;

use super::Pid;
use super::group::{all_pids, read_stat};

/// Reads of a descriptor: `read`, `pread64`, `readv`.
const READS: &[i64] = &[libc::SYS_read, libc::SYS_pread64, libc::SYS_readv];

/// Waits on a set of descriptors: `ppoll`, `pselect6`, `epoll_pwait`,
/// `epoll_pwait2` (441 on every architecture) and, where they exist,
/// `poll`, `select`, `epoll_wait`.
const POLLS: &[i64] = &[
    libc::SYS_ppoll,
    libc::SYS_pselect6,
    libc::SYS_epoll_pwait,
    441,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_poll,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_select,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_epoll_wait,
];

/// Parks a thread until another wakes it: `futex` (and `futex_waitv`, 449
/// on every architecture). Go's runtime parks every thread so while its
/// goroutines wait (on a channel, on `SIGIO` from a terminal: termbox):
/// no thread of it reads or polls the terminal, yet the program waits.
const PARKS: &[i64] = &[libc::SYS_futex, 449];

/// Waits for a child to end (`wait4`, `waitid`): a shell that started the
/// program, doing nothing of its own.
const WAITS: &[i64] = &[libc::SYS_wait4, libc::SYS_waitid];

/// What the foreground process group of the terminal `leader` runs on is
/// blocked in; `tty` is that terminal's path (`/dev/pts/N`). A thread of
/// the group blocked reading `tty` or `/dev/tty` (its controlling terminal,
/// which is `tty`: the group is that terminal's foreground) is
/// [`Reads::Terminal`]; one waiting on descriptors, or threads parked on a
/// futex (a runtime whose own threads wait for events: Go's) while the
/// others do nothing but wait for a child (the shell that started it), is
/// [`Reads::Polls`]. [`Reads::Unknown`] when a thread's call cannot be
/// read (another user's process; `ptrace` rules) or the group is not found.
pub fn foreground_reads(leader: Pid, tty: &Path) -> Reads {
    let Some(group) = read_stat(leader.0).and_then(|s| s.tpgid) else {
        return Reads::Unknown;
    };
    let Some(pids) = all_pids() else {
        return Reads::Unknown;
    };
    let mut found = false;
    let mut polls = false;
    let mut unknown = false;
    // A thread is parked, and every other is too or waits for a child
    // (none running, none in another call).
    let mut parked = false;
    let mut busy = false;
    for pid in pids {
        if read_stat(pid).is_none_or(|s| s.pgrp != group) {
            continue;
        }
        found = true;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            unknown = true;
            continue;
        };
        for task in tasks.filter_map(Result::ok) {
            let path = task.path().join("syscall");
            match std::fs::read_to_string(&path)
                .ok()
                .as_deref()
                .map(blocked_in)
            {
                Some(Call::Read(fd)) => {
                    let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}"));
                    if target.is_ok_and(|t| t == tty || t == Path::new("/dev/tty")) {
                        return Reads::Terminal;
                    }
                    busy = true;
                }
                Some(Call::Poll) => polls = true,
                Some(Call::Park) => parked = true,
                Some(Call::Child) => {}
                Some(Call::Other) => busy = true,
                // Gone since the listing: it waits for nothing now.
                None if !task.path().exists() => {}
                None => unknown = true,
            }
        }
    }
    if polls || (parked && !busy && !unknown) {
        Reads::Polls
    } else if unknown || !found {
        Reads::Unknown
    } else {
        Reads::Elsewhere
    }
}

/// What a thread is blocked in, from its `/proc/…/syscall` line.
#[derive(Debug, PartialEq, Eq)]
enum Call {
    /// A read of this descriptor.
    Read(i64),
    /// A wait on a set of descriptors.
    Poll,
    /// Parked until another thread (or a signal) wakes it.
    Park,
    /// Waiting for a child to end.
    Child,
    /// Running, or blocked in anything else.
    Other,
}

/// Parses `/proc/PID/task/TID/syscall`: `NR ARG0 … SP PC` for a thread
/// blocked in a call, `running`, or `-1 SP PC` outside one.
fn blocked_in(line: &str) -> Call {
    let mut words = line.split_whitespace();
    let Some(nr) = words.next().and_then(|w| w.parse::<i64>().ok()) else {
        return Call::Other;
    };
    if READS.contains(&nr) {
        let fd = words
            .next()
            .and_then(|w| i64::from_str_radix(w.trim_start_matches("0x"), 16).ok());
        return fd.map_or(Call::Other, Call::Read);
    }
    if POLLS.contains(&nr) {
        return Call::Poll;
    }
    if PARKS.contains(&nr) {
        return Call::Park;
    }
    if WAITS.contains(&nr) {
        return Call::Child;
    }
    Call::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_lines_parse() {
        let read = format!(
            "{} 0x0 0x7ffd 0x400 0x0 0x0 0x0 0x7ffd 0x7f",
            libc::SYS_read
        );
        assert_eq!(blocked_in(&read), Call::Read(0));
        let read = format!(
            "{} 0x1a 0x7ffd 0x400 0x0 0x0 0x0 0x7ffd 0x7f",
            libc::SYS_read
        );
        assert_eq!(blocked_in(&read), Call::Read(26));
        let poll = format!(
            "{} 0x3 0x7ffd 0x400 0x0 0x0 0x0 0x7ffd 0x7f",
            libc::SYS_ppoll
        );
        assert_eq!(blocked_in(&poll), Call::Poll);
        let park = format!(
            "{} 0x6f0348 0x80 0x0 0x0 0x0 0x0 0x7ffd 0x7f",
            libc::SYS_futex
        );
        assert_eq!(blocked_in(&park), Call::Park);
        assert_eq!(blocked_in("running"), Call::Other);
        assert_eq!(blocked_in("-1 0x7ffd 0x7f"), Call::Other);
        assert_eq!(blocked_in(""), Call::Other);
        assert_eq!(blocked_in(&format!("{}", libc::SYS_read)), Call::Other);
    }
}
