//! The specs of the daemon's sessions, kept on disk so a restarted daemon
//! can continue the sessions its predecessor left unfinished.
//!
//! One file per session, `<logs_dir>/specs/<id>.json`, in the protocol's
//! `SpawnSpec` shape, written before the session starts (temp file, fsync,
//! rename). Env values are part of a spec and may be secrets: the directory
//! is 0700 and the files 0600, and nothing of them reaches the event log.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
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
    let tmp = target.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(&text)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &target)?;
        std::fs::File::open(&dir)?.sync_all()
    };
    write().map_err(|e| format!("cannot save {}: {e}", target.display()))
}

/// Loads the spec of session `id`.
pub fn load(logs_dir: &Path, id: &str) -> Result<SessionSpec, String> {
    let target = path(logs_dir, id);
    let text = std::fs::read(&target).map_err(|e| format!("{}: {e}", target.display()))?;
    let spec: SpawnSpec = serde_json::from_slice(&text)
        .map_err(|e| format!("{}: not a session spec: {e}", target.display()))?;
    SessionSpec::try_from(spec).map_err(|e| format!("{}: {e}", target.display()))
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
}
