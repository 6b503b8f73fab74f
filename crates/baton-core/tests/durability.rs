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

/// A small limit for the event log's segments (the manifest's least is
/// 64 KiB; the writer takes any).
fn rolling(max_size: u64, keep: Option<u32>) -> baton_core::seglog::Limits {
    baton_core::seglog::Limits { max_size, keep }
}

fn ended(session: &str, log: &EventLog) {
    log.append(
        Some(session),
        Event::State {
            from: Healthy,
            to: Completed,
            reason: "exit_0".into(),
            restarts: 0,
            delay_ms: None,
            evidence: None,
        },
    );
}

/// Issue 13: the event log rolls over between records into segments named
/// by their first `seq`, each with a header saying so; read back, the
/// records are whole, dense and in order, and a reopened log goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_log_rolls_over_between_records_and_reads_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let log = EventLog::open_with(&path, FsyncPolicy::Off, rolling(8 * 1024, None)).unwrap();
    for i in 0..3000 {
        log.append(Some("s"), Event::BudgetReset { restarts: i });
        if i % 7 == 0 {
            // Batches of several records too.
            log.barrier(false).await.unwrap();
        }
    }
    log.close().await.unwrap();
    let segments = baton_core::seglog::segments(&path).unwrap();
    assert!(segments.len() > 20, "{} segments", segments.len());
    for segment in &segments {
        let bytes = std::fs::read(&segment.path).unwrap();
        let part = baton_core::eventlog::parse_log(&bytes, &segment.path).unwrap();
        let header = part.header.expect("every segment has a header");
        // The first segment was `events.jsonl` itself: it starts at 1.
        assert_eq!(header.first_seq.unwrap_or(1), segment.start);
        assert!(!part.torn_tail && part.skipped_lines.is_empty());
        assert_eq!(part.records.first().map(|r| r.seq), Some(segment.start));
    }
    let all = baton_core::eventlog::read_log(&path).unwrap();
    let seqs: Vec<u64> = all.records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=3000).collect::<Vec<u64>>());
    assert_eq!(all.deleted_before, None);
    // From a late seq, only the segments that hold what follows are read.
    let late = baton_core::eventlog::read_log_since(&path, 2990).unwrap();
    let first = late.records.first().unwrap().seq;
    assert!(first > 1 && first <= 2991, "read from {first}");
    assert_eq!(late.records.last().unwrap().seq, 3000);

    let log = EventLog::open_with(&path, FsyncPolicy::Off, rolling(8 * 1024, None)).unwrap();
    assert_eq!(log.last_seq(), 3000);
    log.append(None, Event::BudgetReset { restarts: 0 });
    log.close().await.unwrap();
    let all = baton_core::eventlog::read_log(&path).unwrap();
    assert_eq!(all.records.last().unwrap().seq, 3001);
}

/// Issue 13: each state a conductor that died mid-roll-over can leave is
/// repaired by the next open, and the sequence goes on without a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_log_left_mid_roll_over_is_repaired_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let log = EventLog::open(&path, FsyncPolicy::Off).unwrap();
    for i in 0..10 {
        log.append(None, Event::BudgetReset { restarts: i });
    }
    log.close().await.unwrap();
    // Died after the first roll-over's rename: no events.jsonl.
    std::fs::rename(&path, baton_core::seglog::segment_path(&path, 1)).unwrap();
    let log = EventLog::open_with(&path, FsyncPolicy::Off, rolling(1 << 20, None)).unwrap();
    assert_eq!(log.last_seq(), 10);
    log.append(None, Event::BudgetReset { restarts: 10 });
    log.close().await.unwrap();
    assert_eq!(
        std::fs::read_link(&path).unwrap(),
        std::path::Path::new("events.jsonl.11")
    );
    // Died after making the next segment, before its header and its link.
    std::fs::write(baton_core::seglog::segment_path(&path, 12), b"").unwrap();
    let log = EventLog::open_with(&path, FsyncPolicy::Off, rolling(1 << 20, None)).unwrap();
    assert_eq!(log.last_seq(), 11);
    log.append(None, Event::BudgetReset { restarts: 11 });
    log.close().await.unwrap();
    assert_eq!(
        std::fs::read_link(&path).unwrap(),
        std::path::Path::new("events.jsonl.12")
    );
    let seqs: Vec<u64> = baton_core::eventlog::read_log(&path)
        .unwrap()
        .records
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(seqs, (1..=12).collect::<Vec<u64>>());
}

/// Issue 13: retention deletes the oldest segments past `keep`, but never
/// one holding a record of a session that has not ended; readers learn
/// which records are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_log_retention_keeps_every_record_of_a_session_still_going() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let limits = rolling(4 * 1024, Some(2));
    let log = EventLog::open_with(&path, FsyncPolicy::Off, limits).unwrap();
    log.append(Some("long"), Event::BudgetReset { restarts: 0 });
    for i in 0..1000 {
        log.append(Some("short"), Event::BudgetReset { restarts: i });
        log.barrier(false).await.unwrap();
    }
    log.close().await.unwrap();
    // `long` has not ended: nothing from its first record on is deleted.
    let kept = baton_core::eventlog::read_log(&path).unwrap();
    assert_eq!(kept.deleted_before, None);
    assert_eq!(kept.records.len(), 1001);
    let log = EventLog::open_with(&path, FsyncPolicy::Off, limits).unwrap();
    ended("long", &log);
    ended("short", &log);
    for i in 0..300 {
        log.append(None, Event::BudgetReset { restarts: i });
        log.barrier(false).await.unwrap();
    }
    log.close().await.unwrap();
    let segments = baton_core::seglog::segments(&path).unwrap();
    assert_eq!(segments.len(), 3, "two finished and the active one");
    let kept = baton_core::eventlog::read_log(&path).unwrap();
    let first = kept.deleted_before.expect("the oldest were deleted");
    assert_eq!(kept.records.first().unwrap().seq, first);
    assert_eq!(kept.records.last().unwrap().seq, 1303);
}
