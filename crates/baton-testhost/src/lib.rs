//! Real OpenSSH servers for baton's tests and benchmarks: one on loopback
//! ([`Sshd::loopback`]) and one inside a network namespace that stands in
//! for a remote machine whose link can be cut ([`NetnsHost::new`]).
//!
//! Each fake host gets its own short temp dir (mode 0700: keys, config,
//! log, the client's control sockets under `c/`, and the host's tmux
//! sockets under `tmux/`, which sshd hands every session as
//! `TMUX_TMPDIR`), its own ed25519 host and client keys, and a known_hosts
//! file that already holds its host key. Dropping it undoes everything in
//! reverse order, on panic too: ssh masters, the host's processes, the
//! namespace, sshd, the temp dir. Processes are ended by the pids recorded
//! or found for this host, never by name. Every wait polls with a
//! deadline.
//!
//! Both need root (an unprivileged sshd admits only its own user; network
//! namespaces need CAP_NET_ADMIN and CAP_SYS_ADMIN) and the sshd binary;
//! the namespace host also `ip netns` and `nft`. Without them the
//! constructors print why and return `None`, so the test can return —
//! except under CI (`CI` set), where they panic.

use std::fs::File;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use baton_config::HostConfig;
use baton_core::proc::ssh::SshHost;

const SSHD: &str = "/usr/sbin/sshd";

/// Bound on one helper command (`ip`, `nft`, `ssh-keygen`, `ssh -O`).
const COMMAND_LIMIT: Duration = Duration::from_secs(10);

/// Bound on sshd becoming ready to accept connections.
const READY_LIMIT: Duration = Duration::from_secs(10);

/// Where namespace-index locks live.
fn lock_dir() -> PathBuf {
    std::env::temp_dir().join("baton-netns")
}

/// The route that keeps fake-host traffic off the default route when a
/// link is down. Added by any test that needs it, never
/// deleted by one.
pub const GUARD_ROUTE: &str = "10.200.0.0/16";

/// Says why a test cannot run here: panics under CI, else prints the
/// reason (the caller then returns early).
pub fn skip(reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("CI must run this test, but {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

/// What is missing for a loopback sshd, if anything.
fn loopback_missing() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("it needs root (an unprivileged sshd admits only its own user)".into());
    }
    for (bin, package) in [
        (SSHD, "openssh-server"),
        ("/usr/bin/ssh", "openssh-client"),
        ("/usr/bin/ssh-keygen", "openssh-client"),
    ] {
        if !Path::new(bin).exists() {
            return Some(format!("{bin} is missing (install {package})"));
        }
    }
    None
}

/// Runs `argv` with a deadline; kills it if it overruns.
pub fn run_cmd(argv: &[&str]) -> Output {
    run_with_input(argv, None)
}

fn run_with_input(argv: &[&str], input: Option<&str>) -> Output {
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
    if let (Some(mut stdin), Some(text)) = (child.stdin.take(), input) {
        use std::io::Write;
        stdin.write_all(text.as_bytes()).expect("write stdin");
    }
    let deadline = Instant::now() + COMMAND_LIMIT;
    loop {
        match child.try_wait().expect("try_wait") {
            Some(_) => return child.wait_with_output().expect("collect output"),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("collect output");
                panic!("{argv:?} did not finish within {COMMAND_LIMIT:?}: {out:?}");
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Runs `argv`, panicking with its stderr if it fails.
fn must(argv: &[&str]) -> Output {
    let out = run_cmd(argv);
    assert!(
        out.status.success(),
        "{argv:?} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out
}

/// Polls `ready` every 20 ms until it holds; panics with `what` after
/// `limit`. It blocks the thread: in an async test, where a spawned task
/// must make progress meanwhile, poll with `tokio::time::sleep` instead.
pub fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Generates an ed25519 key pair at `path` (private, 0600) and
/// `path.pub`; returns `path`.
pub fn keygen(path: &Path) -> PathBuf {
    let p = path.to_str().expect("utf-8 path");
    must(&[
        "ssh-keygen",
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-C",
        "baton-test",
        "-f",
        p,
    ]);
    path.to_owned()
}

/// This user's login directory, as sshd gives it to this user's sessions
/// on a loopback or namespace host (`$HOME` of the test process may point
/// elsewhere): where a host's `~/.baton/` is.
pub fn login_home() -> PathBuf {
    // SAFETY: getpwuid returns a pointer into static storage (or null),
    // read at once on this thread and copied out.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        assert!(!pw.is_null(), "no passwd entry for this user");
        let dir = std::ffi::CStr::from_ptr((*pw).pw_dir);
        PathBuf::from(std::ffi::OsStr::from_encoded_bytes_unchecked(
            dir.to_bytes(),
        ))
    }
}

/// True when `pid` runs no longer (gone, or a zombie).
pub fn pid_gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with('Z')))
        .unwrap_or(true)
}

