//! `grantledger review create|preview|launch|show|items|decide|reassign|export|
//! import|close|verify|compare|report|list`: access review campaigns, from `grantledger-review`.
//! This module reads the `[review]` section of the config file, opens the log,
//! names the acting person (`--as`, a stand-in until the server brings sign-in),
//! drives revocations through the outbox at close, and lays the answers out as
//! a table, JSON or CSV.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand, ValueEnum};
use grantledger_clock::{Clock, SystemClock};
use grantledger_jira::JiraClient;
use grantledger_model::*;
use grantledger_outbox::{DrivePolicy, Executor};
use grantledger_projection::text::escape;
use grantledger_projection::{rfc3339, Moment, SiteState};
use grantledger_review::campaign::{parse_item, progress};
use grantledger_review::view::{self, Context, ItemView};
use grantledger_review::{bulk, scope, Campaign, NewCampaign, OwnerArg, ReviewConfig, Reviews};
use serde::Serialize;

use crate::errors::UsageError;
use crate::settings::{self, ConnectArgs};
use crate::Globals;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Lines for a terminal
    Table,
    /// One JSON document
    Json,
    /// CSV (items only; the bulk format of `export`)
    Csv,
}

/// What every review command takes.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The site, when the log holds more than one
    #[arg(long, value_name = "SITE")]
    site: Option<String>,
    /// The config file with the [review] section [default: <data-dir>/grantledger.toml]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

pub use super::Acting;

/// A campaign's definition on the command line.
#[derive(Debug, Args, Clone)]
pub struct Define {
    /// The campaign's id [default: c<N>]
    #[arg(long)]
    id: Option<String>,
    /// Take the definition from [[review.campaign]] with this id in the config file
    #[arg(long, value_name = "ID", conflicts_with_all = ["name", "all", "group", "privileged", "project", "product"])]
    from_config: Option<String>,
    /// Its name
    #[arg(long, required_unless_present = "from_config")]
    name: Option<String>,
    /// Every group membership and project-role actor
    #[arg(long)]
    all: bool,
    /// Members of groups by name or glob (repeatable)
    #[arg(long, value_name = "NAME|GLOB")]
    group: Vec<String>,
    /// Members of the privileged groups (built-in and [review] privileged_groups)
    #[arg(long)]
    privileged: bool,
    /// Actors of a project's roles: KEY or KEY:Role (globs; repeatable)
    #[arg(long, value_name = "KEY[:ROLE]")]
    project: Vec<String>,
    /// Members of the groups giving a product (repeatable)
    #[arg(long, value_name = "PRODUCT")]
    product: Vec<String>,
    /// Review app accounts too (humans only by default)
    #[arg(long)]
    include_apps: bool,
    /// Only grants added since a log position, an RFC 3339 time, or a campaign's launch
    #[arg(long, value_name = "WHEN|CAMPAIGN")]
    since: Option<String>,
    /// The fallback reviewer (account id or email)
    #[arg(long, value_name = "ACCOUNT")]
    fallback: Option<String>,
    /// A CSV of user,manager (account ids or emails): managers review their reports
    #[arg(long, value_name = "FILE")]
    managers: Option<PathBuf>,
    /// When decisions are due (RFC 3339)
    #[arg(long, value_name = "TIME")]
    due: Option<String>,
    /// What undecided items become at close
    #[arg(long, value_name = "keep|revoke")]
    undecided: Option<String>,
    /// A revocation needs a comment
    #[arg(long)]
    require_revoke_comment: bool,
    /// Completed syncs after a revocation before an unconfirmed removal is flagged
    #[arg(long, value_name = "N")]
    remediation_syncs: Option<u32>,
}

