//! What can go wrong in the broker. Messages name the file or the account;
//! they never carry an environment value or credential content.

use std::path::PathBuf;
use std::sync::Arc;

/// A broker call that could not be carried out. The shared state is
/// unchanged unless the variant says otherwise.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BrokerError {
    /// A file or directory could not be read, written or created.
    #[error("account broker: cannot use {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// Another process held the state lock for the whole deadline (5 s).
    #[error("account broker: timed out waiting for the lock {}", path.display())]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
    },
    /// The state file is not valid broker state; it is left as it is.
    #[error("account broker: state file {} is corrupt: {problem}", path.display())]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The state file was written by a newer baton; it is left as it is.
    #[error(
        "account broker: state file {} has format version {found}, newer than the {supported} this baton understands",
        path.display()
    )]
    UnsupportedVersion {
        /// The state file.
        path: PathBuf,
        /// The version in the file.
        found: u64,
        /// The newest version this build reads.
        supported: u32,
    },
    /// An `env` account refers to a variable that is not set (or not
    /// UTF-8); the account was not leased.
    #[error("account {account}: environment variable `{var}` is not set or not valid UTF-8")]
    MissingEnv {
        /// `<provider>/<id>`.
        account: String,
        /// The variable's name.
        var: String,
    },
    /// An account cannot be used as configured (an `auth` account without
    /// `auth_file`, `auth` mode for a provider that has no credentials
    /// directory); the account was not leased.
    #[error("account {account}: {problem}")]
    Misconfigured {
        /// `<provider>/<id>`.
        account: String,
        /// What is wrong.
        problem: String,
    },
}

impl BrokerError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> BrokerError {
        BrokerError::Io {
            path: path.into(),
            source: Arc::new(source),
        }
    }
}
