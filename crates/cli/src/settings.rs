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

use anyhow::{bail, Context as _, Result};
use clap::Args;
use grantledger_jira::{ApiToken, JiraConfig, TokenKind};
use serde::Deserialize;

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
    args.config
        .clone()
        .unwrap_or_else(|| data_dir.join("grantledger.toml"))
}

/// Reads the config file; a missing file is an empty config unless it was named
/// explicitly.
pub fn load_config(path: &Path, explicit: bool) -> Result<ConfigFile> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            return Ok(ConfigFile::default())
        }
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot read the config file {}", path.display()))
        }
    };
    // toml's own error message quotes the offending line, which may hold the
    // token: report only what is wrong and where.
    let config: ConfigFile = toml::from_str(&text).map_err(|e| {
        let place = e
            .span()
            .map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(" at line {line}, column {column}")
            })
            .unwrap_or_default();
        anyhow::anyhow!(
            "the config file {} is not valid{place}: {}",
            path.display(),
            e.message()
        )
    })?;
    if config.jira.api_token.is_some() {
        check_private(path)?;
    }
    Ok(config)
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

/// Resolves flags > environment > config file.
pub fn resolve(args: &ConnectArgs, data_dir: &Path) -> Result<Connection> {
    let path = config_path(args, data_dir);
    let file = load_config(&path, args.config.is_some())?;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let site = args
        .site
        .clone()
        .or_else(|| env("JIRA_SITE"))
        .or(file.jira.site.clone())
        .with_context(|| {
            format!(
                "no Jira site: pass --site, set JIRA_SITE, or run `grantledger init` to write {}",
                path.display()
            )
        })?;
    let email = args
        .email
        .clone()
        .or_else(|| env("JIRA_EMAIL"))
        .or(file.jira.email.clone())
        .context(
            "no admin email: pass --email, set JIRA_EMAIL, or set `email` in the config file",
        )?;
    let token = if let Some(f) = &args.token_file {
        check_private(f)?;
        ApiToken::from_file(f)?
    } else if env(&args.token_env).is_some() {
        ApiToken::from_env(&args.token_env)?
    } else if let Some(f) = &file.jira.api_token_file {
        check_private(f)?;
        ApiToken::from_file(f)?
    } else if let Some(t) = &file.jira.api_token {
        ApiToken::checked(t, &format!("api_token in {}", path.display()))?
    } else {
        bail!(
            "no API token: set {} (create one at https://id.atlassian.com/manage-profile/security/api-tokens), pass --token-file, or set api_token_file in {}",
            args.token_env,
            path.display()
        );
    };
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
