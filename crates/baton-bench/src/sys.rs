//! What the bench reads about its own process and the machine it runs on.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Fallible;

/// User plus system CPU time used so far by this process (all threads;
/// children are separate processes and not included).
pub fn cpu_time_self() -> Fallible<Duration> {
    rusage(libc::RUSAGE_SELF)
}

/// User plus system CPU time of this process's children that have ended
/// and been waited for (with their own waited-for descendants).
pub fn cpu_time_children() -> Fallible<Duration> {
    rusage(libc::RUSAGE_CHILDREN)
}

fn rusage(who: libc::c_int) -> Fallible<Duration> {
    // SAFETY: getrusage fills a local struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(who, &mut usage) != 0 {
            return Err(format!("getrusage: {}", std::io::Error::last_os_error()).into());
        }
        usage
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Ok(tv(usage.ru_utime) + tv(usage.ru_stime))
}

/// Kernel clock ticks per second, the unit of `/proc` CPU times.
fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|t| *t > 0).unwrap_or(100)
}

fn ticks_to_duration(ticks: u64) -> Duration {
    let per_s = clock_ticks();
    Duration::from_secs(ticks / per_s) + Duration::from_nanos(ticks % per_s * 1_000_000_000 / per_s)
}

/// What `/proc/<pid>/stat` says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Parent pid.
    pub ppid: u32,
    /// User plus system CPU time of the process itself, in clock ticks.
    pub cpu_ticks: u64,
}

impl ProcStat {
    /// `None` when the process is gone (or its stat is unreadable).
    pub fn read(pid: u32) -> Option<ProcStat> {
        parse_proc_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// Its CPU time.
    pub fn cpu(&self) -> Duration {
        ticks_to_duration(self.cpu_ticks)
    }
}

/// Reads ppid, utime and stime of a `/proc/<pid>/stat` line; the command
/// name in parentheses may itself hold spaces and parentheses.
fn parse_proc_stat(stat: &str) -> Option<ProcStat> {
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is the state (field 3 of proc(5)); utime and stime are 14 and 15.
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(ProcStat {
        ppid,
        cpu_ticks: utime + stime,
    })
}

/// CPU time all CPUs of the machine have spent busy (not idle or waiting
/// for I/O) since boot, from `/proc/stat`.
pub fn machine_busy() -> Fallible<Duration> {
    let text = std::fs::read_to_string("/proc/stat")
        .map_err(|e| format!("cannot read /proc/stat: {e}"))?;
    let ticks = parse_machine_busy(&text).ok_or("no `cpu` line in /proc/stat")?;
    Ok(ticks_to_duration(ticks))
}

/// Busy ticks of the aggregate `cpu` line: user, nice, system, irq,
/// softirq and steal (guest time is already inside user and nice).
fn parse_machine_busy(stat: &str) -> Option<u64> {
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some("cpu"))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal …
    if v.len() < 8 {
        return None;
    }
    Some(v[0] + v[1] + v[2] + v[5] + v[6] + v[7])
}

/// The argv of a process (`None` when gone or a kernel thread).
pub fn proc_cmdline(pid: u32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    if raw.is_empty() {
        return None;
    }
    Some(
        raw.split(|b| *b == 0)
            .filter(|w| !w.is_empty())
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect(),
    )
}

/// The command name of a process (`comm`), `None` when gone.
pub fn proc_comm(pid: u32) -> Option<String> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(comm.trim_end().to_owned())
}

