//! Errors for a manifest that cannot be read or is not valid.
//!
//! Every invalid manifest produces one [`Invalid`] that names the field and,
//! whenever the mistake is somewhere in the file, its line and column. Its
//! messages must never contain an `env` value: those may be secrets.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use miette::{NamedSource, SourceSpan};

/// Why a manifest could not be loaded.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    #[diagnostic(code(baton::config::io))]
    Io {
        /// The path that was being read.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid manifest.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(Box<Invalid>),
}

impl ConfigError {
    /// 1-based line of the mistake, when it is at a place in the file.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Io { .. } => None,
            ConfigError::Invalid(inv) => inv.line(),
        }
    }

    /// 1-based column (in characters) of the mistake, when it is at a place in the file.
    pub fn column(&self) -> Option<usize> {
        match self {
            ConfigError::Io { .. } => None,
            ConfigError::Invalid(inv) => inv.column(),
        }
    }

    /// What is wrong, without the `file:line:col: ` prefix.
    pub fn message(&self) -> String {
        match self {
            ConfigError::Io { path, source } => {
                format!("cannot read {}: {source}", path.display())
            }
            ConfigError::Invalid(inv) => inv.message().to_owned(),
        }
    }
}

impl From<Invalid> for ConfigError {
    fn from(inv: Invalid) -> Self {
        ConfigError::Invalid(Box::new(inv))
    }
}

/// One mistake in a manifest, with where it is.
///
/// `Display` is a single line, `origin:line:col: message` (or
/// `origin: message` for a mistake that is nowhere in particular, such as a
/// missing `[[session]]`). As a [`miette::Diagnostic`] it carries the whole
/// manifest as source code and a label on the offending span.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[diagnostic(code(baton::config::invalid))]
pub struct Invalid {
    origin: String,
    line: Option<usize>,
    column: Option<usize>,
    message: String,
    #[source_code]
    source_code: NamedSource<String>,
    #[label("{label}")]
    span: Option<SourceSpan>,
    label: String,
    #[help]
    help: Option<String>,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(col)) => write!(f, "{}:{line}:{col}: {}", self.origin, self.message),
            _ => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

impl Invalid {
    /// An error at `span` (byte offsets into `text`), or at no place if `None`.
    pub(crate) fn new(
        text: &str,
        origin: &str,
        span: Option<Range<usize>>,
        message: String,
        label: &str,
    ) -> Invalid {
        let span = span.map(|r| clamp_span(text, r));
        let (line, column) = match &span {
            Some(r) => {
                let (l, c) = line_col(text, r.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        Invalid {
            origin: origin.to_owned(),
            line,
            column,
            message,
            source_code: NamedSource::new(origin, text.to_owned()),
            span: span.map(|r| SourceSpan::from(r.start..r.end)),
            label: label.to_owned(),
            help: None,
        }
    }

    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Invalid {
        self.help = Some(help.into());
        self
    }

    /// 1-based line of the mistake, when it is at a place in the file.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// 1-based column (in characters) of the mistake, when it is at a place in the file.
    pub fn column(&self) -> Option<usize> {
        self.column
    }

    /// What is wrong, without the `origin:line:col: ` prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Byte range of the offending text in the manifest, when there is one.
    pub fn span(&self) -> Option<Range<usize>> {
        self.span.map(|s| s.offset()..s.offset() + s.len())
    }

    /// The name the manifest is shown under (its path, or `<manifest>`).
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// Keeps `r` inside `text` and on character boundaries.
fn clamp_span(text: &str, r: Range<usize>) -> Range<usize> {
    let mut start = r.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = r.end.clamp(start, text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

/// 1-based (line, column in characters) of byte offset `at`, which must be a
/// character boundary within `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}
