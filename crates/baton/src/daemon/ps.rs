//! `ps`: the session table, optionally only the live sessions with a capability.

use baton_proto::request::Ps;
use baton_proto::{ProtoError, length_prefix};

use super::Daemon;
use super::connection::{Peer, conductor_error, too_large};

/// Answers `ps` with the `sessions` frame spliced around the table's JSON
/// as the conductor keeps it, not decoded and encoded again: with a
/// thousand sessions that is most of the request's cost.
pub async fn answer(daemon: &Daemon, req: Ps, peer: &mut Peer) -> Result<(), ProtoError> {
    // Read before the table: every record up to it is reflected there.
    let seq = Some(daemon.conductor.last_seq()).filter(|seq| *seq > 0);
    let table = match daemon.conductor.table_json(req.capability.as_deref()).await {
        Ok(table) => table,
        Err(e) => return peer.send(&conductor_error(e)).await,
    };
    // Read after the table, whose records were all written before it was
    // answered: none after this one is reflected there.
    let seq_end = Some(daemon.conductor.last_seq()).filter(|seq| *seq > 0);
    match Framed::around(&table, seq, seq_end) {
        Ok(frame) => {
            peer.send_parts(&[&frame.head, &table, frame.tail.as_bytes()])
                .await
        }
        // Nothing was written: the client can still be told why.
        Err(e) => peer.send(&too_large(&e)).await,
    }
}

/// What goes around a table (a JSON array of rows) to make it the frame
/// of a `sessions` reply: the frame [`baton_proto::encode_frame`] makes of
/// the typed reply, without copying the table into it.
struct Framed {
    /// The length prefix and the reply up to the table.
    head: Vec<u8>,
    /// The rest of the reply after the table.
    tail: String,
}

impl Framed {
    fn around(table: &[u8], seq: Option<u64>, seq_end: Option<u64>) -> Result<Framed, ProtoError> {
        const HEAD: &[u8] = br#"{"reply":"sessions","sessions":"#;
        let number = |n: Option<u64>| n.map_or_else(|| "null".to_owned(), |n| n.to_string());
        let tail = format!(r#","seq":{},"seq_end":{}}}"#, number(seq), number(seq_end));
        let prefix = length_prefix(HEAD.len() + table.len() + tail.len())?;
        let head = [&prefix[..], HEAD].concat();
        Ok(Framed { head, tail })
    }
}

#[cfg(test)]
mod tests {
    use baton_proto::response::Sessions;
    use baton_proto::{MAX_FRAME, Response, SessionRow, SessionState, encode_frame};

    use super::*;

    /// A row whose last line holds quotes and the age's own key.
    fn row(id: &str) -> SessionRow {
        let mut row = crate::tui::model::tests::row(id, SessionState::Healthy);
        row.last_line = Some("a \"quoted\" line ,\"age_ms\":0,".into());
        row
    }

    #[test]
    fn a_spliced_sessions_frame_is_the_encoded_reply() {
        for rows in [vec![], vec![row("a")], vec![row("a"), row("b")]] {
            for (seq, seq_end) in [(None, None), (Some(3), Some(9))] {
                let table = serde_json::to_vec(&rows).unwrap();
                let typed = Response::Sessions(Sessions {
                    sessions: rows.clone(),
                    seq,
                    seq_end,
                });
                let framed = Framed::around(&table, seq, seq_end).unwrap();
                let frame = [&framed.head, &table, framed.tail.as_bytes()].concat();
                assert_eq!(frame, encode_frame(&typed).unwrap());
            }
        }
    }

    #[test]
    fn a_table_too_large_for_a_frame_is_refused_before_anything_is_sent() {
        let table = vec![b' '; MAX_FRAME];
        assert!(matches!(
            Framed::around(&table, None, None),
            Err(ProtoError::FrameTooLarge { .. })
        ));
    }
}
