//! The specs of the daemon's sessions, kept on disk so a restarted daemon
//! can continue the sessions its predecessor left unfinished.
//!
//! One file per session, `<logs_dir>/specs/<id>.json`, in the protocol's
//! `SpawnSpec` shape, written before the session starts (temp file, fsync,
//! rename). Env values are part of a spec and may be secrets: the directory
//! is 0700 and the files 0600, and nothing of them reaches the event log.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use baton_config::SessionSpec;
use baton_proto::SpawnSpec;

fn dir(logs_dir: &Path) -> PathBuf {
    logs_dir.join("specs")
}

fn path(logs_dir: &Path, id: &str) -> PathBuf {
    dir(logs_dir).join(format!("{id}.json"))
}

/// Saves `spec` durably. Ids are validated by the config crate (no `/`,
/// no `..`), so the path stays inside the specs directory.
pub fn save(logs_dir: &Path, spec: &SessionSpec) -> Result<(), String> {
    let dir = dir(logs_dir);
    let fail = |what: &str, e: std::io::Error| format!("{what} {}: {e}", dir.display());
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| fail("cannot create", e))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| fail("cannot restrict", e))?;
    let text = serde_json::to_vec_pretty(&SpawnSpec::from(spec.clone()))
        .map_err(|e| format!("cannot encode the spec of {}: {e}", spec.id))?;
    let target = path(logs_dir, spec.id.as_str());
    let write = || -> std::io::Result<()> {
        baton_core::proc::write_private(&target, &text)?;
        std::fs::File::open(&dir)?.sync_all()
    };
    write().map_err(|e| format!("cannot save {}: {e}", target.display()))
}

/// Loads the spec of session `id` (one a daemon before protocol 1.3 saved
/// too).
pub fn load(logs_dir: &Path, id: &str) -> Result<SessionSpec, String> {
    let target = path(logs_dir, id);
    let text = std::fs::read(&target).map_err(|e| format!("{}: {e}", target.display()))?;
    let value: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| format!("{}: not a session spec: {e}", target.display()))?;
    let spec: SpawnSpec = serde_json::from_value(from_before_1_3(value))
        .map_err(|e| format!("{}: not a session spec: {e}", target.display()))?;
    SessionSpec::try_from(spec).map_err(|e| format!("{}: {e}", target.display()))
}

/// A spec as daemons before protocol 1.3 saved it, as a session table:
/// durations were whole milliseconds (`stall_after_ms`), every field was
/// written (`null`, `[]`, an empty id), `mcp_servers` even for agents that
/// may not have any. A spec in today's form passes unchanged.
fn from_before_1_3(value: serde_json::Value) -> serde_json::Value {
    let serde_json::Value::Object(mut map) = value else {
        return value;
    };
    for (old, new) in [
        ("stall_after_ms", "stall_after"),
        ("startup_timeout_ms", "startup_timeout"),
    ] {
        if let Some(ms) = map.remove(old).and_then(|ms| ms.as_u64()) {
            map.insert(new.to_owned(), format!("{ms}ms").into());
        }
    }
    map.retain(|_, v| match v {
        serde_json::Value::Null => false,
        serde_json::Value::Array(items) => !items.is_empty(),
        serde_json::Value::String(s) => !s.is_empty(),
        _ => true,
    });
    serde_json::Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_saved_spec_loads_back_equal_and_private() {
        let tmp = tempfile::tempdir().unwrap();
        let text = r#"
[[session]]
id = "w1"
command = ["echo", "it's $(here)"]
env = { TOKEN = "s3cret" }
capabilities = ["review"]
"#;
        let manifest =
            baton_config::Manifest::parse(text, Some(Path::new("baton.toml")), tmp.path()).unwrap();
        let spec = manifest.sessions[0].clone();
        save(tmp.path(), &spec).unwrap();
        assert_eq!(load(tmp.path(), "w1").unwrap(), spec);
        let file = std::fs::metadata(path(tmp.path(), "w1")).unwrap();
        assert_eq!(file.mode() & 0o777, 0o600);
        let dir = std::fs::metadata(dir(tmp.path())).unwrap();
        assert_eq!(dir.mode() & 0o777, 0o700);
        assert!(load(tmp.path(), "missing").is_err());
    }

    /// A daemon upgraded while it had sessions continues them from the
    /// specs the older one saved.
    #[test]
    fn a_spec_saved_before_protocol_1_3_still_loads() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir(tmp.path())).unwrap();
        std::fs::write(
            path(tmp.path(), "old"),
            r#"{"id":"old","agent":"command","prompt":null,"command":["sleep","5"],
               "workdir":"/tmp","env":{"K":"v"},"model":null,"profile":null,
               "mcp_servers":[],"branch_guard":false,"stdin":null,"backend":"pty",
               "answers":[{"pattern":"go on","reply":"y","rule":null}],"capabilities":[],
               "max_restarts":2,"stall_after_ms":90000,"startup_timeout_ms":1500,
               "on_stall":"restart","host":null}"#,
        )
        .unwrap();
        let spec = load(tmp.path(), "old").unwrap();
        assert_eq!(spec.command, Some(vec!["sleep".into(), "5".into()]));
        assert_eq!(spec.backend, baton_config::Backend::Pty);
        assert_eq!(spec.stall_after, Some(std::time::Duration::from_secs(90)));
        assert_eq!(
            spec.startup_timeout,
            Some(std::time::Duration::from_millis(1500))
        );
        assert_eq!(spec.answers[0].reply, "y");
        assert_eq!(spec.max_restarts, Some(2));
    }
}
