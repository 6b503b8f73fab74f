//! `stand-in-provider`: serves [`stand_in_agent::provider`] on a loopback
//! port until killed, and prints its base URL as its first line, for the
//! capture scripts and for a person trying a real CLI offline:
//!
//! ```text
//! $ stand-in-provider &
//! http://127.0.0.1:41234
//! $ ANTHROPIC_BASE_URL=http://127.0.0.1:41234 ANTHROPIC_API_KEY=sk-ant-none claude -p 'say: hi'
//! ```

use std::io::Write;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let provider = stand_in_agent::provider::Provider::start().await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", provider.url())?;
    out.flush()?;
    drop(out);
    std::future::pending::<()>().await;
    Ok(())
}
