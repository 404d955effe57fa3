//! Connection settings for commands that talk to Jira: from flags, then the
//! environment (`JIRA_SITE`, `JIRA_EMAIL`, `JIRA_API_TOKEN`), then the config file
//! (`<data-dir>/grantledger.toml`, or `--config`).
//!
//! The API token never comes from a command-line argument (it would show in `ps`):
//! it comes from `JIRA_API_TOKEN` (or the variable named by `--token-env`), a file
//! (`--token-file`, or `api_token_file` in the config), or the config file itself —
//! which is then refused if anyone but its owner can read it, as ssh refuses a
//! private key with loose permissions.

use std::path::{Path, PathBuf};

use std::io::Read as _;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use grantledger_jira::{ApiToken, JiraConfig, TokenKind};
use serde::Deserialize;

use crate::errors::UsageError;

/// A token file larger than this is not a token file (API tokens are about 200
/// characters).
const MAX_TOKEN_FILE: u64 = 16 * 1024;
/// A config file larger than this is refused unread.
const MAX_CONFIG_FILE: u64 = 1024 * 1024;

/// Flags shared by `sync` and `init`.
#[derive(Debug, Args, Clone, Default)]
pub struct ConnectArgs {
    /// The Jira site: `acme`, `acme.atlassian.net` or a full URL [env: JIRA_SITE]
    #[arg(long, value_name = "SITE")]
    pub site: Option<String>,
    /// The admin's email address [env: JIRA_EMAIL]
    #[arg(long, value_name = "EMAIL")]
    pub email: Option<String>,
    /// Read the API token from FILE (instead of JIRA_API_TOKEN)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Read the API token from this environment variable
    #[arg(long, value_name = "VAR", default_value = "JIRA_API_TOKEN")]
    pub token_env: String,
    /// The token is a scoped API token (service accounts): requests go through api.atlassian.com
    #[arg(long)]
    pub scoped: bool,
    /// The config file [default: <data-dir>/grantledger.toml]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `grantledger.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `[jira]`
    #[serde(default)]
    pub jira: JiraSection,
    /// `[sync]`
    #[serde(default)]
    pub sync: SyncSection,
    /// `[jit]`: request policies, parsed and checked by `grantledger-jit`
    /// (`cmd::request::load_policies`), not here.
    #[serde(default, rename = "jit")]
    pub _jit: Option<serde::de::IgnoredAny>,
    /// `[review]`: owners and campaigns, parsed and checked by
    /// `grantledger-review` (`cmd::review::load_config`), not here.
    #[serde(default, rename = "review")]
    pub _review: Option<serde::de::IgnoredAny>,
}

/// `[jira]` of the config file. Its `Debug` masks the token.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraSection {
    pub site: Option<String>,
    pub email: Option<String>,
    pub api_token: Option<String>,
    pub api_token_file: Option<PathBuf>,
    pub scoped: Option<bool>,
}

impl std::fmt::Debug for JiraSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JiraSection")
            .field("site", &self.site)
            .field("email", &self.email)
            .field("api_token", &self.api_token.as_ref().map(|_| "****"))
            .field("api_token_file", &self.api_token_file)
            .field("scoped", &self.scoped)
            .finish()
    }
}

/// `[sync]` of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSection {
    pub concurrency: Option<usize>,
}

/// The config file's path for a data directory.
pub fn config_path(args: &ConnectArgs, data_dir: &Path) -> PathBuf {
    config_file(data_dir, args.config.as_ref())
}

/// The config file a command reads: the one named (`--config`), else
/// `grantledger.toml` in the data directory.
pub fn config_file(data_dir: &Path, named: Option<&PathBuf>) -> PathBuf {
    named
        .cloned()
        .unwrap_or_else(|| data_dir.join("grantledger.toml"))
}

