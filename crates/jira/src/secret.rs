//! The API token, held so that it never prints.

use std::fmt;
use std::path::{Path, PathBuf};

/// A Jira API token. `Debug` and `Display` print a mask; the only way to the
/// value is [`ApiToken::expose`], used once, to build the `Authorization` header.
///
/// Tokens come from an environment variable or a file ([`ApiToken::from_env`],
/// [`ApiToken::from_file`]), never from a command-line argument (those show in
/// `ps`).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

/// Why a token could not be read. Messages name the variable or file, never the
/// token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// The environment variable is not set.
    #[error("environment variable {0} is not set: export the Jira API token in it")]
    EnvMissing(String),
    /// The environment variable is not valid Unicode.
    #[error("environment variable {0} does not hold valid UTF-8")]
    EnvNotUnicode(String),
    /// The file could not be read.
    #[error("cannot read the API token file {}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error, as text.
        reason: String,
    },
    /// The token is empty (after trimming surrounding whitespace).
    #[error("the API token from {0} is empty")]
    Empty(String),
    /// The token holds whitespace or control characters inside it.
    #[error("the API token from {0} contains whitespace or control characters")]
    Malformed(String),
}

impl ApiToken {
    /// Wraps a token. Surrounding whitespace (a trailing newline from a file or
    /// `echo`) is removed.
    pub fn new(raw: impl Into<String>) -> ApiToken {
        ApiToken(raw.into().trim().to_owned())
    }

    /// Checks and wraps a token read from `source` (named in errors): it must not
    /// be empty or hold whitespace or control characters once trimmed.
    pub fn checked(raw: &str, source: &str) -> Result<ApiToken, TokenError> {
        let t = raw.trim();
        if t.is_empty() {
            return Err(TokenError::Empty(source.to_owned()));
        }
        if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(TokenError::Malformed(source.to_owned()));
        }
        Ok(ApiToken(t.to_owned()))
    }

    /// Reads the token from the environment variable `var`.
    pub fn from_env(var: &str) -> Result<ApiToken, TokenError> {
        match std::env::var(var) {
            Ok(v) => ApiToken::checked(&v, &format!("environment variable {var}")),
            Err(std::env::VarError::NotPresent) => Err(TokenError::EnvMissing(var.to_owned())),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(TokenError::EnvNotUnicode(var.to_owned()))
            }
        }
    }

    /// Reads the token from a file (its whole content, trimmed).
    pub fn from_file(path: &Path) -> Result<ApiToken, TokenError> {
        let raw = std::fs::read_to_string(path).map_err(|e| TokenError::File {
            path: path.to_owned(),
            reason: e.kind().to_string(),
        })?;
        ApiToken::checked(&raw, &format!("file {}", path.display()))
    }

    /// The token itself. Use it only to authenticate; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(****)")
    }
}

impl fmt::Display for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_mask_the_token() {
        let t = ApiToken::new("ATATT3xFfGF0-very-secret");
        assert_eq!(format!("{t:?}"), "ApiToken(****)");
        assert_eq!(format!("{t}"), "****");
        assert!(!format!("{t:#?}").contains("secret"));
        assert_eq!(t.expose(), "ATATT3xFfGF0-very-secret");
    }

    #[test]
    fn env_errors_name_the_variable() {
        let var = "GRANTLEDGER_JIRA_TEST_TOKEN_SURELY_UNSET_1234";
        let e = ApiToken::from_env(var).unwrap_err();
        assert_eq!(e, TokenError::EnvMissing(var.to_owned()));
        assert!(e.to_string().contains(var));
    }

    #[test]
    fn file_token_is_trimmed_and_errors_do_not_leak() {
        let dir = std::env::temp_dir().join(format!("gl-jira-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("token");
        std::fs::write(&p, "abc123\n").unwrap();
        assert_eq!(ApiToken::from_file(&p).unwrap().expose(), "abc123");

        std::fs::write(&p, "  \n").unwrap();
        assert!(matches!(ApiToken::from_file(&p), Err(TokenError::Empty(_))));

        std::fs::write(&p, "abc def-secret\n").unwrap();
        let e = ApiToken::from_file(&p).unwrap_err();
        assert!(matches!(e, TokenError::Malformed(_)));
        assert!(!e.to_string().contains("def-secret"));

        let missing = dir.join("nope");
        let e = ApiToken::from_file(&missing).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