/// The files of one fake host, in a short per-test temp dir.
#[derive(Debug)]
struct HostFiles {
    dir: PathBuf,
    host_key: PathBuf,
    client_key: PathBuf,
    known_hosts: PathBuf,
    config: PathBuf,
    log: PathBuf,
    tmux_dir: PathBuf,
    control_dir: PathBuf,
}

impl HostFiles {
    fn create() -> HostFiles {
        // /tmp, not $TMPDIR: control and tmux socket paths must stay short.
        let dir = tempfile::Builder::new()
            .prefix("bt")
            .tempdir_in("/tmp")
            .expect("temp dir")
            .keep();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let files = HostFiles {
            host_key: keygen(&dir.join("host_key")),
            client_key: keygen(&dir.join("client_key")),
            known_hosts: dir.join("known_hosts"),
            config: dir.join("sshd_config"),
            log: dir.join("sshd.log"),
            tmux_dir: dir.join("tmux"),
            control_dir: dir.join("c"),
            dir,
        };
        std::fs::copy(
            files.client_key.with_extension("pub"),
            files.dir.join("authorized_keys"),
        )
        .expect("authorized_keys");
        for d in [&files.tmux_dir, &files.control_dir] {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(d)
                .expect("mkdir");
        }
        files
    }

    /// A test sshd config, listening on `listen:port`. `PYENV_REHASH_TIMEOUT=0`:
    /// a login shell whose rc runs `pyenv init` (as this machine's root's
    /// does) would otherwise wait 60 s on the lock a login killed mid-rehash
    /// (a test cutting a link) left behind, and every later ssh call of the
    /// run with it.
    fn write_config(&self, listen: &str, port: u16) {
        let d = self.dir.display();
        let text = format!(
            "Port {port}\n\
             ListenAddress {listen}\n\
             HostKey {d}/host_key\n\
             PidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             UsePAM no\n\
             StrictModes no\n\
             PermitRootLogin prohibit-password\n\
             SetEnv TMUX_TMPDIR={tmux} PYENV_REHASH_TIMEOUT=0\n\
             ClientAliveInterval 2\n\
             ClientAliveCountMax 3\n\
             LogLevel VERBOSE\n",
            tmux = self.tmux_dir.display()
        );
        std::fs::write(&self.config, text).expect("sshd_config");
        let host_pub = std::fs::read_to_string(self.host_key.with_extension("pub")).expect("pub");
        let name = if port == 22 {
            listen.to_owned()
        } else {
            format!("[{listen}]:{port}")
        };
        std::fs::write(&self.known_hosts, format!("{name} {host_pub}")).expect("known_hosts");
    }

