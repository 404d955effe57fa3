//! `grantledger init`: write a commented config file and check the credentials.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use grantledger_jira::JiraClient;

use crate::errors::UsageError;
use crate::output::safe;
use crate::settings::{self, ConnectArgs};
use crate::Globals;

/// `grantledger init`
#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Replace an existing config file
    #[arg(long)]
    force: bool,
}

/// A TOML string literal (quoted and escaped).
fn quoted(value: &str) -> String {
    toml::Value::String(value.to_owned()).to_string()
}

fn template(site: &str, email: &str) -> String {
    let (site, email) = (quoted(site), quoted(email));
    format!(
        r#"# grantledger configuration. Flags and the environment (JIRA_SITE, JIRA_EMAIL,
# JIRA_API_TOKEN) take precedence over this file.

[jira]
# The Jira Cloud site: "acme", "acme.atlassian.net" or a full https:// URL.
site = {site}
# The email of the admin whose API token grantledger uses. Group writes need a
# site admin; reads need "Browse users and groups" and admin rights on projects.
email = {email}
# The API token. Prefer the JIRA_API_TOKEN environment variable or a file:
# api_token_file = "/path/to/token"
# If you put the token here, this file must be readable by you alone
# (chmod 600); grantledger refuses it otherwise.
# api_token = "..."
# Scoped API tokens (service accounts) go through api.atlassian.com:
# scoped = true

[sync]
# Listing requests in flight at once.
# concurrency = 8
"#
    )
}

/// Runs `grantledger init`.
pub fn run(args: InitArgs, globals: &Globals) -> Result<ExitCode> {
    let data_dir = globals.data_dir()?;
    let path = settings::config_path(&args.connect, data_dir.root());
    // Everything is checked before anything is written.
    let site = args
        .connect
        .site
        .clone()
        .or_else(|| settings::env_text("JIRA_SITE"))
        .ok_or_else(|| {
            UsageError::new("no Jira site: pass --site (e.g. --site acme) or set JIRA_SITE")
        })?;
    let email = args
        .connect
        .email
        .clone()
        .or_else(|| settings::env_text("JIRA_EMAIL"))
        .ok_or_else(|| UsageError::new("no admin email: pass --email or set JIRA_EMAIL"))?;
    settings::check_site(&site)?;
    if !email.contains('@') || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!(UsageError::new(
            "the admin email is not an email address: pass --email admin@example.com"
        ));
    }
    if path.exists() && !args.force {
        bail!(
            "{} exists already: pass --force to replace it",
            safe(&path.display().to_string())
        );
    }
    if path == data_dir.root().join("grantledger.toml") {
        data_dir.prepare()?;
    } else if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut f = options
            .open(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        // An existing file (--force) keeps its mode when opened: tighten it too.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot restrict {}", path.display()))?;
        }
        f.write_all(template(&site, &email).as_bytes())
            .and_then(|_| f.sync_all())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("wrote {}", safe(&path.display().to_string()));

    let conn = settings::resolve(&args.connect, data_dir.root())
        .context("the config file is written, but the credentials were not checked")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let me = runtime.block_on(async {
        let client = JiraClient::connect(conn.jira).await?;
        anyhow::Ok(client.myself().await?)
    });
    match me {
        Ok(me) => {
            println!(
                "credentials OK: {} ({}) on {}",
                safe(me.display_name.as_deref().unwrap_or("?")),
                safe(&me.account_id),
                safe(&conn.site_name)
            );
            println!("next: grantledger sync");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!(
                "error: credentials check FAILED (the config file is written; fix the credentials and run `grantledger sync`): {}",
                safe(&format!("{e:#}"))
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_parses_whatever_the_values() {
        for (site, email) in [
            ("acme", "a@b.c"),
            ("a\"b", "x\\y@z"),
            ("https://acme.atlassian.net", "o'neil@x.y"),
        ] {
            let parsed: crate::settings::ConfigFile =
                toml::from_str(&template(site, email)).unwrap();
            assert_eq!(parsed.jira.site.as_deref(), Some(site));
            assert_eq!(parsed.jira.email.as_deref(), Some(email));
        }
    }
}
