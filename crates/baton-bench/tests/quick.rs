//! Runs the built `baton-bench --quick --only throughput` end to end.
//!
//! Needs the `stand-in-agent` binary of the same profile next to the bench:
//! build it first with `cargo build -p stand-in-agent` (or
//! `cargo build --workspace`; add `--release` for release tests). The
//! dev-dependency alone does not make cargo build another package's binary.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(600);

#[test]
fn quick_throughput_verifies_every_byte() {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_baton-bench"));
    let stand_in = bench.with_file_name("stand-in-agent");
    assert!(
        stand_in.is_file(),
        "{} is missing: this test drives the stand-in agent binary, which `cargo test -p \
         baton-bench` does not build; run `cargo build -p stand-in-agent` with the same \
         profile first",
        stand_in.display()
    );
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(&bench)
        .args(["--quick", "--only", "throughput", "--stand-in"])
        .arg(&stand_in)
        .arg("--dir")
        .arg(scratch.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start baton-bench");
    let started = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("baton-bench --quick --only throughput took longer than {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("collect output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "baton-bench failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let checksum = stdout
        .lines()
        .find(|l| l.starts_with("throughput checksum:"))
        .unwrap_or_else(|| panic!("no checksum line in:\n{stdout}"));
    assert!(
        checksum.starts_with(
            "throughput checksum: verified: 3/3 baton runs wrote exactly 67108864 bytes"
        ),
        "{checksum}"
    );
    assert!(stdout.contains("output MB/s, best of 3"), "{stdout}");
    let leftovers: Vec<_> = std::fs::read_dir(scratch.path())
        .expect("read scratch")
        .collect();
    assert!(
        leftovers.is_empty(),
        "scratch files left behind: {leftovers:?}"
    );
}
