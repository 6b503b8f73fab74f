//! The directory the control socket lives in: ours alone, or not used.
//!
//! The socket is the daemon's whole API (spawn any command, read any
//! output), so it must sit in a directory only our uid can enter. A
//! directory someone else owns, or one group or others can reach, is
//! refused rather than repaired: it was set up that way by someone, and
//! silently changing it could break them.

use std::fs::{DirBuilder, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

/// What is wrong with an existing socket directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsafe {
    /// Owned by another uid.
    Owner {
        /// Its owner.
        uid: u32,
    },
    /// Group or others have some access.
    Mode {
        /// Its permission bits.
        mode: u32,
    },
}

/// Judges an existing directory's owner and mode for a daemon running as `euid`.
pub fn judge(owner: u32, mode: u32, euid: u32) -> Result<(), Unsafe> {
    if owner != euid {
        return Err(Unsafe::Owner { uid: owner });
    }
    if mode & 0o077 != 0 {
        return Err(Unsafe::Mode {
            mode: mode & 0o7777,
        });
    }
    Ok(())
}

/// Creates `dir` (and missing parents) with mode 0700, or checks that the
/// existing one belongs to `euid` and is closed to group and others.
pub fn prepare(dir: &Path, euid: u32) -> Result<(), String> {
    let shown = dir.display();
    match std::fs::metadata(dir) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| format!("cannot create socket directory {shown}: {e}"))?;
            // The umask may have taken bits away; it cannot have added any,
            // but set the mode exactly so the check below is about us.
            std::fs::set_permissions(dir, Permissions::from_mode(0o700))
                .map_err(|e| format!("cannot set mode 0700 on {shown}: {e}"))?;
        }
        Err(e) => return Err(format!("socket directory {shown}: {e}")),
    }
    let meta = std::fs::metadata(dir).map_err(|e| format!("socket directory {shown}: {e}"))?;
    if !meta.is_dir() {
        return Err(format!(
            "{shown} is not a directory; choose another --socket"
        ));
    }
    match judge(meta.uid(), meta.mode(), euid) {
        Ok(()) => Ok(()),
        Err(Unsafe::Owner { uid }) => Err(format!(
            "socket directory {shown} belongs to uid {uid}, not to this daemon's uid {euid}; \
             refusing to put the control socket there (choose another --socket)"
        )),
        Err(Unsafe::Mode { mode }) => Err(format!(
            "socket directory {shown} has mode {mode:04o}, so other users could reach the \
             control socket; run `chmod 700 {shown}` or choose another --socket"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_private_directories_pass() {
        let cases = [
            (1000, 0o40700, 1000, Ok(())),
            (1000, 0o700, 1000, Ok(())),
            (0, 0o700, 1000, Err(Unsafe::Owner { uid: 0 })),
            (1000, 0o40750, 1000, Err(Unsafe::Mode { mode: 0o750 })),
            (1000, 0o701, 1000, Err(Unsafe::Mode { mode: 0o701 })),
            (1000, 0o1777, 1000, Err(Unsafe::Mode { mode: 0o1777 })),
        ];
        for (owner, mode, euid, want) in cases {
            assert_eq!(judge(owner, mode, euid), want, "{owner} {mode:o} {euid}");
        }
    }

    #[test]
    fn creates_a_private_directory_and_refuses_an_open_one() {
        let tmp = tempfile::tempdir().unwrap();
        let euid = rustix::process::geteuid().as_raw();
        let dir = tmp.path().join("a/b");
        prepare(&dir, euid).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        let err = prepare(&dir, euid).unwrap_err();
        assert!(
            err.contains("mode 0755") && err.contains("chmod 700"),
            "{err}"
        );
        let err = prepare(&dir, euid.wrapping_add(1)).unwrap_err();
        assert!(err.contains("belongs to uid"), "{err}");
    }
}
