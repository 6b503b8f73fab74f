//! Stdio for the MCP server, with one thing rmcp leaves out: a line that is
//! not JSON at all gets the JSON-RPC parse error (-32700) the spec asks
//! for, and the server goes on. rmcp drops such lines silently (well-formed
//! JSON that is not a JSON-RPC message it answers itself, with -32600).
//!
//! Stdout is the protocol: everything written to it goes through one task,
//! which writes whole lines only, so an error line never lands inside one of
//! rmcp's messages.

use std::io;

use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The longest request line read; a longer one is answered with a parse
/// error and skipped.
const MAX_LINE: usize = 16 * 1024 * 1024;

/// Pipe size between the guard and rmcp.
const PIPE: usize = 256 * 1024;

/// The tasks between stdin/stdout and rmcp. Await [`Tasks::finish`] once
/// the server has stopped, so that its last words reach the output.
pub struct Tasks {
    reader: JoinHandle<()>,
    writer: JoinHandle<io::Result<()>>,
}

impl Tasks {
    /// Waits for everything rmcp wrote to be on the output.
    pub async fn finish(self) -> io::Result<()> {
        self.reader.abort();
        match self.writer.await {
            Ok(result) => result,
            Err(e) => Err(io::Error::other(e)),
        }
    }
}

/// Puts the guard between `input`/`output` (stdin/stdout) and rmcp:
/// returns what rmcp reads (the JSON lines of `input`), what it writes
/// (passed on to `output`), and the tasks doing it.
pub fn guard<R, W>(input: R, output: W) -> (DuplexStream, DuplexStream, Tasks)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (rx, feed) = tokio::io::duplex(PIPE);
    let (drain, tx) = tokio::io::duplex(PIPE);
    let (errors, error_lines) = mpsc::unbounded_channel();
    let reader = tokio::spawn(read_requests(BufReader::new(input), feed, errors));
    let writer = tokio::spawn(write_lines(drain, error_lines, output));
    (rx, tx, Tasks { reader, writer })
}

/// One line read from the client.
enum Line {
    /// A whole line (or the last bytes before end of input) is in the buffer.
    Full,
    /// The line was longer than [`MAX_LINE`]; it was skipped.
    Oversized,
    /// End of input.
    Eof,
}

async fn read_line(r: &mut (impl AsyncBufReadExt + Unpin), buf: &mut Vec<u8>) -> io::Result<Line> {
    buf.clear();
    let mut oversized = false;
    loop {
        let available = r.fill_buf().await?;
        if available.is_empty() {
            return Ok(match (oversized, buf.is_empty()) {
                (true, _) => Line::Oversized,
                (false, true) => Line::Eof,
                (false, false) => Line::Full,
            });
        }
        let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let used = chunk.len();
        if !oversized {
            if buf.len() + used > MAX_LINE {
                oversized = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        r.consume(used);
        if done {
            return Ok(if oversized {
                Line::Oversized
            } else {
                Line::Full
            });
        }
    }
}

/// Passes every line that is JSON (or blank) on to rmcp, and has each one
/// that is not answered with a parse error. Ends at end of input, which
/// closes rmcp's input, which stops the server.
async fn read_requests(
    mut input: BufReader<impl AsyncRead + Unpin>,
    mut feed: DuplexStream,
    errors: mpsc::UnboundedSender<Vec<u8>>,
) {
    let mut line = Vec::new();
    loop {
        let judged = match read_line(&mut input, &mut line).await {
            Ok(Line::Eof) | Err(_) => break,
            Ok(Line::Oversized) => Err(format!("request line longer than {MAX_LINE} bytes")),
            Ok(Line::Full) => {
                let text = line.trim_ascii();
                match serde_json::from_slice::<serde::de::IgnoredAny>(text) {
                    Ok(_) => Ok(()),
                    Err(_) if text.is_empty() => Ok(()),
                    Err(e) => Err(format!("not JSON: {e}")),
                }
            }
        };
        match judged {
            Ok(()) => {
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                if feed.write_all(&line).await.is_err() {
                    break;
                }
            }
            Err(why) => {
                tracing::warn!("answering a malformed request line with a parse error: {why}");
                let _ = errors.send(parse_error(&why));
            }
        }
    }
    let _ = feed.shutdown().await;
}

/// The JSON-RPC 2.0 parse error, with a null id (none could be read).
fn parse_error(why: &str) -> Vec<u8> {
    let mut line = serde_json::to_vec(&serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": -32700, "message": format!("Parse error: {why}")},
    }))
    .unwrap_or_default();
    line.push(b'\n');
    line
}

/// Copies rmcp's output to `output` line by line, putting error lines
/// between them. Ends when rmcp's output ends (after its last line).
async fn write_lines(
    mut drain: DuplexStream,
    mut errors: mpsc::UnboundedReceiver<Vec<u8>>,
    mut output: impl AsyncWrite + Unpin,
) -> io::Result<()> {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut errors_open = true;
    loop {
        tokio::select! {
            read = drain.read(&mut buf) => {
                let n = read?;
                if n == 0 {
                    if !pending.is_empty() {
                        output.write_all(&pending).await?;
                    }
                    // Every error was queued before rmcp's input ended,
                    // and so before its output did.
                    while let Ok(line) = errors.try_recv() {
                        output.write_all(&line).await?;
                    }
                    break;
                }
                pending.extend_from_slice(&buf[..n]);
                if let Some(end) = pending.iter().rposition(|b| *b == b'\n') {
                    output.write_all(&pending[..=end]).await?;
                    output.flush().await?;
                    pending.drain(..=end);
                }
            }
            line = errors.recv(), if errors_open && pending.is_empty() => match line {
                Some(line) => {
                    output.write_all(&line).await?;
                    output.flush().await?;
                }
                None => errors_open = false,
            },
        }
    }
    output.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` through the guard with an echo in rmcp's place.
    async fn through_guard(input: &'static [u8]) -> String {
        let (output, mut client_out) = tokio::io::duplex(1 << 16);
        let (mut rx, mut tx, tasks) = guard(input, output);
        let mut seen = Vec::new();
        rx.read_to_end(&mut seen).await.unwrap();
        tx.write_all(&seen).await.unwrap();
        drop(tx);
        tasks.finish().await.unwrap();
        let mut out = String::new();
        client_out.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn json_lines_pass_and_garbage_gets_a_parse_error() {
        let out = through_guard(b"{\"a\":1}\nnot json\n\n[1,2]\n{\"torn\":\n{\"last\":true}").await;
        let lines: Vec<&str> = out.lines().collect();
        let passed: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| !l.contains("-32700"))
            .collect();
        assert_eq!(passed, ["{\"a\":1}", "", "[1,2]", "{\"last\":true}"]);
        let errors: Vec<serde_json::Value> = lines
            .iter()
            .filter(|l| l.contains("-32700"))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(errors.len(), 2, "{out}");
        for e in errors {
            assert_eq!(e["jsonrpc"], "2.0");
            assert_eq!(e["id"], serde_json::Value::Null);
            assert_eq!(e["error"]["code"], -32700);
        }
    }
}
