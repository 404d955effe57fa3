//! `grantledger sim`: serve the Jira Cloud simulator on loopback until stopped.

use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use grantledger_jira_sim::{Credential, Faults, Org, Preset, SimServer};

use crate::output::{safe, thousands};
use crate::Globals;

/// An org file larger than this is refused unread (the `large` preset saves to
/// about 30 MB).
const MAX_ORG_FILE: u64 = 256 * 1024 * 1024;

/// `grantledger sim`
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Size of the generated org
    #[arg(long, value_enum, default_value_t = PresetArg::Small, conflicts_with = "org")]
    preset: PresetArg,
    /// Seed of the generator (the same preset and seed give the same org)
    #[arg(long, value_name = "N", default_value_t = 42, conflicts_with = "org")]
    seed: u64,
    /// Serve an org read from FILE (as written by --save-org) instead of generating one
    #[arg(long, value_name = "FILE")]
    org: Option<PathBuf>,
    /// Port on 127.0.0.1 (0 picks a free one)
    #[arg(long, value_name = "N", default_value_t = 0)]
    port: u16,
    /// Write the org to FILE at start, and again on Ctrl-C with the writes made meanwhile
    #[arg(long, value_name = "FILE")]
    save_org: Option<PathBuf>,
}

/// The generator's presets, as command-line values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PresetArg {
    /// About 50 users
    Small,
    /// About 2,000 users, 200 groups, 100 projects
    Medium,
    /// About 20,000 users, 2,000 groups, 1,000 projects
    Large,
}

impl From<PresetArg> for Preset {
    fn from(p: PresetArg) -> Preset {
        match p {
            PresetArg::Small => Preset::Small,
            PresetArg::Medium => Preset::Medium,
            PresetArg::Large => Preset::Large,
        }
    }
}

/// Runs `grantledger sim`.
pub fn run(args: SimArgs, _globals: &Globals) -> Result<ExitCode> {
    let (org, origin) = match &args.org {
        Some(path) => (
            load_org(path).context("cannot load the org")?,
            format!("loaded from {}", path.display()),
        ),
        None => {
            let preset = Preset::from(args.preset);
            (
                Org::generate(preset, args.seed),
                format!("generated: preset {preset}, seed {}", args.seed),
            )
        }
    };
    if let Some(path) = &args.save_org {
        org.save_json(path).context("cannot save the org")?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args, org, origin))
}

/// Reads an org file: a regular file of bounded size, then the simulator's own
/// checks.
fn load_org(path: &std::path::Path) -> Result<Org> {
    use std::io::Read as _;
    let shown = safe(&path.display().to_string());
    // Checked before opening too: opening a named pipe would wait for a writer.
    let is_file = std::fs::metadata(path)
        .with_context(|| format!("cannot read {shown}"))?
        .is_file();
    if !is_file {
        anyhow::bail!("{shown} is not a regular file: name an org file written by --save-org");
    }
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {shown}"))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read {shown}"))?;
    if !meta.is_file() {
        anyhow::bail!("{shown} is not a regular file: name an org file written by --save-org");
    }
    if meta.len() > MAX_ORG_FILE {
        anyhow::bail!(
            "{shown} is larger than {} MiB, which no org file is: check the path",
            MAX_ORG_FILE / 1024 / 1024
        );
    }
    let mut bytes = Vec::new();
    file.take(MAX_ORG_FILE + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {shown}"))?;
    if bytes.len() as u64 > MAX_ORG_FILE {
        anyhow::bail!(
            "{shown} is larger than {} MiB, which no org file is: check the path",
            MAX_ORG_FILE / 1024 / 1024
        );
    }
    let org: Org = serde_json::from_slice(&bytes)
        .with_context(|| format!("{shown} is not an org file (JSON as written by --save-org)"))?;
    org.validate()?;
    Ok(org)
}

async fn serve(args: SimArgs, org: Org, origin: String) -> Result<ExitCode> {
    let admin = Credential::admin_of(&org);
    if admin.account_id.is_empty() {
        tracing::warn!("the org has no site admin: the printed credentials will be refused (401)");
    }
    let summary = format!(
        "site {} ({}): {} users, {} groups, {} memberships, {} projects",
        safe(&org.site),
        safe(&origin),
        thousands(org.users.len() as u64),
        thousands(org.groups.len() as u64),
        thousands(org.membership_count() as u64),
        thousands(org.projects.len() as u64),
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let server = SimServer::start_on(addr, org, vec![admin.clone()], Faults::default())
        .await
        .with_context(|| format!("cannot serve the simulator on {addr}"))?;
    let url = server.base_url();
    let mut stop = crate::signals::Stop::install().context("cannot listen for Ctrl-C")?;
    {
        let mut out = io::stdout().lock();
        writeln!(out, "jira-sim serving {summary}")?;
        writeln!(out, "base URL: {url}")?;
        writeln!(
            out,
            "credentials of the simulator's site admin (simulator-only values):"
        )?;
        writeln!(
            out,
            "JIRA_SITE={url} JIRA_EMAIL={} JIRA_API_TOKEN={}",
            safe(&admin.email),
            safe(&admin.token)
        )?;
        writeln!(
            out,
            "request counters: GET {url}/__sim/stats (POST {url}/__sim/stats/reset zeroes them)"
        )?;
        writeln!(out, "press Ctrl-C to stop")?;
        out.flush()?;
    }
    stop.wait().await.context("cannot wait for Ctrl-C")?;
    if let Some(path) = &args.save_org {
        server
            .org()
            .save_json(path)
            .context("cannot save the org on exit")?;
        eprintln!("saved the org, writes included, to {}", path.display());
    }
    server.shutdown().await;
    eprintln!("jira-sim stopped");
    Ok(ExitCode::SUCCESS)
}