/// The config file's text: `None` for a missing file that was not named
/// explicitly (no config), an error for a named one that is missing, a file too
/// large or unreadable.
pub fn config_text(path: &Path, explicit: bool) -> Result<Option<String>> {
    match read_small_text(path, MAX_CONFIG_FILE) {
        Ok(t) => Ok(Some(t)),
        Err(SmallRead::Io(e)) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(None),
        Err(e) => Err(e.into_error(path, "the config file")),
    }
}

/// Reads the config file; a missing file is an empty config unless it was named
/// explicitly.
pub fn load_config(path: &Path, explicit: bool) -> Result<ConfigFile> {
    let Some(text) = config_text(path, explicit)? else {
        return Ok(ConfigFile::default());
    };
    // toml's own error message quotes the offending line, which may hold the
    // token: report only what is wrong and where.
    let config: ConfigFile = toml::from_str(&text).map_err(|e| {
        let place = e
            .span()
            .map(|span| {
                let (line, column) = grantledger_model::line_and_column(&text, span.start);
                format!(" at line {line}, column {column}")
            })
            .unwrap_or_default();
        anyhow::anyhow!(
            "the config file {} is not valid{place}: {}",
            path.display(),
            redact(e.message())
        )
    })?;
    if config.jira.api_token.is_some() {
        check_private(path)?;
    }
    Ok(config)
}

/// A config error's message without any value it quoted: serde and toml quote
/// the offending value (`invalid type: string "…"`), which may be a misplaced
/// token. Double-quoted text is dropped; back-quoted text is kept only when it
/// looks like a key name (a letter, then up to 31 letters, digits, `_` or `-`).
fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find(['"', '`']) {
        let quote = rest[i..].chars().next().expect("found");
        let Some(len) = rest[i + 1..].find(quote) else {
            break;
        };
        let inner = &rest[i + 1..i + 1 + len];
        let keep = quote == '`'
            && inner.len() <= 32
            && inner.starts_with(|c: char| c.is_ascii_alphabetic())
            && inner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if keep {
            out.push_str(&rest[..i + len + 2]);
        } else {
            out.push_str(rest[..i].trim_end());
        }
        rest = &rest[i + len + 2..];
    }
    if rest.contains(['"', '`']) {
        // An unbalanced quote: drop what follows it.
        out.push_str(rest[..rest.find(['"', '`']).expect("found")].trim_end());
    } else {
        out.push_str(rest);
    }
    out
}

/// Why a small text file could not be read.
pub enum SmallRead {
    /// The file could not be opened or read.
    Io(std::io::Error),
    /// It is a directory, a device, a pipe...
    NotAFile,
    /// It is larger than allowed.
    TooLarge(u64),
    /// Its content is not UTF-8.
    NotText,
}

impl SmallRead {
    /// The error for `path`, described as `what`.
    pub fn into_error(self, path: &Path, what: &str) -> anyhow::Error {
        let p = path.display();
        match self {
            SmallRead::Io(e) => anyhow::Error::new(e).context(format!("cannot read {what} {p}")),
            SmallRead::NotAFile => {
                anyhow::anyhow!("{what} {p} is not a regular file: name a file")
            }
            SmallRead::TooLarge(limit) => anyhow::anyhow!(
                "{what} {p} is larger than {} bytes, so it is not {what}: check the path",
                crate::output::thousands(limit)
            ),
            SmallRead::NotText => {
                anyhow::anyhow!("{what} {p} is not valid UTF-8 text: save it as plain text")
            }
        }
    }
}