/// Every pid in `/proc` now.
pub fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// Whether a process with this pid exists (zombies included).
pub fn pid_exists(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

/// Whether the process group `pgid` has any member left.
pub fn group_exists(pgid: u32) -> bool {
    // SAFETY: signal 0 to a group only checks for existence.
    unsafe { libc::kill(-(pgid as libc::pid_t), 0) == 0 }
}

/// Gives memory freed earlier (by figures that ran before) back to the OS,
/// so a following RSS difference counts new memory, not reuse of old pages.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns unused heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Resident set size of this process in KiB (`VmRSS` of `/proc/self/status`).
pub fn rss_kib() -> Fallible<u64> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    parse_vm_rss(&status).ok_or_else(|| "no VmRSS line in /proc/self/status".into())
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line["VmRSS:".len()..]
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

/// The machine, as printed at the top of a report.
#[derive(Debug, Clone)]
pub struct Machine {
    /// CPUs this process may run on.
    pub nproc: usize,
    /// `ostype osrelease`, e.g. `Linux 6.8.0`.
    pub kernel: String,
    /// CPU model name, when `/proc/cpuinfo` says.
    pub cpu: Option<String>,
    /// UTC time the run started, `YYYY-MM-DD HH:MM:SS UTC`.
    pub date: String,
}

impl Machine {
    /// Reads the machine description; unknown parts are `unknown`.
    pub fn describe() -> Machine {
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "unknown".into())
        };
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            });
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel: format!(
                "{} {}",
                read("/proc/sys/kernel/ostype"),
                read("/proc/sys/kernel/osrelease")
            ),
            cpu,
            date: utc_date(SystemTime::now()),
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` for a point in time.
pub fn utc_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Microseconds since the Unix epoch of a point in time (negative before it).
pub fn unix_us(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_micros() as i64,
        Err(e) => -(e.duration().as_micros() as i64),
    }
}

/// Microseconds since the Unix epoch of an event-log `ts`
/// (`YYYY-MM-DDTHH:MM:SS.ffffffZ`, RFC 3339 UTC as baton writes it; any
/// number of fraction digits, or none); `None` for any other shape.
pub fn parse_log_ts(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = ts.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let rest = ts.get(19..)?.strip_suffix('Z')?;
    let micros = match rest.strip_prefix('.') {
        None if rest.is_empty() => 0,
        None => return None,
        Some(frac) if frac.is_empty() || !frac.bytes().all(|c| c.is_ascii_digit()) => {
            return None;
        }
        Some(frac) => {
            let six: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
            six.parse::<i64>().ok()?
        }
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    Some(((days * 24 + h) * 60 + mi) * 60_000_000 + s * 1_000_000 + micros)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day)
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        let cases = [
            (0, (1970, 1, 1)),
            (59, (1970, 3, 1)),
            (11_016, (2000, 2, 29)),
            (19_723, (2024, 1, 1)),
            (20_513, (2026, 3, 1)),
            (-1, (1969, 12, 31)),
        ];
        for (days, want) in cases {
            assert_eq!(civil_from_days(days), want, "day {days}");
        }
        let t = UNIX_EPOCH + Duration::from_secs(19_723 * 86_400 + 3_723);
        assert_eq!(utc_date(t), "2024-01-01 01:02:03 UTC");
    }

    #[test]
    fn log_timestamps() {
        let at = |days: i64, secs: i64, us: i64| (days * 86_400 + secs) * 1_000_000 + us;
        let cases = [
            ("1970-01-01T00:00:00.000000Z", Some(0)),
            (
                "2024-01-01T01:02:03.500000Z",
                Some(at(19_723, 3_723, 500_000)),
            ),
            (
                "2000-02-29T23:59:59.999999Z",
                Some(at(11_016, 86_399, 999_999)),
            ),
            ("2026-03-01T00:00:00Z", Some(at(20_513, 0, 0))),
            ("2026-03-01T00:00:00.5Z", Some(at(20_513, 0, 500_000))),
            ("1969-12-31T23:59:59.000000Z", Some(-1_000_000)),
            ("2026-03-01T00:00:00.000000", None),
            ("2026-03-01 00:00:00.000000Z", None),
            ("2026-13-01T00:00:00.000000Z", None),
            ("2026-03-01T00:00:00.Z", None),
            ("2026-03-01T00:00:00.12a456Z", None),
            ("", None),
        ];
        for (ts, want) in cases {
            assert_eq!(parse_log_ts(ts), want, "{ts}");
        }
        for days in [-1, 0, 59, 11_016, 19_723, 20_513] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(unix_us(UNIX_EPOCH + Duration::from_micros(42)), 42);
    }

    #[test]
    fn proc_stat_lines() {
        let cases = [
            (
                "1234 (ssh) S 1 1234 1234 0 -1 4194560 300 0 0 0 7 3 0 0 20 0 1 0 100 0 0",
                Some(ProcStat {
                    ppid: 1,
                    cpu_ticks: 10,
                }),
            ),
            (
                "77 (a (b) c) R 42 77 77 0 -1 0 0 0 0 0 150 25 0 0 20 0 1 0 5 0 0",
                Some(ProcStat {
                    ppid: 42,
                    cpu_ticks: 175,
                }),
            ),
            ("77 (short) R 42 77", None),
            ("no parenthesis", None),
        ];
        for (line, want) in cases {
            assert_eq!(parse_proc_stat(line), want, "{line}");
        }
        let own = ProcStat::read(std::process::id()).expect("own stat");
        assert!(own.ppid > 0);
    }

    #[test]
    fn machine_busy_line() {
        let stat = "cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\nintr 1\n";
        assert_eq!(parse_machine_busy(stat), Some(161));
        assert_eq!(parse_machine_busy("cpu  1 2 3\n"), None);
        assert_eq!(parse_machine_busy("intr 1\n"), None);
        assert!(machine_busy().is_ok());
    }

    #[test]
    fn vm_rss_line() {
        let status = "Name:\tbench\nVmPeak:\t  9000 kB\nVmRSS:\t    4242 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(4242));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        assert!(rss_kib().expect("own status") > 0);
    }
}