/// `grantledger review ...`
#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Define a campaign (a draft: nothing is frozen until launch)
    Create {
        #[command(flatten)]
        define: Box<Define>,
        #[command(flatten)]
        acting: Acting,
        #[command(flatten)]
        common: Common,
    },
    /// What a launch would freeze now: item count, items per reviewer, unassigned items
    Preview {
        /// The campaign id
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Freeze the items at the log's head and record the position, its hash and the digest
    Launch {
        /// The campaign id
        id: String,
        #[command(flatten)]
        acting: Acting,
        #[command(flatten)]
        common: Common,
    },
    /// A campaign: definition, progress per reviewer, evidence, remediation
    Show {
        /// The campaign id
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// A campaign's items (optionally one reviewer's), with signals
    Items {
        /// The campaign id
        id: String,
        /// Only this reviewer's items (account id or email)
        #[arg(long, value_name = "ACCOUNT")]
        reviewer: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Approve or revoke an item (its assigned reviewer only)
    Decide {
        /// The campaign id
        id: String,
        /// The item (i17)
        item: String,
        /// approve or revoke
        #[arg(value_parser = ["approve", "revoke"])]
        decision: String,
        /// Why (required to revoke when the campaign says so)
        #[arg(long)]
        comment: Option<String>,
        #[command(flatten)]
        acting: Acting,
        #[command(flatten)]
        common: Common,
    },
    /// Hand an item to another reviewer (its assigned reviewer only)
    Reassign {
        /// The campaign id
        id: String,
        /// The item (i17)
        item: String,
        /// The new reviewer (account id or email)
        #[arg(long, value_name = "ACCOUNT")]
        to: String,
        /// Why
        #[arg(long)]
        comment: Option<String>,
        #[command(flatten)]
        acting: Acting,
        #[command(flatten)]
        common: Common,
    },
    /// A reviewer's items as CSV, to fill in the decision and comment columns
    Export {
        /// The campaign id
        id: String,
        /// Write to this file instead of standard output
        #[arg(short, long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        acting: Acting,
        #[command(flatten)]
        common: Common,
    },
    /// Import decisions from an export's CSV: all of them, or none when a line is wrong
    Import {
        /// The campaign id
        id: String,
        /// The CSV file
        file: PathBuf,
        #[command(flatten)]
        acting: Acting,
        #[command(flatten)]
        common: Common,
    },
    /// Close: decisions become final, revoked items are removed in Jira through the outbox
    Close {
        /// The campaign id
        id: String,
        #[command(flatten)]
        acting: Acting,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Recompute the items from the log at the launch position and compare count and digest
    Verify {
        /// The campaign id
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Compare two campaigns over the same scope: grants that appeared or went, decisions that flipped, access revoked and granted again
    Compare {
        /// One campaign id
        a: String,
        /// The other
        b: String,
        #[command(flatten)]
        common: Common,
    },
    /// A standalone HTML report (summary, progress, decisions, remediation, evidence)
    Report {
        /// The campaign id
        id: String,
        /// Write to this file instead of standard output
        #[arg(short, long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Every campaign
    List {
        #[command(flatten)]
        common: Common,
    },
}

/// Reads the `[review]` section of the config file (a missing default file
/// means an empty section; a named one must exist). Returns it and the file's
/// directory (manager CSVs named in it are relative to it).
pub fn load_config(globals: &Globals, config: Option<&PathBuf>) -> Result<(ReviewConfig, PathBuf)> {
    let path = crate::settings::config_file(globals.data_dir()?.root(), config);
    let dir = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let Some(text) = crate::settings::config_text(&path, config.is_some())? else {
        return Ok((ReviewConfig::default(), dir));
    };
    let cfg = ReviewConfig::parse(&text).map_err(|e| {
        anyhow::anyhow!(
            "the config file {} has an error in its [review] section, so it is not used: {e}",
            path.display()
        )
    })?;
    Ok((cfg, dir))
}

fn open(globals: &Globals, site: Option<&str>) -> Result<Reviews> {
    let log = globals.data_dir()?.open_log()?;
    let site = crate::cmd::query::pick_site(&log, site)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    Ok(Reviews::new(log, site, clock))
}

fn item_arg(raw: &str) -> Result<u32> {
    parse_item(raw).ok_or_else(|| {
        UsageError::new(format!("{raw:?} is not an item: items are i1, i2, ...")).into()
    })
}

fn time_arg(raw: &str, what: &str) -> Result<Timestamp> {
    match Moment::from_str(raw) {
        Ok(Moment::Time(t)) => Ok(t),
        _ => Err(UsageError::new(format!(
            "{what} must be an RFC 3339 time such as 2026-10-15T00:00:00Z"
        ))
        .into()),
    }
}

/// A scope as given on the command line or in `[[review.campaign]]`.
struct ScopeArgs<'a> {
    all: bool,
    groups: &'a [String],
    privileged: bool,
    projects: &'a [String],
    products: &'a [String],
    include_apps: bool,
    since: Option<&'a str>,
}

fn scope_from(cfg: &ReviewConfig, a: ScopeArgs<'_>) -> Result<CampaignScope> {
    let ScopeArgs {
        all,
        groups,
        privileged,
        projects,
        products,
        include_apps,
        since,
    } = a;
    let mut selectors = Vec::new();
    if all {
        selectors.push(ScopeSelector::AllGrants);
    }
    if !groups.is_empty() {
        selectors.push(ScopeSelector::Groups {
            patterns: groups.to_vec(),
        });
    }
    if privileged {
        selectors.push(ScopeSelector::PrivilegedGroups {
            patterns: cfg.privileged(),
        });
    }
    for p in projects {
        let (key, role) = match p.split_once(':') {
            Some((k, r)) => (k.trim(), Some(r.trim())),
            None => (p.trim(), None),
        };
        if key.is_empty() || role.is_some_and(str::is_empty) {
            return Err(UsageError::new(format!("--project {p:?}: write KEY or KEY:Role")).into());
        }
        selectors.push(ScopeSelector::ProjectRoles {
            projects: vec![key.to_owned()],
            roles: role.map(|r| vec![r.to_owned()]).unwrap_or_default(),
        });
    }
    if !products.is_empty() {
        selectors.push(ScopeSelector::ProductAccess {
            products: products
                .iter()
                .map(|p| ProductKey::from(p.trim()))
                .collect(),
        });
    }
    if selectors.is_empty() {
        return Err(UsageError::new(
            "the scope selects nothing: pass --all, --group, --privileged, --project or --product",
        )
        .into());
    }
    let mut account_types = vec![AccountType::Atlassian];
    if include_apps {
        account_types.push(AccountType::App);
    }
    let since = since.map(|raw| match Moment::from_str(raw) {
        Ok(Moment::Position(p)) => Since::Position(p),
        Ok(Moment::Time(t)) => Since::Time(t),
        Err(_) => Since::Campaign(CampaignId::from(raw.trim())),
    });
    Ok(CampaignScope {
        selectors,
        account_types,
        since,
    })
}

fn undecided_arg(raw: Option<&str>) -> Result<UndecidedRule> {
    match raw.map(|s| s.trim().to_lowercase()).as_deref() {
        None | Some("keep") => Ok(UndecidedRule::Keep),
        Some("revoke") => Ok(UndecidedRule::Revoke),
        Some(_) => Err(UsageError::new("undecided must be keep or revoke").into()),
    }
}

fn read_managers(path: &Path) -> Result<String> {
    crate::settings::read_small_text(path, 64 * 1024 * 1024)
        .map_err(|e| e.into_error(path, "the manager CSV"))
}

fn new_campaign(
    define: Define,
    cfg: &ReviewConfig,
    cfg_dir: &Path,
    actor: String,
) -> Result<NewCampaign> {
    let owners = cfg
        .owners
        .iter()
        .map(|o| OwnerArg {
            name: o.name.clone(),
            groups: o.groups.clone(),
            projects: o.projects.clone(),
            reviewer: o.reviewer.clone(),
        })
        .collect();
    if let Some(id) = &define.from_config {
        let d = cfg.campaign(id).ok_or_else(|| {
            UsageError::new(format!(
                "the config file's [review] section defines no campaign {id:?}"
            ))
        })?;
        let managers = match &d.managers {
            Some(m) => Some(read_managers(&cfg_dir.join(m))?),
            None => None,
        };
        return Ok(NewCampaign {
            id: Some(define.id.unwrap_or_else(|| d.id.clone())),
            name: d.name.clone(),
            scope: scope_from(
                cfg,
                ScopeArgs {
                    all: d.all,
                    groups: &d.groups,
                    privileged: d.privileged,
                    projects: &d.projects,
                    products: &d.products,
                    include_apps: d.include_apps,
                    since: d.since.as_deref(),
                },
            )?,
            owners,
            managers_csv: managers,
            fallback: define.fallback.or_else(|| d.fallback.clone()),
            due: d.due.as_deref().map(|t| time_arg(t, "due")).transpose()?,
            undecided: undecided_arg(d.undecided.as_deref())?,
            comment_required_for_revoke: d.require_revoke_comment,
            remediation_sync_limit: d.remediation_syncs.unwrap_or(2),
            actor,
        });
    }
    let managers = match &define.managers {
        Some(m) => Some(read_managers(m)?),
        None => None,
    };
    Ok(NewCampaign {
        id: define.id,
        name: define.name.unwrap_or_default(),
        scope: scope_from(
            cfg,
            ScopeArgs {
                all: define.all,
                groups: &define.group,
                privileged: define.privileged,
                projects: &define.project,
                products: &define.product,
                include_apps: define.include_apps,
                since: define.since.as_deref(),
            },
        )?,
        owners,
        managers_csv: managers,
        fallback: define.fallback,
        due: define
            .due
            .as_deref()
            .map(|t| time_arg(t, "--due"))
            .transpose()?,
        undecided: undecided_arg(define.undecided.as_deref())?,
        comment_required_for_revoke: define.require_revoke_comment,
        remediation_sync_limit: define.remediation_syncs.unwrap_or(2),
        actor,
    })
}

/// A campaign as shown (JSON and table).
#[derive(Debug, Serialize)]
struct Summary {
    id: String,
    name: String,
    status: &'static str,
    site: String,
    scope: Vec<String>,
    created_by: String,
    created_at: String,
    due: Option<String>,
    undecided_rule: &'static str,
    comment_required_for_revoke: bool,
    remediation_sync_limit: u32,
    items: u64,
    approved: u64,
    revoked: u64,
    undecided: u64,
    reviewers: Vec<ReviewerLine>,
    launch_position: Option<u64>,
    launch_head: Option<String>,
    launched_at: Option<String>,
    item_digest: Option<String>,
    closed_at: Option<String>,
    head_at_close: Option<String>,
    remediation: Vec<RemediationLine>,
}

#[derive(Debug, Serialize)]
struct ReviewerLine {
    reviewer: String,
    assigned: u64,
    decided: u64,
    approved: u64,
    revoked: u64,
}

#[derive(Debug, Serialize)]
struct RemediationLine {
    item: String,
    principal: String,
    entitlement: String,
    status: String,
}

fn summary(c: &Campaign, state: Option<&SiteState>) -> Summary {
    let d = c.def();
    let name_of = |a: &AccountId| state.map_or_else(|| a.to_string(), |s| view::person(s, a));
    let p = progress(c);
    let total = |k: usize| p.values().map(|r| r[k]).sum::<u64>();
    Summary {
        id: c.id.to_string(),
        name: d.name.clone(),
        status: c.status.as_str(),
        site: d.site.clone(),
        scope: scope::describe_scope(&d.scope),
        created_by: d.created_by.clone(),
        created_at: rfc3339(d.at),
        due: d.due.map(rfc3339),
        undecided_rule: match d.undecided {
            UndecidedRule::Keep => "kept",
            UndecidedRule::Revoke => "revoked",
        },
        comment_required_for_revoke: d.comment_required_for_revoke,
        remediation_sync_limit: d.remediation_sync_limit,
        items: c.items.len() as u64,
        approved: total(2),
        revoked: total(3),
        undecided: c.items.len() as u64 - total(1),
        reviewers: p
            .iter()
            .map(|(r, row)| ReviewerLine {
                reviewer: name_of(r),
                assigned: row[0],
                decided: row[1],
                approved: row[2],
                revoked: row[3],
            })
            .collect(),
        launch_position: c.launch.as_ref().map(|l| l.position),
        launch_head: c
            .launch
            .as_ref()
            .map(|l| format!("{}:{}", l.position, l.head_hash)),
        launched_at: c.launch.as_ref().map(|l| rfc3339(l.at)),
        item_digest: c.launch.as_ref().map(|l| l.digest.clone()),
        closed_at: c.closed.as_ref().map(|x| rfc3339(x.at)),
        head_at_close: c
            .closed
            .as_ref()
            .map(|x| format!("{}:{}", x.head_position, x.head_hash)),
        remediation: c
            .items
            .iter()
            .filter_map(|i| {
                let status = view::remediation_text(c, i)?;
                Some(RemediationLine {
                    item: format!("i{}", i.id),
                    principal: state.map_or_else(
                        || format!("{:?}", i.grant.principal),
                        |s| view::principal(s, &i.grant.principal),
                    ),
                    entitlement: state.map_or_else(
                        || format!("{:?}", i.grant.entitlement),
                        |s| view::entitlement(s, &i.grant.entitlement),
                    ),
                    status,
                })
            })
            .collect(),
    }
}

fn print_summary(c: &Campaign, state: Option<&SiteState>, format: Format) -> Result<()> {
    let s = summary(c, state);
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&s)?),
        Format::Table | Format::Csv => {
            let line = |k: &str, v: &str| println!("{k:<16}{}", escape(v));
            line("campaign", &s.id);
            line("name", &s.name);
            line("status", s.status);
            for (n, sc) in s.scope.iter().enumerate() {
                line(if n == 0 { "scope" } else { "" }, sc);
            }
            line("created", &format!("{} by {}", s.created_at, s.created_by));
            if let Some(d) = &s.due {
                line("due", d);
            }
            line("undecided", &format!("{} at close", s.undecided_rule));
            line(
                "items",
                &format!(
                    "{} ({} approved, {} revoked, {} undecided)",
                    s.items, s.approved, s.revoked, s.undecided
                ),
            );
            if let (Some(h), Some(d), Some(at)) = (&s.launch_head, &s.item_digest, &s.launched_at) {
                line("launched", at);
                line("launch head", h);
                line("item digest", d);
            }
            if let (Some(at), Some(h)) = (&s.closed_at, &s.head_at_close) {
                line("closed", at);
                line("head at close", h);
            }
            if !s.reviewers.is_empty() {
                println!();
                println!(
                    "{:<40} {:>8} {:>8} {:>8} {:>8}",
                    "REVIEWER", "ASSIGNED", "DECIDED", "APPROVED", "REVOKED"
                );
                for r in &s.reviewers {
                    println!(
                        "{:<40} {:>8} {:>8} {:>8} {:>8}",
                        escape(&r.reviewer),
                        r.assigned,
                        r.decided,
                        r.approved,
                        r.revoked
                    );
                }
            }
            if !s.remediation.is_empty() {
                println!();
                println!(
                    "{:<8} {:<40} {:<30} REMEDIATION",
                    "ITEM", "PRINCIPAL", "ENTITLEMENT"
                );
                for r in &s.remediation {
                    println!(
                        "{:<8} {:<40} {:<30} {}",
                        r.item,
                        escape(&r.principal),
                        escape(&r.entitlement),
                        escape(&r.status)
                    );
                }
            }
        }
    }
    Ok(())
}

fn views(
    reviews: &Reviews,
    cfg: &ReviewConfig,
    c: &Campaign,
    state: &SiteState,
    reviewer: Option<&AccountId>,
) -> Result<Vec<(ItemView, usize)>> {
    let all = reviews.all()?;
    let ctx = Context::build(reviews.log(), c, &all, cfg.privileged());
    Ok(c.items
        .iter()
        .enumerate()
        .filter(|(_, i)| reviewer.is_none_or(|r| i.reviewer == *r))
        .map(|(n, i)| (view::item_view(c, state, &ctx, i), n))
        .collect())
}

/// The CSV rows of items as viewed (`rows` pair a view with its item's index).
fn item_rows(c: &Campaign, rows: &[(ItemView, usize)]) -> Vec<bulk::ItemRow> {
    rows.iter()
        .map(|(v, n)| view::item_row(c, v, &c.items[*n]))
        .collect()
}

fn print_items(c: &Campaign, rows: &[(ItemView, usize)], format: Format) -> Result<()> {
    match format {
        Format::Json => {
            let v: Vec<&ItemView> = rows.iter().map(|(v, _)| v).collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Csv => {
            print!("{}", bulk::write_csv(&item_rows(c, rows)));
        }
        Format::Table => {
            if rows.is_empty() {
                println!("no items");
                return Ok(());
            }
            // Within 80 columns: the item's line, then its signals (when it has
            // any) indented under it; JSON and CSV have every cell whole.
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|(v, _)| {
                    vec![
                        v.item.clone(),
                        v.principal.clone(),
                        v.entitlement.clone(),
                        v.reviewer.clone(),
                        v.decision.clone(),
                    ]
                })
                .collect();
            let lines = crate::cmd::query::table(
                &["ITEM", "PRINCIPAL", "ENTITLEMENT", "REVIEWER", "DECISION"],
                &cells,
            );
            println!("{}", lines[0]);
            for ((v, _), line) in rows.iter().zip(&lines[1..]) {
                println!("{line}");
                if !v.signals.is_empty() {
                    println!(
                        "{}",
                        crate::cmd::query::fit(&format!("      {}", v.signals.join("; ")))
                    );
                }
            }
        }
    }
    Ok(())
}

/// Runs the verification step of every closed campaign and says what it
/// recorded (after a sync, and before `show`/`close`).
pub fn remediate_and_tell(reviews: &Reviews) {
    match reviews.remediate_all() {
        Ok(found) => {
            for (id, events) in found {
                let verified = events
                    .iter()
                    .filter(|e| matches!(e, Event::RemediationVerified(_)))
                    .count();
                let flagged = events.len() - verified;
                eprintln!(
                    "review {}: {verified} revocation(s) confirmed by a sync, {flagged} flagged (grantledger review show {})",
                    escape(id.as_str()),
                    escape(id.as_str())
                );
            }
        }
        Err(e) => eprintln!("warning: the review campaigns' verification step failed: {e}"),
    }
}

/// `grantledger review ...`
pub fn run(command: ReviewCommand, globals: &Globals) -> Result<ExitCode> {
    match command {
        ReviewCommand::Create {
            define,
            acting,
            common,
        } => {
            let (cfg, dir) = load_config(globals, common.config.as_ref())?;
            let reviews = open(globals, common.site.as_deref())?;
            let args = new_campaign(*define, &cfg, &dir, acting.actor)?;
            let c = reviews.create(args)?;
            let (state, _) = reviews.site_state()?;
            print_summary(&c, Some(&state), common.format)?;
            if common.format == Format::Table {
                eprintln!(
                    "next: grantledger review preview {0}, then grantledger review launch {0} --as ...",
                    escape(c.id.as_str())
                );
            }
        }
        ReviewCommand::Preview { id, common } => {
            let reviews = open(globals, common.site.as_deref())?;
            let p = reviews.preview(&id)?;
            let (state, _) = reviews.site_state()?;
            let named = |g: &Grant| {
                format!(
                    "{}: {}",
                    view::principal(&state, &g.principal),
                    view::entitlement(&state, &g.entitlement)
                )
            };
            let unassigned: Vec<String> = p.unassigned().map(named).collect();
            let no_reviewer: Vec<String> = p.no_reviewer_left.iter().map(named).collect();
            match common.format {
                Format::Json => {
                    let per: Vec<serde_json::Value> = p
                        .per_reviewer
                        .iter()
                        .map(|(r, n)| serde_json::json!({"reviewer": view::person(&state, r), "reviewer_id": r, "items": n}))
                        .collect();
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&serde_json::json!({
                            "campaign": id,
                            "position": p.position,
                            "items": p.items.len(),
                            "digest": p.digest,
                            "per_reviewer": per,
                            "self_review_to_fallback": p.self_review,
                            "unassigned": unassigned,
                            "no_reviewer_but_holder": no_reviewer,
                        }))?
                    );
                }
                _ => {
                    println!("{:<16}{}", "items", p.items.len());
                    println!("{:<16}{}", "at position", p.position);
                    println!("{:<16}{}", "digest", p.digest);
                    println!(
                        "{:<16}{} (their reviewer's own access)",
                        "to fallback", p.self_review
                    );
                    for (r, n) in &p.per_reviewer {
                        println!("  {:<40} {n}", escape(&view::person(&state, r)));
                    }
                    println!("{:<16}{}", "unassigned", unassigned.len());
                    for u in unassigned.iter().take(50) {
                        println!("  {}", escape(u));
                    }
                    println!(
                        "{:<16}{} (their only reviewer holds them)",
                        "no reviewer",
                        no_reviewer.len()
                    );
                    for u in no_reviewer.iter().take(50) {
                        println!("  {}", escape(u));
                    }
                }
            }
            if p.unassigned().next().is_some() {
                eprintln!("launch refuses unassigned items: add a fallback reviewer (review create --fallback) or owners in [review]");
            }
            if !p.no_reviewer_left.is_empty() {
                eprintln!("launch refuses items whose only reviewer is the person holding them: name another reviewer for them (an owner or manager rule), or a fallback who does not hold them");
            }
        }
        ReviewCommand::Launch { id, acting, common } => {
            let reviews = open(globals, common.site.as_deref())?;
            let c = reviews.launch(&id, &acting.actor)?;
            let (state, _) = reviews.site_state()?;
            print_summary(&c, Some(&state), common.format)?;
        }
        ReviewCommand::Show { id, common } => {
            let reviews = open(globals, common.site.as_deref())?;
            let _ = reviews.load(&id)?;
            remediate_and_tell(&reviews);
            let c = reviews.load(&id)?;
            let state = reviews.site_state().ok().map(|(s, _)| s);
            print_summary(&c, state.as_ref(), common.format)?;
        }
        ReviewCommand::Items {
            id,
            reviewer,
            common,
        } => {
            let (cfg, _) = load_config(globals, common.config.as_ref())?;
            let reviews = open(globals, common.site.as_deref())?;
            let c = reviews.load(&id)?;
            let (state, _) = reviews.site_state()?;
            let who = reviewer
                .map(|r| reviews.resolve_user(&state, &r))
                .transpose()?;
            let rows = views(&reviews, &cfg, &c, &state, who.as_ref())?;
            print_items(&c, &rows, common.format)?;
        }
        ReviewCommand::Decide {
            id,
            item,
            decision,
            comment,
            acting,
            common,
        } => {
            let reviews = open(globals, common.site.as_deref())?;
            let n = item_arg(&item)?;
            let d = if decision == "revoke" {
                Decision::Revoke
            } else {
                Decision::Approve
            };
            let c = reviews.decide(&id, n, &acting.actor, d, comment)?;
            let (state, _) = reviews.site_state()?;
            let v = view::item_view(
                &c,
                &state,
                &Context::default(),
                c.item(n).expect("decided item"),
            );
            match common.format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&v)?),
                _ => println!(
                    "{} {}: {} ({})",
                    escape(c.id.as_str()),
                    v.item,
                    v.decision,
                    escape(&format!("{} — {}", v.principal, v.entitlement))
                ),
            }
        }
        ReviewCommand::Reassign {
            id,
            item,
            to,
            comment,
            acting,
            common,
        } => {
            let reviews = open(globals, common.site.as_deref())?;
            let n = item_arg(&item)?;
            let c = reviews.reassign(&id, n, &acting.actor, &to, comment)?;
            let (state, _) = reviews.site_state()?;
            let it = c.item(n).expect("reassigned item");
            println!(
                "{} i{n}: now reviewed by {}{}",
                escape(c.id.as_str()),
                escape(&view::person(&state, &it.reviewer)),
                if it.self_review_reassigned {
                    " (the fallback: it is the named reviewer's own access)"
                } else {
                    ""
                }
            );
        }
        ReviewCommand::Export {
            id,
            out,
            acting,
            common,
        } => {
            let (cfg, _) = load_config(globals, common.config.as_ref())?;
            let reviews = open(globals, common.site.as_deref())?;
            let c = reviews.load(&id)?;
            let (state, _) = reviews.site_state()?;
            let who = reviews.resolve_user(&state, &acting.actor)?;
            let rows = views(&reviews, &cfg, &c, &state, Some(&who))?;
            let r = item_rows(&c, &rows);
            let text = bulk::write_csv(&r);
            match out {
                Some(path) => {
                    std::fs::write(&path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("{} item(s) written to {}", r.len(), path.display());
                }
                None => print!("{text}"),
            }
        }
        ReviewCommand::Import {
            id,
            file,
            acting,
            common,
        } => {
            let reviews = open(globals, common.site.as_deref())?;
            let text = crate::settings::read_small_text(&file, 256 * 1024 * 1024)
                .map_err(|e| e.into_error(&file, "the CSV file"))?;
            match reviews.import(&id, &acting.actor, &text) {
                Ok((_, decided)) => {
                    println!("{} decision(s) imported", decided.len());
                }
                Err(grantledger_review::ReviewError::Import(problems)) => {
                    for p in &problems {
                        eprintln!("{}: {}", file.display(), escape(&p.to_string()));
                    }
                    eprintln!(
                        "error: the import was refused, nothing was applied: fix the {} line(s) above and import the whole file again",
                        problems.len()
                    );
                    return Ok(ExitCode::FAILURE);
                }
                Err(e) => return Err(e.into()),
            }
        }
        ReviewCommand::Close {
            id,
            acting,
            connect,
        } => return close(globals, &id, &acting.actor, &connect),
        ReviewCommand::Verify { id, common } => {
            let reviews = open(globals, common.site.as_deref())?;
            let v = reviews.verify(&id)?;
            match common.format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "campaign": id,
                        "launch_position": v.position,
                        "head_matches": v.head_matches,
                        "recorded": {"items": v.recorded.0, "digest": v.recorded.1},
                        "recomputed": {"items": v.recomputed.0, "digest": v.recomputed.1},
                        "items_match": v.items_match,
                        "ok": v.ok(),
                    }))?
                ),
                _ => {
                    println!("{:<22}{}", "launch position", v.position);
                    println!("{:<22}{} items, {}", "recorded", v.recorded.0, v.recorded.1);
                    println!(
                        "{:<22}{} items, {}",
                        "recomputed from log", v.recomputed.0, v.recomputed.1
                    );
                    println!(
                        "{:<22}{}",
                        "head hash at launch",
                        if v.head_matches { "matches" } else { "DIFFERS" }
                    );
                    println!(
                        "{:<22}{}",
                        "stored items",
                        if v.items_match { "match" } else { "DIFFER" }
                    );
                }
            }
            if !v.ok() {
                eprintln!("error: campaign {} does not verify: its items are not what the log held at its launch position", escape(&id));
                return Ok(ExitCode::FAILURE);
            }
        }
        ReviewCommand::Compare { a, b, common } => {
            let reviews = open(globals, common.site.as_deref())?;
            let (ca, cb) = (reviews.load(&a)?, reviews.load(&b)?);
            let (cmp, swapped) = grantledger_review::compare::compare(&ca, &cb)?;
            let (early, late) = if swapped { (&cb, &ca) } else { (&ca, &cb) };
            let state = reviews.site_state().ok().map(|(s, _)| s);
            let name = |g: &Grant| match &state {
                Some(s) => format!(
                    "{} — {}",
                    view::principal(s, &g.principal),
                    view::entitlement(s, &g.entitlement)
                ),
                None => format!("{g:?}"),
            };
            let names = |gs: &[Grant]| gs.iter().map(name).collect::<Vec<_>>();
            let flipped: Vec<String> = cmp
                .flipped
                .iter()
                .map(|(g, x, y)| format!("{}: {} -> {}", name(g), x.as_str(), y.as_str()))
                .collect();
            match common.format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "earlier": early.id,
                        "later": late.id,
                        "same_scope": cmp.same_scope,
                        "appeared": names(&cmp.appeared),
                        "went": names(&cmp.went),
                        "flipped": flipped,
                        "revoked_then_granted": names(&cmp.revoked_then_granted),
                    }))?
                ),
                _ => {
                    println!(
                        "{} (earlier) -> {} (later)",
                        escape(early.id.as_str()),
                        escape(late.id.as_str())
                    );
                    if !cmp.same_scope {
                        println!("warning: the two scopes differ; the comparison mixes scope and access changes");
                    }
                    for (title, list) in [
                        ("appeared", names(&cmp.appeared)),
                        ("went", names(&cmp.went)),
                        ("decision flipped", flipped),
                        (
                            "revoked, then granted again",
                            names(&cmp.revoked_then_granted),
                        ),
                    ] {
                        println!("{title}: {}", list.len());
                        for l in list {
                            println!("  {}", escape(&l));
                        }
                    }
                }
            }
        }
        ReviewCommand::Report { id, out, common } => {
            let (cfg, _) = load_config(globals, common.config.as_ref())?;
            let reviews = open(globals, common.site.as_deref())?;
            let _ = reviews.load(&id)?;
            remediate_and_tell(&reviews);
            let c = reviews.load(&id)?;
            let (state, _) = reviews.site_state()?;
            let all = reviews.all()?;
            let ctx = Context::build(reviews.log(), &c, &all, cfg.privileged());
            let report = grantledger_review::report::campaign_report(
                &c,
                &state,
                &ctx,
                reviews.clock().now(),
                concat!("grantledger ", env!("CARGO_PKG_VERSION")),
            );
            let html = grantledger_report::render_html(&report);
            match out {
                Some(path) => {
                    std::fs::write(&path, html)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("report written to {}", path.display());
                }
                None => print!("{html}"),
            }
        }
        ReviewCommand::List { common } => {
            let reviews = open(globals, common.site.as_deref())?;
            let all = reviews.all()?;
            match common.format {
                Format::Json => {
                    let s: Vec<Summary> = all.iter().map(|c| summary(c, None)).collect();
                    println!("{}", serde_json::to_string_pretty(&s)?);
                }
                _ => {
                    if all.is_empty() {
                        println!("no campaigns");
                    } else {
                        println!(
                            "{:<12} {:<8} {:>8} {:>10} NAME",
                            "ID", "STATUS", "ITEMS", "UNDECIDED"
                        );
                        for c in &all {
                            let undecided = c.items.iter().filter(|i| i.decision.is_none()).count();
                            println!(
                                "{:<12} {:<8} {:>8} {:>10} {}",
                                escape(c.id.as_str()),
                                c.status.as_str(),
                                c.items.len(),
                                undecided,
                                escape(&c.def().name)
                            );
                        }
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn close(globals: &Globals, id: &str, actor: &str, connect: &ConnectArgs) -> Result<ExitCode> {
    let data_dir = globals.data_dir()?;
    let conn = settings::resolve(connect, data_dir.root())?;
    let reviews = open(globals, Some(&conn.site_name))?;
    let c = reviews.load(id)?;
    if c.status == grantledger_review::Status::Open {
        reviews.close(id, actor)?;
    }
    let c = reviews.load(id)?;
    if grantledger_review::campaign::pending_revocations(&c).is_empty()
        && !c.items.iter().any(|i| {
            matches!(
                i.remediation,
                Some(grantledger_review::Remediation::Issued { .. })
            )
        })
    {
        remediate_and_tell(&reviews);
        let state = reviews.site_state().ok().map(|(s, _)| s);
        print_summary(&reviews.load(id)?, state.as_ref(), Format::Table)?;
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let client = runtime.block_on(JiraClient::connect(conn.jira))?;
    let executor = Executor::new(
        reviews.log().clone(),
        reviews.clock().clone(),
        DrivePolicy::default(),
    )
    .with_site(reviews.site().to_owned(), client);
    let (c, _) = reviews.issue_revocations(id, &executor)?;
    let mut failed = 0;
    for item in &c.items {
        if let Some(grantledger_review::Remediation::Issued { command, .. }) = &item.remediation {
            match runtime.block_on(executor.drive(command)) {
                Ok(o) if o.is_success() => {}
                Ok(_) => failed += 1,
                Err(e) => {
                    failed += 1;
                    eprintln!("warning: command {command} is unfinished: {e} (grantledger commands drive finishes it)");
                }
            }
        }
    }
    remediate_and_tell(&reviews);
    let state = reviews.site_state().ok().map(|(s, _)| s);
    print_summary(&reviews.load(id)?, state.as_ref(), Format::Table)?;
    eprintln!("the removals are confirmed by the next `grantledger sync` (each item's remediation becomes \"verified by sync run ...\")");
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