/// Reads a regular file of at most `limit` bytes as UTF-8 text.
pub fn read_small_text(path: &Path, limit: u64) -> std::result::Result<String, SmallRead> {
    // Checked before opening too: opening a named pipe would wait for a writer.
    if !std::fs::metadata(path).map_err(SmallRead::Io)?.is_file() {
        return Err(SmallRead::NotAFile);
    }
    let file = std::fs::File::open(path).map_err(SmallRead::Io)?;
    let meta = file.metadata().map_err(SmallRead::Io)?;
    if !meta.is_file() {
        return Err(SmallRead::NotAFile);
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(SmallRead::Io)?;
    if bytes.len() as u64 > limit {
        return Err(SmallRead::TooLarge(limit));
    }
    String::from_utf8(bytes).map_err(|_| SmallRead::NotText)
}

/// Reads an API token from a file: a regular file of sane size, readable by its
/// owner alone, holding UTF-8 text.
pub fn token_from_file(path: &Path) -> Result<ApiToken> {
    let text =
        read_small_text(path, MAX_TOKEN_FILE).map_err(|e| e.into_error(path, "the token file"))?;
    check_private(path)?;
    Ok(ApiToken::checked(
        &text,
        &format!("the token file {}", path.display()),
    )?)
}

/// Reads an API token from the environment variable `var`: `None` when unset or
/// blank.
pub fn token_from_env(var: &str) -> Result<Option<ApiToken>> {
    match std::env::var_os(var) {
        None => Ok(None),
        Some(raw) => match raw.into_string() {
            Ok(text) if text.trim().is_empty() => Ok(None),
            Ok(text) => Ok(Some(ApiToken::checked(
                &text,
                &format!("environment variable {var}"),
            )?)),
            Err(_) => bail!(
                "the environment variable {var} is set but is not valid UTF-8 text, so it cannot be an API token: set it to the token as created at https://id.atlassian.com/manage-profile/security/api-tokens"
            ),
        },
    }
}

/// Checks a site as given (flag, environment or config file) before it is used
/// or stored: a URL with embedded credentials is refused without repeating them.
pub fn check_site(site: &str) -> Result<()> {
    if let Some((_, rest)) = site.split_once("://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.contains('@') {
            bail!(UsageError::new(
                "the Jira site must not carry credentials in its URL (a name or secret before an @): give the site's address only, the email with --email and the token in JIRA_API_TOKEN"
            ));
        }
    }
    grantledger_jira::config::site_url(site).map_err(|e| UsageError::new(e.to_string()))?;
    Ok(())
}

