//! The simulator's error type.

use std::path::PathBuf;

/// Everything that can go wrong when loading, saving or serving an org.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// Reading or writing an org file failed.
    #[error("cannot {action} org file {}: {source}", path.display())]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An org file is not valid JSON for an [`crate::Org`].
    #[error("org file {} is not a valid org: {source}", path.display())]
    Json {
        /// The file concerned.
        path: PathBuf,
        /// The decoding error (line and column included).
        #[source]
        source: serde_json::Error,
    },
    /// An org decoded but refers to things that do not exist.
    #[error("org is inconsistent: {reason}")]
    InvalidOrg {
        /// What is wrong, naming the group, user or project.
        reason: String,
    },
    /// A preset name other than `small`, `medium` or `large`.
    #[error("unknown preset {0:?}: expected small, medium or large")]
    UnknownPreset(String),
}
