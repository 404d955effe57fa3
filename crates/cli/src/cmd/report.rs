//! `grantledger report out-of-band`: the drift report. The library
//! (`grantledger_review::out_of_band`) decides which grants nothing explains;
//! this module reads the config file's `[review]` (privileged groups) and
//! `[out_of_band]` (privileged roles, allow-list) sections, resolves `--since`
//! and lays the answer out as a table (80 columns), JSON
//! (`schemas/out-of-band.schema.json`) or Excel-safe CSV.

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Result;
use clap::{Args, Subcommand};
use grantledger_clock::{Clock, SystemClock};
use grantledger_model::{CampaignId, Since};
use grantledger_projection::Moment;
use grantledger_review::out_of_band::{
    out_of_band, since_position, OutOfBandConfig, OutOfBandOptions, OutOfBandReport,
};
use grantledger_review::{ReviewConfig, Reviews};

use crate::cmd::query::{self, emit, fit, in_jira_cell, short_time, table, Format};
use crate::Globals;

/// `grantledger report ...`
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Grants to privileged groups and roles (every grant with --all) that no
    /// request, operator command, campaign approval or allow-list entry explains
    #[command(after_help = "Examples:
  grantledger report out-of-band
  grantledger report out-of-band --since q3-admins --format csv > drift.csv
  grantledger report out-of-band --all --since 2026-11-01T00:00:00Z --format json

Privileged: the groups site-admins, jira-administrators, org-admins and
[review] privileged_groups; the project role Administrators and
[out_of_band] privileged_roles. Allowed on purpose: [[out_of_band.allow]]
entries (principal, group or project+role, reason) in grantledger.toml.")]
    OutOfBand(OutOfBandArgs),
}

/// `report out-of-band`
#[derive(Debug, Args)]
pub struct OutOfBandArgs {
    /// Only grants added after a log position, an RFC 3339 time, or a campaign's launch
    #[arg(long, value_name = "TIME|POSITION|CAMPAIGN")]
    since: Option<String>,
    /// Every direct grant, not only privileged groups and roles
    #[arg(long)]
    all: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The site, when the log holds more than one
    #[arg(long, value_name = "SITE")]
    site: Option<String>,
    /// The config file [default: <data-dir>/grantledger.toml]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Runs `report ...`.
pub fn run(command: ReportCommand, globals: &Globals) -> Result<ExitCode> {
    match command {
        ReportCommand::OutOfBand(a) => run_out_of_band(a, globals),
    }
}

/// The `[review]` and `[out_of_band]` sections of the config file (a missing
/// default file means both are empty; a named one must exist).
fn load_config(
    globals: &Globals,
    config: Option<&PathBuf>,
) -> Result<(ReviewConfig, OutOfBandConfig)> {
    let path = crate::settings::config_file(globals.data_dir()?.root(), config);
    let Some(text) = crate::settings::config_text(&path, config.is_some())? else {
        return Ok(Default::default());
    };
    let review = ReviewConfig::parse(&text).map_err(|e| {
        anyhow::anyhow!(
            "the config file {} has an error in its [review] section, so it is not used: {e}",
            path.display()
        )
    })?;
    let oob = OutOfBandConfig::parse(&text).map_err(|e| {
        anyhow::anyhow!(
            "the config file {} has an error in its [out_of_band] section, so it is not used: {e}",
            path.display()
        )
    })?;
    Ok((review, oob))
}

fn run_out_of_band(a: OutOfBandArgs, globals: &Globals) -> Result<ExitCode> {
    let (review_cfg, cfg) = load_config(globals, a.config.as_ref())?;
    let (q, _read) = query::open(globals, a.site.as_deref())?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let campaigns = Reviews::new(q.log().clone(), q.site(), clock).all()?;
    let since = match a.since.as_deref() {
        None => None,
        Some(raw) => {
            let s = match Moment::from_str(raw) {
                Ok(Moment::Position(p)) => Since::Position(p),
                Ok(Moment::Time(t)) => Since::Time(t),
                Err(_) => Since::Campaign(CampaignId::from(raw.trim())),
            };
            Some(since_position(q.log(), q.site(), &s, &campaigns)?)
        }
    };
    let state = q.current()?;
    let r = out_of_band(
        q.log(),
        q.site(),
        &state,
        &campaigns,
        &cfg,
        &OutOfBandOptions {
            privileged_groups: review_cfg.privileged(),
            all: a.all,
            since,
        },
    )?;
    emit(a.format, &r, || table_lines(&r), || csv_text(&r))
}

fn table_lines(r: &OutOfBandReport) -> Vec<String> {
    let scope = if r.scope == "all" {
        "every direct grant".to_owned()
    } else {
        format!(
            "groups {}; roles {}",
            r.privileged_groups.join(", "),
            r.privileged_roles.join(", ")
        )
    };
    let e = &r.explained;
    let mut out = vec![
        fit(&format!("Out-of-band grants on {}", r.site)),
        fit(&format!("scope: {scope}")),
        fit(&format!(
            "as of {}{}",
            query::moment_line(&r.as_of),
            r.since_position
                .map(|p| format!(", added after position {p}"))
                .unwrap_or_default()
        )),
        fit(&format!(
            "{} in scope; explained: {} grantledger, {} campaign, {} allow-list; {} older",
            r.in_scope, e.by_grantledger, e.by_campaign, e.by_allow_list, e.before_since
        )),
        String::new(),
    ];
    if r.grants.is_empty() {
        out.push("no out-of-band grants".into());
        return out;
    }
    let rows: Vec<Vec<String>> = r
        .grants
        .iter()
        .map(|g| {
            vec![
                g.added_position.to_string(),
                // `11-30 21:12`: the year is in the header and the JSON.
                g.added_at
                    .as_deref()
                    .map(|t| short_time(t).get(5..).unwrap_or_default().to_owned())
                    .unwrap_or_default(),
                query::name_or_id(&g.principal),
                g.entitlement.name.clone(),
                in_jira_cell(&g.in_jira),
            ]
        })
        .collect();
    out.extend(table(
        &["POS", "ADDED UTC", "WHO", "ACCESS", "ADDED IN JIRA BY"],
        &rows,
    ));
    out.push(String::new());
    out.push(fit(&format!(
        "{} out-of-band grant(s). ADDED IN JIRA BY: from Jira's audit log;",
        r.grants.len()
    )));
    out.push(fit("--format json says why no record names an author."));
    out
}

fn csv_text(r: &OutOfBandReport) -> String {
    query::csv(
        &[
            "principal_kind",
            "principal_id",
            "principal_name",
            "principal_email",
            "entitlement_kind",
            "entitlement_id",
            "entitlement",
            "added_position",
            "added_at",
            "sync_run",
            "in_jira",
            "audit_record",
            "author_account_id",
            "author_name",
            "in_jira_at",
        ],
        r.grants.iter().map(|g| {
            vec![
                g.principal.kind.clone(),
                g.principal.id.clone(),
                g.principal.name.clone(),
                g.principal.email.clone().unwrap_or_default(),
                g.entitlement.kind.clone(),
                g.entitlement.id.clone(),
                g.entitlement.name.clone(),
                g.added_position.to_string(),
                g.added_at.clone().unwrap_or_default(),
                g.sync_run.clone().unwrap_or_default(),
                g.in_jira.text.clone(),
                g.in_jira
                    .audit_record
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
                g.in_jira.author_account_id.clone().unwrap_or_default(),
                g.in_jira.author_name.clone().unwrap_or_default(),
                g.in_jira.at.clone().unwrap_or_default(),
            ]
        }),
    )
}
