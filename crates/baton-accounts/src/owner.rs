//! Who holds a lease: a process identified by pid *and* start time, so a
//! recycled pid never keeps a dead conductor's lease alive.

use std::io;

/// A process that owns leases.
///
/// Two owners are the same process only if both the pid and the start time
/// (field 22 of `/proc/<pid>/stat`, in clock ticks since boot) match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Owner {
    /// Process id.
    pub pid: u32,
    /// Start time in clock ticks after boot (0 when it could not be read).
    pub start_time: u64,
}

/// What `/proc/<pid>/stat` says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    state: char,
    start_time: u64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted after the *last* `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // Field 3 is the state; field 22 the start time: 19 fields later.
    let state = fields.next()?.chars().next()?;
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(Stat { state, start_time })
}

fn read_stat(pid: u32) -> io::Result<Option<Stat>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    Ok(parse_stat(&text))
}

impl Owner {
    /// This process.
    pub fn current() -> Owner {
        let pid = std::process::id();
        let start_time = read_stat(pid).ok().flatten().map_or(0, |s| s.start_time);
        Owner { pid, start_time }
    }

    /// Whether this process still runs: the pid exists, is not a zombie, and
    /// started at the same time. When liveness cannot be decided (no
    /// `/proc`, a permission error) it answers `true`, because expiring a
    /// live lease would let two sessions share an account.
    pub fn is_alive(&self) -> bool {
        if self.pid == 0 || i32::try_from(self.pid).is_err() {
            return false;
        }
        match read_stat(self.pid) {
            Ok(Some(stat)) => {
                !matches!(stat.state, 'Z' | 'X' | 'x') && stat.start_time == self.start_time
            }
            Ok(None) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound && proc_mounted() => false,
            Err(_) => signal_zero(self.pid),
        }
    }
}

fn proc_mounted() -> bool {
    std::path::Path::new("/proc/self/stat").exists()
}

/// `kill(pid, 0)`: the pid exists (perhaps as someone else's process).
fn signal_zero(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 performs only the existence and permission checks.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        let rest = (4..=21)
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let cases = [
            (format!("12 (cat) S {rest} 9999 23"), Some(('S', 9999))),
            (format!("12 (a) b) (c) Z {rest} 42 23"), Some(('Z', 42))),
            (format!("12 (x y) R {rest}"), None),
            ("garbage".to_owned(), None),
        ];
        for (text, want) in cases {
            let got = parse_stat(&text).map(|s| (s.state, s.start_time));
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn this_process_is_alive_and_a_different_start_time_is_not() {
        let me = Owner::current();
        assert!(me.start_time > 0);
        assert!(me.is_alive());
        let recycled = Owner {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!recycled.is_alive());
    }

    #[test]
    fn an_exited_child_is_dead() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let owner = Owner {
            pid: child.id(),
            start_time: Owner::current().start_time,
        };
        child.wait().expect("wait true");
        assert!(!owner.is_alive());
    }
}
