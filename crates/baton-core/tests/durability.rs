//! Every byte and every event reaches the disk: checksums, offsets, the
//! torn-line repair, sequence numbers across conductor restarts.

mod common;

use std::io::Write;
use std::time::Duration;

use baton_config::FsyncPolicy;
use baton_core::SessionState::*;
use baton_core::eventlog::{Event, EventLog, read_log};
use common::*;
use sha2::{Digest, Sha256};

fn flood(size: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(size as usize);
    for chunk in stand_in_agent::flood_bytes(size) {
        v.extend_from_slice(chunk);
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_output_byte_reaches_disk_across_restarts() {
    flood_across_restarts(None).await;
}

/// Issue 13: the same with the logs rolling over every 64 KiB and only the
/// newest 40 finished segments kept: the kept part of each log is the
/// flood's end, byte for byte, and old segments are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_log_keeps_every_byte_of_what_retention_keeps() {
    flood_across_restarts(Some(40)).await;
}

async fn flood_across_restarts(keep: Option<u32>) {
    let h = Harness::new(|o| {
        o.conductor.max_restarts = 3;
        if keep.is_some() {
            o.conductor.max_log_size = 64 * 1024;
            o.conductor.keep_segments = keep;
        }
    });
    let size = 5 * 1024 * 1024 + 17;
    let step = format!("flood:{size}");
    let estep = "eflood:300001".to_string();
    h.spawn(script("flood", &[&step, &estep, "fail-before-attempt:3"]))
        .await;
    assert_eq!(h.wait_terminal("flood").await, Completed);
    let expected = flood(size);
    let path = h.logs().join("flood.out.log");
    if let Some(keep) = keep {
        // Retention: the kept tail of the third run is its flood's end.
        let kept = baton_core::seglog::read_from(&path, 0, u64::MAX).unwrap();
        let segments = baton_core::seglog::segments(&path).unwrap();
        assert_eq!(
            segments.len(),
            keep as usize + 1,
            "kept, and the active one"
        );
        assert_eq!(
            baton_core::seglog::global_len(&path).unwrap(),
            3 * size,
            "offsets count every byte ever written"
        );
        assert!(kept.len() as u64 > 64 * 1024 * u64::from(keep));
        assert_eq!(
            Sha256::digest(&kept),
            Sha256::digest(&expected[expected.len() - kept.len()..]),
        );
        h.finish().await;
        return;
    }
    let out = h.out_log("flood");
    assert_eq!(out.len(), 3 * size as usize, "three runs of output");
    let offsets: Vec<(u64, u64)> = h
        .session_records("flood")
        .into_iter()
        .filter_map(|r| match r.event {
            Event::Spawn {
                out_offset,
                err_offset,
                ..
            } => Some((out_offset, err_offset)),
            _ => None,
        })
        .collect();
    assert_eq!(offsets.len(), 3);
    for (i, (out_off, err_off)) in offsets.iter().enumerate() {
        assert_eq!(
            *out_off,
            i as u64 * size,
            "run {i} starts where the last ended"
        );
        let run = &out[*out_off as usize..*out_off as usize + size as usize];
        assert_eq!(
            Sha256::digest(run),
            Sha256::digest(&expected),
            "run {i} checksum"
        );
        assert!(*err_off >= i as u64 * 300001);
    }
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seq_continues_across_conductor_restarts_and_a_torn_line_is_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let opts = fast_options(dir.path());
    let events = dir.path().join("logs/events.jsonl");

    let h = Harness::with_options(tempfile::tempdir().unwrap(), opts.clone());
    h.spawn(script("one", &["print:x"])).await;
    h.wait_terminal("one").await;
    let first = h.finish().await;
    let last_seq = first.last().unwrap().seq;

    // A crash in the middle of a write leaves half a line.
    std::fs::create_dir_all(events.parent().unwrap()).unwrap();
    write_log(&events, &first);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&events)
        .unwrap();
    f.write_all(br#"{"seq":999,"ts":"2026-01-01T00:00:00Z","event":"sta"#)
        .unwrap();
    drop(f);
    let torn = read_log(&events).unwrap();
    assert!(torn.torn_tail);
    assert_eq!(torn.records.len(), first.len());

    let h2 = Harness::with_options(tempfile::tempdir().unwrap(), opts);
    h2.spawn(script("two", &["print:y"])).await;
    h2.wait_terminal("two").await;
    let all = h2.finish().await;
    assert_eq!(
        all[first.len()].seq,
        last_seq + 1,
        "seq continues, torn line dropped"
    );
    let header_lines = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .filter(|l| l.contains(r#""format":"baton-events""#))
        .count();
    assert_eq!(header_lines, 1);
}

/// Rewrites a log file from records (used to stage a crash scenario).
fn write_log(path: &std::path::Path, records: &[baton_core::eventlog::Record]) {
    let mut text = String::from(
        r#"{"format":"baton-events","version":"1.0","created":"2026-01-01T00:00:00.000000Z"}"#,
    );
    text.push('\n');
    for r in records {
        text.push_str(&serde_json::to_string(r).unwrap());
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_with_a_gap_or_a_newer_major_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    std::fs::write(
        &path,
        concat!(
            r#"{"format":"baton-events","version":"1.0","created":"t"}"#,
            "\n",
            r#"{"seq":1,"ts":"t","event":"shutdown","reason":"x","sessions":0}"#,
            "\n",
            r#"{"seq":3,"ts":"t","event":"shutdown","reason":"x","sessions":0}"#,
            "\n",
        ),
    )
    .unwrap();
    let err = EventLog::open(&path, FsyncPolicy::Off).expect_err("gap");
    assert!(err.to_string().contains("line 3"), "{err}");
    std::fs::write(
        &path,
        concat!(
            r#"{"format":"baton-events","version":"2.0","created":"t"}"#,
            "\n"
        ),
    )
    .unwrap();
    let err = EventLog::open(&path, FsyncPolicy::Off).expect_err("newer");
    assert!(err.to_string().contains("2.0"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_on_disk_before_subscribers_see_them() {
    for fsync in [FsyncPolicy::Always, FsyncPolicy::Batch, FsyncPolicy::Off] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let log = EventLog::open(&path, fsync).unwrap();
        let mut rx = log.subscribe();
        for i in 0..200 {
            log.append(Some("s"), Event::BudgetReset { restarts: i });
        }
        for _ in 0..200 {
            let ev = tokio::time::timeout(DEADLINE, rx.recv())
                .await
                .unwrap()
                .unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.contains(&ev.line),
                "{fsync:?}: published before written"
            );
        }
        log.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_detection_lands_right_after_the_threshold() {
    let stall = Duration::from_millis(250);
    let h = Harness::new(|o| o.probe.stall_after = stall);
    h.spawn(script("st", &["print:x", "stamp", "stall"])).await;
    let rec = h.wait_state("st", Stalled).await;
    let now = stand_in_agent::monotonic_ns();
    let out = String::from_utf8(h.out_log("st")).unwrap();
    let stamp: u128 = out
        .lines()
        .find_map(|l| l.strip_prefix("stamp "))
        .unwrap()
        .parse()
        .unwrap();
    // Behaviour, not a benchmark: never before the threshold.
    assert!(now - stamp >= stall.as_nanos(), "stalled too early");
    assert!(matches!(rec.event, Event::State { .. }));
    h.conductor.kill(&id("st")).await.unwrap();
    h.finish().await;
}