    fn host_config(&self, name: &str, address: &str, port: u16) -> HostConfig {
        HostConfig {
            user: Some("root".into()),
            port,
            identity: Some(self.client_key.clone()),
            ssh_options: vec![
                format!("UserKnownHostsFile={}", self.known_hosts.display()),
                "GlobalKnownHostsFile=/dev/null".into(),
                "StrictHostKeyChecking=yes".into(),
            ],
            ..HostConfig::new(name, address)
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Starts `argv` (an sshd, perhaps behind `setsid ip netns exec`) with
    /// its output appended to the log, in its own process group so that a
    /// terminal's Ctrl-C reaches only the test runner.
    fn spawn_logged(&self, argv: &[&str]) -> Child {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log");
        Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {argv:?}: {e}"))
    }

    /// Ends every ssh master whose socket is in the control dir
    /// (`ssh -O exit`, then SIGKILL by the pid `-O check` printed).
    fn exit_masters(&self) {
        let Ok(entries) = std::fs::read_dir(&self.control_dir) else {
            return;
        };
        for entry in entries.flatten() {
            let socket = entry.path();
            let control = format!("ControlPath={}", socket.display());
            let ssh =
                |verb: &str| run_cmd(&["ssh", "-o", &control, "-O", verb, "baton-test-master"]);
            let check = ssh("check");
            let text = String::from_utf8_lossy(&check.stderr).into_owned();
            let pid = text
                .split("(pid=")
                .nth(1)
                .and_then(|r| r.split(')').next())
                .and_then(|p| p.parse::<u32>().ok());
            let _ = ssh("exit");
            if let Some(pid) = pid {
                let deadline = Instant::now() + Duration::from_secs(3);
                while !pid_gone(pid) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
                if !pid_gone(pid) {
                    kill(pid);
                }
            }
        }
    }

    /// Kills the tmux servers whose sockets are in the host's tmux dir.
    fn kill_tmux_servers(&self) {
        let Ok(uid_dirs) = std::fs::read_dir(&self.tmux_dir) else {
            return;
        };
        for uid_dir in uid_dirs.flatten() {
            let Ok(sockets) = std::fs::read_dir(uid_dir.path()) else {
                continue;
            };
            for socket in sockets.flatten() {
                let path = socket.path();
                let _ = run_cmd(&[
                    "tmux",
                    "-S",
                    path.to_str().unwrap_or_default(),
                    "kill-server",
                ]);
            }
        }
    }

    /// Every process a session of this host started: sshd gives each one
    /// `TMUX_TMPDIR=<this host's tmux dir>`, a path no other process has.
    fn session_pids(&self) -> Vec<u32> {
        let marker = format!("TMUX_TMPDIR={}", self.tmux_dir.display());
        let mut pids = Vec::new();
        let Ok(proc_dir) = std::fs::read_dir("/proc") else {
            return pids;
        };
        for entry in proc_dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let mut environ = Vec::new();
            let readable = File::open(entry.path().join("environ"))
                .and_then(|mut f| f.read_to_end(&mut environ))
                .is_ok();
            if readable
                && environ
                    .split(|b| *b == 0)
                    .any(|var| var == marker.as_bytes())
            {
                pids.push(pid);
            }
        }
        pids
    }

    fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn kill(pid: u32) {
    if let Some(raw) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(raw, rustix::process::Signal::KILL);
    }
}

/// Kills `child` (if still running) and reaps it.
fn stop_child(child: &mut Child) {
    if child.try_wait().ok().flatten().is_none() {
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// A root sshd must find its privilege separation directory.
fn ensure_run_sshd() {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create("/run/sshd")
        .expect("mkdir /run/sshd");
}

/// An sshd on 127.0.0.1 at a free port, admitting root with this test's
/// client key. The "host" it stands for shares this machine's processes
/// and files; only its tmux socket directory is its own.
#[derive(Debug)]
pub struct Sshd {
    files: HostFiles,
    port: u16,
    child: Child,
}

impl Sshd {
    /// Starts one and waits until it listens; `None` (after printing why)
    /// when this machine cannot run it.
    pub fn loopback() -> Option<Sshd> {
        if let Some(reason) = loopback_missing() {
            skip(&reason);
            return None;
        }
        ensure_run_sshd();
        let files = HostFiles::create();
        // The port is free when read back but not reserved: another process
        // may take it before sshd binds it, so retry on "Address already in use".
        for _ in 0..10 {
            let port = {
                let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
                l.local_addr().expect("local addr").port()
            };
            files.write_config("127.0.0.1", port);
            let _ = std::fs::remove_file(&files.log);
            let cfg = files.config.to_str().expect("utf-8");
            must(&[SSHD, "-t", "-f", cfg]);
            let mut child = files.spawn_logged(&[SSHD, "-D", "-e", "-f", cfg]);
            let listening = format!("Server listening on 127.0.0.1 port {port}.");
            let deadline = Instant::now() + READY_LIMIT;
            loop {
                let log = files.log_text();
                if log.contains(&listening) {
                    return Some(Sshd { files, port, child });
                }
                let exited = child.try_wait().ok().flatten().is_some();
                if log.contains("Address already in use") || exited {
                    stop_child(&mut child);
                    assert!(log.contains("Address already in use"), "sshd exited: {log}");
                    break;
                }
                if Instant::now() >= deadline {
                    stop_child(&mut child);
                    files.remove();
                    panic!("sshd did not listen within {READY_LIMIT:?}: {log}");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        files.remove();
        panic!("no free port for sshd after 10 tries");
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The listener's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The test's temp dir (short; removed on drop).
    pub fn dir(&self) -> &Path {
        &self.files.dir
    }

    /// Where clients of this host keep their ssh control sockets.
    pub fn control_dir(&self) -> &Path {
        &self.files.control_dir
    }

    /// The host's `TMUX_TMPDIR`.
    pub fn tmux_dir(&self) -> &Path {
        &self.files.tmux_dir
    }

    /// The client key sshd accepts.
    pub fn client_key(&self) -> &Path {
        &self.files.client_key
    }

    /// The server's public host key line (`ssh-ed25519 AAAA… comment`).
    pub fn host_public_key(&self) -> String {
        std::fs::read_to_string(self.files.host_key.with_extension("pub")).expect("host key")
    }

    /// sshd's log so far.
    pub fn log(&self) -> String {
        self.files.log_text()
    }

    /// An inventory entry for this host: root, the accepted client key,
    /// and a known_hosts file that holds its key (strict checking).
    pub fn host_config(&self, name: &str) -> HostConfig {
        self.files.host_config(name, "127.0.0.1", self.port)
    }

    /// An [`SshHost`] for [`Sshd::host_config`], with its control socket in
    /// [`Sshd::control_dir`] (so the drop guard ends its master).
    pub fn ssh_host(&self, name: &str) -> SshHost {
        SshHost::new(name, &self.host_config(name), self.control_dir()).expect("ssh host")
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.files.exit_masters();
        self.files.kill_tmux_servers();
        for pid in self.files.session_pids() {
            kill(pid);
        }
        stop_child(&mut self.child);
        self.files.remove();
    }
}

/// A fake remote machine: network namespace `btt<IDX>` joined to this one
/// by a veth pair (`btt<IDX>r` here, `btt<IDX>h` inside) on
/// 10.200.IDX.0/24, with sshd on 10.200.IDX.2:22 inside.
#[derive(Debug)]
pub struct NetnsHost {
    files: HostFiles,
    idx: u8,
    ns: String,
    address: String,
    sshd: Option<Child>,
    /// Held for the host's lifetime; the kernel releases it if the test dies.
    _lock: File,
}

impl NetnsHost {
    /// Builds the namespace and starts sshd in it; `None` (after printing
    /// why) when this machine cannot.
    pub fn new() -> Option<NetnsHost> {
        if let Some(reason) = loopback_missing() {
            skip(&reason);
            return None;
        }
        for (argv, what) in [
            (&["ip", "netns", "list"][..], "`ip netns` is unusable"),
            (
                &["nft", "--version"][..],
                "nft is missing (install nftables)",
            ),
        ] {
            let ok = Command::new(argv[0])
                .args(&argv[1..])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                skip(what);
                return None;
            }
        }
        ensure_run_sshd();
        let (idx, lock) = claim_index();
        let ns = format!("btt{idx}");
        // We hold the index: anything by this name is a leftover of a dead run.
        remove_namespace(&ns);
        let _ = run_cmd(&["ip", "link", "del", &format!("{ns}r")]);

        let guard = run_cmd(&["ip", "route", "add", "unreachable", GUARD_ROUTE]);
        let guard_err = String::from_utf8_lossy(&guard.stderr);
        assert!(
            guard.status.success() || guard_err.contains("File exists"),
            "cannot add the guard route: {guard_err}"
        );
        let created = run_cmd(&["ip", "netns", "add", &ns]);
        if !created.status.success() {
            skip(&format!(
                "cannot create a network namespace: {}",
                String::from_utf8_lossy(&created.stderr).trim()
            ));
            return None;
        }
        let mut host = NetnsHost {
            files: HostFiles::create(),
            idx,
            address: format!("10.200.{idx}.2"),
            ns,
            sshd: None,
            _lock: lock,
        };
        let (ns, r, h) = (host.ns.clone(), host.root_veth(), host.host_veth());
        let root_addr = format!("10.200.{idx}.1/24");
        let host_addr = format!("{}/24", host.address);
        for argv in [
            &["ip", "link", "add", &r, "type", "veth", "peer", "name", &h][..],
            &["ip", "link", "set", &h, "netns", &ns],
            &["ip", "addr", "add", &root_addr, "dev", &r],
            &["ip", "link", "set", &r, "up"],
            &["ip", "-n", &ns, "addr", "add", &host_addr, "dev", &h],
            &["ip", "-n", &ns, "link", "set", &h, "up"],
            &["ip", "-n", &ns, "link", "set", "lo", "up"],
        ] {
            must(argv);
        }
        host.files.write_config(&host.address, 22);
        must(&[SSHD, "-t", "-f", host.files.config.to_str().expect("utf-8")]);
        host.start_sshd();
        Some(host)
    }

    /// The namespace index (1..=254).
    pub fn idx(&self) -> u8 {
        self.idx
    }

    /// The namespace name, `btt<IDX>`.
    pub fn namespace(&self) -> &str {
        &self.ns
    }

    /// The host's address, `10.200.IDX.2`.
    pub fn address(&self) -> &str {
        &self.address
    }

    fn root_veth(&self) -> String {
        format!("{}r", self.ns)
    }

    fn host_veth(&self) -> String {
        format!("{}h", self.ns)
    }

    /// The test's temp dir (short; removed on drop).
    pub fn dir(&self) -> &Path {
        &self.files.dir
    }

    /// Where clients of this host keep their ssh control sockets.
    pub fn control_dir(&self) -> &Path {
        &self.files.control_dir
    }

    /// The host's `TMUX_TMPDIR`.
    pub fn tmux_dir(&self) -> &Path {
        &self.files.tmux_dir
    }

    /// sshd's log so far (every start appends).
    pub fn log(&self) -> String {
        self.files.log_text()
    }

    /// An inventory entry for this host (root, port 22, the accepted
    /// client key, strict host key checking against its known key).
    pub fn host_config(&self, name: &str) -> HostConfig {
        self.files.host_config(name, &self.address, 22)
    }

    /// An [`SshHost`] for [`NetnsHost::host_config`], with its control
    /// socket in [`NetnsHost::control_dir`].
    pub fn ssh_host(&self, name: &str) -> SshHost {
        SshHost::new(name, &self.host_config(name), self.control_dir()).expect("ssh host")
    }

    /// The pids of every process in the namespace.
    pub fn pids(&self) -> Vec<u32> {
        namespace_pids(&self.ns)
    }

    /// Drops every packet in and out of the host's interface, silently
    /// (nftables inside the namespace; the machine's own ruleset is
    /// untouched) — the cut that only timeouts reveal.
    pub fn cut_link(&self) {
        let h = self.host_veth();
        let rules = format!(
            "table inet btcut {{\n\
               chain input {{ type filter hook input priority 0; policy accept; iifname \"{h}\" drop; }}\n\
               chain output {{ type filter hook output priority 0; policy accept; oifname \"{h}\" drop; }}\n\
             }}\n"
        );
        let out = run_with_input(
            &["ip", "netns", "exec", &self.ns, "nft", "-f", "-"],
            Some(&rules),
        );
        assert!(
            out.status.success(),
            "nft: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Undoes [`NetnsHost::cut_link`].
    pub fn restore_link(&self) {
        must(&[
            "ip", "netns", "exec", &self.ns, "nft", "delete", "table", "inet", "btcut",
        ]);
    }

    /// Takes the host's interface down (from inside): ARP fails, packets vanish.
    pub fn link_down(&self) {
        must(&[
            "ip",
            "-n",
            &self.ns,
            "link",
            "set",
            &self.host_veth(),
            "down",
        ]);
    }

    /// Undoes [`NetnsHost::link_down`].
    pub fn link_up(&self) {
        must(&["ip", "-n", &self.ns, "link", "set", &self.host_veth(), "up"]);
    }

    /// The host crashes: SIGKILL to every process in the namespace (sshd,
    /// its sessions, tmux servers, agents); returns when none is left.
    pub fn kill_all(&mut self) {
        kill_namespace_pids(&self.ns);
        if let Some(mut child) = self.sshd.take() {
            stop_child(&mut child);
        }
    }

    /// Ends only the sshd listener: new logins are refused, established
    /// connections (and a master's) go on.
    pub fn stop_sshd(&mut self) {
        if let Some(mut child) = self.sshd.take() {
            stop_child(&mut child);
        }
    }

    /// Starts sshd again (after [`NetnsHost::kill_all`] or
    /// [`NetnsHost::stop_sshd`]; a running listener is stopped first) and
    /// waits until it accepts connections.
    pub fn restart_sshd(&mut self) {
        self.stop_sshd();
        self.start_sshd();
    }

    fn start_sshd(&mut self) {
        let cfg = self.files.config.to_str().expect("utf-8").to_owned();
        // setsid: the host's sshd must not share the test's session. As the
        // child is no group leader, setsid does not fork, and `ip netns
        // exec` execs: the child's pid is sshd's.
        let child = self.files.spawn_logged(&[
            "setsid", "ip", "netns", "exec", &self.ns, SSHD, "-D", "-e", "-f", &cfg,
        ]);
        self.sshd = Some(child);
        let addr = SocketAddr::from((self.address.parse::<Ipv4Addr>().expect("ipv4"), 22));
        wait_until(&format!("sshd on {addr}"), READY_LIMIT, || {
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        });
    }
}

impl Drop for NetnsHost {
    fn drop(&mut self) {
        self.files.exit_masters();
        remove_namespace(&self.ns);
        let _ = run_cmd(&["ip", "link", "del", &self.root_veth()]);
        if let Some(mut child) = self.sshd.take() {
            stop_child(&mut child);
        }
        self.files.remove();
    }
}

/// Claims the first free index in 1..=254 with a file lock, so that tests
/// in other processes pick other namespaces and subnets.
fn claim_index() -> (u8, File) {
    let dir = lock_dir();
    std::fs::create_dir_all(&dir).expect("lock dir");
    for idx in 1..=254u8 {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("{idx}.lock")))
            .expect("lock file");
        if file.try_lock().is_ok() {
            return (idx, file);
        }
    }
    panic!("all 254 namespace indexes are taken");
}

fn namespace_pids(ns: &str) -> Vec<u32> {
    let out = run_cmd(&["ip", "netns", "pids", ns]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// SIGKILLs every process in `ns` until none is left (new ones may be
/// forked while the first are killed).
fn kill_namespace_pids(ns: &str) {
    wait_until(
        &format!("namespace {ns} to empty"),
        Duration::from_secs(5),
        || {
            let pids = namespace_pids(ns);
            for pid in &pids {
                kill(*pid);
            }
            pids.is_empty()
        },
    );
}

/// Empties and deletes namespace `ns`, if it exists.
fn remove_namespace(ns: &str) {
    let list = run_cmd(&["ip", "netns", "list"]);
    let exists = String::from_utf8_lossy(&list.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some(ns));
    if !exists {
        return;
    }
    kill_namespace_pids(ns);
    let _ = run_cmd(&["ip", "netns", "del", ns]);
}
