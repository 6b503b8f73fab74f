//! A run's environment handed over in a file only its user can read, never
//! on a command line (where every user on the host sees it in
//! `/proc/*/cmdline` while tmux or ssh runs).
//!
//! Local (tmux panes): `K=V` records ended by NUL, written 0600 by the
//! conductor and read — then deleted — by `baton-shim --env-file` before it
//! starts the agent. Remote (a host's pane): `export K='V'` lines that the
//! pane's shell sources and deletes; keys must then be shell variable names.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Writes `env` to `path` as NUL-ended `K=V` records, mode 0600 (also when
/// the file was there before).
pub fn write_env_file(path: &Path, env: &[(String, String)]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    let mut bytes = Vec::new();
    for (k, v) in env {
        bytes.extend_from_slice(k.as_bytes());
        bytes.push(b'=');
        bytes.extend_from_slice(v.as_bytes());
        bytes.push(0);
    }
    file.write_all(&bytes)?;
    file.sync_all()
}

/// One variable as bytes: its name and its value.
pub type EnvPair = (Vec<u8>, Vec<u8>);

/// Reads what [`write_env_file`] wrote: the `(K, V)` pairs, in order.
pub fn parse_env_file(bytes: &[u8]) -> Result<Vec<EnvPair>, String> {
    let mut pairs = Vec::new();
    for record in bytes.split(|b| *b == 0) {
        if record.is_empty() {
            continue;
        }
        let eq = record
            .iter()
            .position(|b| *b == b'=')
            .filter(|at| *at > 0)
            .ok_or_else(|| "an env file record is not KEY=VALUE".to_owned())?;
        pairs.push((record[..eq].to_vec(), record[eq + 1..].to_vec()));
    }
    Ok(pairs)
}

/// `env` as `export K='V'` lines for a remote shell to source; refuses a
/// key that is not a shell variable name (it would be read as code).
pub fn export_lines(env: &[(String, String)]) -> Result<String, String> {
    let mut text = String::new();
    for (k, v) in env {
        if !baton_config::is_shell_name(k) {
            return Err(format!(
                "env key `{}` is not a shell variable name ([A-Za-z_][A-Za-z0-9_]*), which a \
                 remote session's environment must be",
                k.escape_debug()
            ));
        }
        text.push_str(&format!("export {k}={}\n", super::ssh::quote_word(v)));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_env_file_round_trips_any_value_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w1.env");
        std::fs::write(&path, "old").unwrap();
        let env = vec![
            (
                "TOKEN".to_owned(),
                "s3cr=t\nwith lines and 'quotes'".to_owned(),
            ),
            ("EMPTY".to_owned(), String::new()),
        ];
        write_env_file(&path, &env).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back = parse_env_file(&std::fs::read(&path).unwrap()).unwrap();
        let back: Vec<(String, String)> = back
            .into_iter()
            .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
            .collect();
        assert_eq!(back, env);
        assert!(parse_env_file(b"=x\0").is_err());
    }

    #[test]
    fn export_lines_quote_values_and_refuse_keys_that_are_code() {
        let lines = export_lines(&[("A_1".into(), "it's $(rm -rf ~)".into())]).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{lines}printf %s \"$A_1\""))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's $(rm -rf ~)");
        for bad in ["$(id)", "A-B", "1A", "", "A B"] {
            assert!(export_lines(&[(bad.into(), "v".into())]).is_err(), "{bad}");
        }
    }
}