/// Refuses a file holding a secret that others may read.
#[cfg(unix)]
pub fn check_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path)
        .with_context(|| format!("cannot read the permissions of {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        bail!(
            "{} holds an API token but other users can access it (mode {:o}): run `chmod 600 {}`, or keep the token in JIRA_API_TOKEN",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    Ok(())
}

/// Refuses a file holding a secret that others may read.
#[cfg(not(unix))]
pub fn check_private(_path: &Path) -> Result<()> {
    Ok(())
}

/// Everything needed to connect, resolved.
#[derive(Debug)]
pub struct Connection {
    /// The client's settings.
    pub jira: JiraConfig,
    /// The site's name in the log (`acme.atlassian.net`, or `127.0.0.1:8080`).
    pub site_name: String,
}

/// An environment variable's value, `None` when unset, blank or not UTF-8.
pub fn env_text(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Resolves flags > environment > config file.
pub fn resolve(args: &ConnectArgs, data_dir: &Path) -> Result<Connection> {
    let path = config_path(args, data_dir);
    let file = load_config(&path, args.config.is_some())?;
    let site = args
        .site
        .clone()
        .or_else(|| env_text("JIRA_SITE"))
        .or(file.jira.site.clone())
        .ok_or_else(|| {
            UsageError::new(format!(
                "no Jira site: pass --site, set JIRA_SITE, or run `grantledger init` to write {}",
                path.display()
            ))
        })?;
    let email = args
        .email
        .clone()
        .or_else(|| env_text("JIRA_EMAIL"))
        .or(file.jira.email.clone())
        .ok_or_else(|| {
            UsageError::new(
                "no admin email: pass --email, set JIRA_EMAIL, or set `email` in the config file",
            )
        })?;
    let token = if let Some(f) = &args.token_file {
        token_from_file(f)?
    } else if let Some(t) = token_from_env(&args.token_env)? {
        t
    } else if let Some(f) = &file.jira.api_token_file {
        token_from_file(f)?
    } else if let Some(t) = &file.jira.api_token {
        ApiToken::checked(t, &format!("api_token in {}", path.display()))?
    } else {
        return Err(UsageError::new(format!(
            "no API token: set {} (create one at https://id.atlassian.com/manage-profile/security/api-tokens), pass --token-file, or set api_token_file in {}",
            args.token_env,
            path.display()
        ))
        .into());
    };
    check_site(&site)?;
    let url = grantledger_jira::config::site_url(&site)?;
    let site_name = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or("site")),
        None => url.host_str().unwrap_or("site").to_owned(),
    };
    let mut jira = JiraConfig::new(site, email, token);
    if args.scoped || file.jira.scoped == Some(true) {
        jira.token_kind = TokenKind::Scoped;
    }
    if let Some(c) = file.sync.concurrency {
        jira.concurrency = c.max(1);
    }
    Ok(Connection { jira, site_name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_in_a_readable_config_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grantledger.toml");
        std::fs::write(&path, "[jira]\nsite = \"acme\"\napi_token = \"s3cret\"\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = load_config(&path, true).unwrap_err().to_string();
            assert!(err.contains("chmod 600"), "{err}");
            assert!(!err.contains("s3cret"));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let c = load_config(&path, true).unwrap();
        assert_eq!(c.jira.site.as_deref(), Some("acme"));
    }

    #[test]
    fn a_syntax_error_near_the_token_does_not_print_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.toml");
        std::fs::write(&path, "[jira]\napitoken = \"ATATT-sekrit\"\n").unwrap();
        let err = format!("{:#}", load_config(&path, true).unwrap_err());
        assert!(err.contains("line 2"), "{err}");
        assert!(!err.contains("sekrit"), "{err}");
        std::fs::write(&path, "[jira]\napi_token = ATATT-sekrit\n").unwrap();
        let err = format!("{:#}", load_config(&path, true).unwrap_err());
        assert!(!err.contains("sekrit"), "{err}");
        let section = JiraSection {
            api_token: Some("ATATT-sekrit".into()),
            ..JiraSection::default()
        };
        assert!(!format!("{section:?}").contains("sekrit"));
    }

    #[test]
    fn a_value_of_the_wrong_type_is_not_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.toml");
        std::fs::write(&path, "[jira]\nscoped = \"CFGSECRET77\"\n").unwrap();
        let err = format!("{:#}", load_config(&path, true).unwrap_err());
        assert!(!err.contains("CFGSECRET77"), "{err}");
        assert!(
            err.contains("line 2") && err.contains("expected a boolean"),
            "{err}"
        );
        std::fs::write(&path, "[sync]\nconcurrency = \"ATATT-x\"\n").unwrap();
        let err = format!("{:#}", load_config(&path, true).unwrap_err());
        assert!(!err.contains("ATATT"), "{err}");
        assert_eq!(
            redact("invalid type: string \"s3cret\", expected a boolean"),
            "invalid type: string, expected a boolean"
        );
        assert_eq!(
            redact("unknown field `sight`, expected one of `site`, `email`"),
            "unknown field `sight`, expected one of `site`, `email`"
        );
        assert_eq!(
            redact("invalid value `ATATT3xFf0123456789abcdefABCDEF0123`"),
            "invalid value"
        );
        assert_eq!(redact("unbalanced \"s3cret"), "unbalanced");
    }

    #[test]
    fn unknown_keys_and_missing_explicit_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.toml");
        std::fs::write(&path, "[jira]\nsight = \"acme\"\n").unwrap();
        let err = format!("{:#}", load_config(&path, true).unwrap_err());
        assert!(err.contains("sight"), "{err}");
        assert!(load_config(&dir.path().join("none.toml"), true).is_err());
        assert!(load_config(&dir.path().join("none.toml"), false).is_ok());
    }
}
