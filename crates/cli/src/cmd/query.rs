//! `grantledger access user|who`, `history`, `diff`: the auditor's questions,
//! answered from the log by `grantledger-projection`. This module only picks the
//! site and the moment, calls the library and lays the answer out as a table
//! (80 columns), JSON (schemas in `schemas/`) or CSV. Every name from Jira is
//! escaped before it reaches the terminal.
//!
//! (About 700 lines: the four query commands share their moment parsing, site
//! choice, 80-column tables, CSV and JSON output, which are kept together so
//! that every answer is rendered one way.)

use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand, ValueEnum};
use grantledger_eventlog::{ClosedHead, EventLog, Position};
use grantledger_projection::query::DEFAULT_SNAPSHOT_EVERY;
use grantledger_projection::report::{self, AsOf, GroupBy, PrincipalView};
use grantledger_projection::resolve::{self, Resolved};
use grantledger_projection::text::escape;
use grantledger_projection::{
    effective, Moment, Queries, QueryError, SiteState, SnapshotStore, StatePreload, Target,
};

use crate::datadir::ReadLog;
use crate::Globals;

/// Output formats of the query commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for a terminal (80 columns)
    Table,
    /// One JSON document (schemas/*.schema.json)
    Json,
    /// CSV with a header row
    Csv,
}

/// What every query takes.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Answer as of this moment: an RFC 3339 time (2026-03-01T12:00:00Z) or a log
    /// position [default: now]
    #[arg(long, value_name = "TIME|POSITION", value_parser = parse_moment)]
    as_of: Option<Moment>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The site, when the log holds more than one
    #[arg(long, value_name = "SITE")]
    site: Option<String>,
}

impl QueryArgs {
    /// Now, as a table, on the log's only site.
    fn now_table() -> Self {
        QueryArgs {
            as_of: None,
            format: Format::Table,
            site: None,
        }
    }
}

impl AccessCommand {
    /// `access who TARGET`, now, as a table.
    pub fn who(target: &str) -> Self {
        AccessCommand::Who {
            target: target.to_owned(),
            args: QueryArgs::now_table(),
        }
    }
}

impl HistoryArgs {
    /// `history SUBJECT --limit LIMIT`, now, as a table.
    pub fn of(subject: &str, limit: usize) -> Self {
        HistoryArgs {
            subject: subject.to_owned(),
            limit,
            args: QueryArgs::now_table(),
        }
    }
}

fn parse_moment(raw: &str) -> std::result::Result<Moment, String> {
    raw.parse()
}

/// `grantledger access ...`
#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Everything a user can reach, direct and through groups, with the path
    User {
        /// Account id, email or display name (case-insensitive)
        user: String,
        #[command(flatten)]
        args: QueryArgs,
    },
    /// Everyone who holds a group, a project role or a product, direct and through groups
    Who {
        /// A group name, PROJECTKEY, PROJECTKEY:Role, or a product key or name
        target: String,
        #[command(flatten)]
        args: QueryArgs,
    },
}

/// `grantledger history`
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// A user (id, email, name), a group, a project key or PROJECTKEY:Role
    subject: String,
    /// Show at most this many changes, newest first (0 for all)
    #[arg(long, default_value_t = 100)]
    limit: usize,
    #[command(flatten)]
    args: QueryArgs,
}

/// How diff rows are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum By {
    /// By entitlement, then holder
    Entitlement,
    /// By holder, then entitlement
    User,
}

/// `grantledger diff`
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Start (exclusive): a time or a position [default: the end of the second-to-last completed sync]
    #[arg(long, value_name = "TIME|POSITION", value_parser = parse_moment, requires = "to")]
    from: Option<Moment>,
    /// End (inclusive): a time or a position [default: the end of the last completed sync]
    #[arg(long, value_name = "TIME|POSITION", value_parser = parse_moment, requires = "from")]
    to: Option<Moment>,
    /// Also list every change in the window, including grants added and removed within it
    #[arg(long)]
    all: bool,
    /// Order rows by entitlement or by user
    #[arg(long, value_enum, default_value_t = By::Entitlement)]
    by: By,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The site, when the log holds more than one
    #[arg(long, value_name = "SITE")]
    site: Option<String>,
}

/// The site's queries, with the snapshot cache beside the log, and the log as
/// opened for reading (a private copy when it is held, read-only or on a full
/// disk: keep it alive as long as the queries).
pub(crate) fn open(globals: &Globals, site: Option<&str>) -> Result<(Queries, ReadLog)> {
    let data = globals.data_dir()?;
    let store = SnapshotStore::new(data.root().join("snapshots"));
    // The newest state snapshot is read while the log opens; it is used only
    // once the log has its hash.
    let preload = if data.has_log() {
        StatePreload::start(&store, site)
    } else {
        None
    };
    open_with(globals, store, preload, site)
}

fn open_with(
    globals: &Globals,
    store: SnapshotStore,
    preload: Option<StatePreload>,
    site: Option<&str>,
) -> Result<(Queries, ReadLog)> {
    let read = globals.data_dir()?.open_for_reading(globals.verbose)?;
    let log = read.log.clone();
    let site = pick_site(&log, site)?;
    Ok((
        Queries::new(log, site)
            .with_snapshots(store, DEFAULT_SNAPSHOT_EVERY)
            .with_preload(preload),
        read,
    ))
}

/// What `access` answers from: the state at the moment asked for (`past`, when
/// it is not the head), the head's, and the log when it had to be opened.
struct Answering {
    site: String,
    past: Option<Kept>,
    head: Kept,
    as_of: AsOf,
    _opened: Option<(Queries, ReadLog)>,
}

/// Opens what `access` needs. Asked about the head of a log that was closed in
/// order at exactly the position and hash its newest state snapshot covers, the
/// log is not opened at all: its `closed` file names that head, and nothing has
/// opened the log since (ADR 0025). Otherwise the log is opened as for every
/// query, the snapshot being read meanwhile still used.
fn answering(globals: &Globals, site: Option<&str>, moment: Option<Moment>) -> Result<Answering> {
    let data = globals.data_dir()?;
    let store = SnapshotStore::new(data.root().join("snapshots"));
    let mut preload = if data.has_log() {
        StatePreload::start(&store, site)
    } else {
        None
    };
    let closed = if moment.is_none() && preload.is_some() {
        ClosedHead::read(data.log_dir())
    } else {
        None
    };
    if let (Some(closed), Some(p)) = (closed, preload.take()) {
        // The site the usual path would pick (`pick_site`), from the closed head.
        let picked = match site {
            Some(s) => closed.sites.iter().find(|x| x.as_str() == s),
            None if closed.sites.len() == 1 => closed.sites.first(),
            None => None,
        };
        if picked.is_some_and(|s| s == p.site()) {
            let name = p.site().to_owned();
            match p.at_closed_head(&closed) {
                Ok(Some(state)) => {
                    tracing::debug!(
                        position = closed.position,
                        "answering from the state snapshot at the closed head"
                    );
                    return Ok(Answering {
                        site: name,
                        past: None,
                        head: ManuallyDrop::new(state),
                        as_of: AsOf {
                            position: closed.position,
                            recorded_at: closed.recorded_at.map(grantledger_projection::rfc3339),
                        },
                        _opened: None,
                    });
                }
                Ok(None) => {}
                Err(p) => preload = Some(p),
            }
        } else {
            preload = Some(p);
        }
    }
    let (q, read) = open_with(globals, store, preload, site)?;
    let (past, head, as_of) = at_moment(&q, moment)?;
    Ok(Answering {
        site: q.site().to_owned(),
        past,
        head,
        as_of,
        _opened: Some((q, read)),
    })
}

pub(crate) fn pick_site(log: &EventLog, asked: Option<&str>) -> Result<String> {
    let sites: Vec<String> = log
        .streams()?
        .into_iter()
        .filter_map(|(s, _)| s.as_str().strip_prefix("jira:").map(str::to_owned))
        .collect();
    match (asked, sites.as_slice()) {
        (Some(s), _) if sites.iter().any(|x| x == s) => Ok(s.to_owned()),
        (Some(s), _) => bail!(
            "the log holds nothing about site {}; it holds: {}",
            escape(s),
            list_or_none(&sites)
        ),
        (None, [one]) => Ok(one.clone()),
        (None, []) => bail!("the log holds no site yet; run `grantledger sync` first"),
        (None, _) => bail!(
            "the log holds several sites; pass --site with one of: {}",
            list_or_none(&sites)
        ),
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items
            .iter()
            .map(|s| escape(s))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A state a query command reads until the process ends. Not freed: the
/// operating system takes a process's memory back at once, while freeing a large
/// site's maps one entry at a time costs about a fifth of loading them.
type Kept = ManuallyDrop<SiteState>;

/// The state at the moment asked for when that is not the head (`None` for the
/// head: callers use the head itself, uncopied), the head's state, and the
/// moment as shown. `resolve` refuses a site no sync completed.
fn at_moment(q: &Queries, moment: Option<Moment>) -> Result<(Option<Kept>, Kept, AsOf)> {
    let head = ManuallyDrop::new(q.current()?);
    let position = q.resolve(moment.unwrap_or(Moment::Position(head.position)), &head)?;
    let as_of = as_of(q, position)?;
    let past = if position == head.position {
        None
    } else {
        Some(ManuallyDrop::new(q.state_at(position)?))
    };
    Ok((past, head, as_of))
}

fn as_of(q: &Queries, position: Position) -> Result<AsOf> {
    Ok(AsOf::after(position, q.log().get(position)?.as_ref()))
}

/// Resolves in the state asked about, then (for something gone since) at the head.
fn resolve_twice<T>(
    state: &SiteState,
    head: &SiteState,
    f: impl Fn(&SiteState) -> std::result::Result<T, QueryError>,
) -> std::result::Result<T, QueryError> {
    match f(state) {
        Err(QueryError::NotFound { .. }) if state.position != head.position => f(head),
        other => other,
    }
}

/// Runs `access user|who`.
pub fn run_access(command: AccessCommand, globals: &Globals) -> Result<ExitCode> {
    match command {
        AccessCommand::User { user, args } => {
            let a = answering(globals, args.site.as_deref(), args.as_of)?;
            let state = a.past.as_ref().unwrap_or(&a.head);
            let id = resolve_twice(state, &a.head, |s| resolve::user(s, &user))?;
            let r = report::access_user(&a.site, state, a.as_of.clone(), &id);
            emit(
                args.format,
                &r,
                || {
                    let u = &r.user;
                    let mut out = vec![
                        fit(&who_line(u)),
                        fit(&format!("as of {}", moment_line(&r.as_of))),
                        String::new(),
                    ];
                    let rows = r
                        .access
                        .iter()
                        .map(|a| {
                            vec![
                                kind_word(&a.entitlement.kind).into(),
                                a.entitlement.name.clone(),
                                via_text(a.via.as_ref()),
                            ]
                        })
                        .collect::<Vec<_>>();
                    out.extend(table(&["KIND", "ENTITLEMENT", "PATH"], &rows));
                    if r.access.is_empty() {
                        out.push("(no access)".into());
                    }
                    out
                },
                || {
                    csv(
                        &[
                            "kind",
                            "entitlement_id",
                            "entitlement",
                            "via_group_id",
                            "via_group",
                        ],
                        r.access.iter().map(|a| {
                            vec![
                                a.entitlement.kind.clone(),
                                a.entitlement.id.clone(),
                                a.entitlement.name.clone(),
                                a.via.as_ref().map_or_else(String::new, |v| v.id.clone()),
                                a.via.as_ref().map_or_else(String::new, |v| v.name.clone()),
                            ]
                        }),
                    )
                },
            )
        }
        AccessCommand::Who { target, args } => {
            let a = answering(globals, args.site.as_deref(), args.as_of)?;
            let state = a.past.as_ref().unwrap_or(&a.head);
            let resolved = resolve_twice(state, &a.head, |s| resolve::target(s, &target))?;
            let targets: Vec<Target> = match resolved {
                Resolved::Target(t) => vec![t],
                Resolved::Project(p) => effective::project_roles(state, &p),
            };
            let r = report::access_who(&a.site, state, a.as_of.clone(), &targets);
            let many = targets.len() > 1;
            emit(
                args.format,
                &r,
                || {
                    let names: Vec<String> =
                        r.entitlements.iter().map(|e| e.name.clone()).collect();
                    let mut out = vec![
                        fit(&format!("Who holds {}", names.join(", "))),
                        fit(&format!("as of {}", moment_line(&r.as_of))),
                        String::new(),
                    ];
                    let mut header = vec!["HOLDER", "EMAIL / ID", "STATUS", "PATH"];
                    if many {
                        header.insert(0, "ROLE");
                    }
                    let rows = r
                        .holders
                        .iter()
                        .map(|h| {
                            let mut row = vec![
                                name_or_id(&h.principal),
                                h.principal
                                    .email
                                    .clone()
                                    .unwrap_or_else(|| h.principal.id.clone()),
                                h.principal.status.clone().unwrap_or_else(|| "group".into()),
                                via_text(h.via.as_ref()),
                            ];
                            if many {
                                row.insert(0, h.entitlement.name.clone());
                            }
                            row
                        })
                        .collect::<Vec<_>>();
                    out.extend(table(&header, &rows));
                    if r.holders.is_empty() {
                        out.push("(nobody)".into());
                    }
                    out
                },
                || {
                    csv(
                        &[
                            "entitlement_kind",
                            "entitlement_id",
                            "entitlement",
                            "holder_kind",
                            "holder_id",
                            "holder",
                            "email",
                            "status",
                            "via_group_id",
                            "via_group",
                        ],
                        r.holders.iter().map(|h| {
                            vec![
                                h.entitlement.kind.clone(),
                                h.entitlement.id.clone(),
                                h.entitlement.name.clone(),
                                h.principal.kind.clone(),
                                h.principal.id.clone(),
                                h.principal.name.clone(),
                                h.principal.email.clone().unwrap_or_default(),
                                h.principal.status.clone().unwrap_or_default(),
                                h.via.as_ref().map_or_else(String::new, |v| v.id.clone()),
                                h.via.as_ref().map_or_else(String::new, |v| v.name.clone()),
                            ]
                        }),
                    )
                },
            )
        }
    }
}

/// Runs `history`.
pub fn run_history(a: HistoryArgs, globals: &Globals) -> Result<ExitCode> {
    let (q, _log) = open(globals, a.args.site.as_deref())?;
    let (past, head, as_of) = at_moment(&q, a.args.as_of)?;
    let state = past.as_ref().unwrap_or(&head);
    let subject = resolve_twice(state, &head, |s| resolve::subject(s, &a.subject))?;
    let index = ManuallyDrop::new(q.index()?);
    let limit = (a.limit > 0).then_some(a.limit);
    let (records, total) = q.history(&index, &subject, as_of.position, limit)?;
    // Names as of the end of the history (the head's for what is gone since).
    let mut r = report::history(q.site(), state, as_of, &subject, &records, total);
    // Who made each observed change in Jira, from its audit log (ADR 0019).
    let trail = q.audit_trail()?;
    report::attribute(&mut r, &records, &trail, &head);
    emit(
        a.args.format,
        &r,
        || {
            let mut out = vec![
                fit(&format!(
                    "History of {} {}",
                    r.subject_kind.replace('_', " "),
                    if r.subject_name.is_empty() {
                        &r.subject_id
                    } else {
                        &r.subject_name
                    },
                )),
                fit(&format!(
                    "up to {}: {} of {} changes, newest first",
                    moment_line(&r.as_of),
                    r.entries.len(),
                    r.total
                )),
                String::new(),
            ];
            let rows = r
                .entries
                .iter()
                .map(|e| {
                    vec![
                        e.position.to_string(),
                        short_time(&e.recorded_at),
                        e.summary.clone(),
                        e.cause
                            .clone()
                            .or_else(|| e.sync_run.as_ref().map(|r| format!("sync run {r}")))
                            .unwrap_or_default(),
                    ]
                })
                .collect::<Vec<_>>();
            // Who made each observed change in Jira, when the audit log was read.
            if r.entries.iter().any(|e| e.in_jira.is_some()) {
                let rows = r
                    .entries
                    .iter()
                    .zip(rows)
                    .map(|(e, mut row)| {
                        row.push(e.in_jira.as_ref().map(in_jira_cell).unwrap_or_default());
                        row
                    })
                    .collect::<Vec<_>>();
                out.extend(table(
                    &["POS", "TIME (UTC)", "CHANGE", "CAUSE", "IN JIRA"],
                    &rows,
                ));
                out.push(String::new());
                out.push(fit(
                    "IN JIRA: who made the change, from Jira's audit log; \"no audit record\": made outside it (admin.atlassian.com, provisioning) or before its retention (--format json says which)",
                ));
            } else {
                out.extend(table(&["POS", "TIME (UTC)", "CHANGE", "CAUSE"], &rows));
            }
            out
        },
        || {
            csv(
                &[
                    "position",
                    "recorded_at",
                    "event_type",
                    "summary",
                    "cause",
                    "sync_run",
                    "in_jira",
                ],
                r.entries.iter().map(|e| {
                    vec![
                        e.position.to_string(),
                        e.recorded_at.clone(),
                        e.event_type.clone(),
                        e.summary.clone(),
                        e.cause.clone().unwrap_or_default(),
                        e.sync_run.clone().unwrap_or_default(),
                        e.in_jira
                            .as_ref()
                            .map(|j| j.text.clone())
                            .unwrap_or_default(),
                    ]
                }),
            )
        },
    )
}

/// The `IN JIRA` cell of a history row: `Alex Kim at 10:42 06-05`, `no author
/// at 10:42 06-05` (made outside Jira), `no audit record`.
pub(crate) fn in_jira_cell(j: &report::JiraAttribution) -> String {
    let when =
        j.at.as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.format(" at %H:%M %m-%d").to_string())
            .unwrap_or_default();
    match (&j.audit_record, &j.author_name, &j.author_account_id) {
        (None, _, _) => "no audit record".into(),
        (Some(_), Some(name), _) => format!("{name}{when}"),
        (Some(_), None, Some(id)) => format!("account {id}{when}"),
        (Some(_), None, None) => format!("no author{when}"),
    }
}

/// Runs `diff`.
pub fn run_diff(a: DiffArgs, globals: &Globals) -> Result<ExitCode> {
    let (q, _log) = open(globals, a.site.as_deref())?;
    let head = q.current()?;
    let (from, to) = match (a.from, a.to) {
        (Some(f), Some(t)) => (q.resolve(f, &head)?, q.resolve(t, &head)?),
        _ => Queries::default_window(&head)?,
    };
    let d = q.diff(from, to)?;
    let by = match a.by {
        By::Entitlement => GroupBy::Entitlement,
        By::User => GroupBy::Principal,
    };
    let r = report::diff(q.site(), &d, as_of(&q, from)?, as_of(&q, to)?, a.all, by);
    let row = |c: &report::DiffRow| {
        vec![
            if c.change == "added" { "+" } else { "-" }.to_owned(),
            name_or_id(&c.principal),
            format!("{} {}", kind_word(&c.entitlement.kind), c.entitlement.name),
            c.position.map_or_else(String::new, |p| p.to_string()),
            c.cause.clone().unwrap_or_default(),
        ]
    };
    emit(
        a.format,
        &r,
        || {
            let mut out = vec![
                fit(&format!("Changes after {}", moment_line(&r.from))),
                fit(&format!("      up to {}", moment_line(&r.to))),
                String::new(),
                format!("Net: {} changes", r.net.len()),
            ];
            let rows: Vec<Vec<String>> = r.net.iter().map(row).collect();
            out.extend(table(&["", "HOLDER", "ENTITLEMENT", "POS", "CAUSE"], &rows));
            if let Some(all) = &r.all {
                out.push(String::new());
                out.push(format!("All: {} records", all.len()));
                let rows: Vec<Vec<String>> = all.iter().map(row).collect();
                out.extend(table(&["", "HOLDER", "ENTITLEMENT", "POS", "CAUSE"], &rows));
            }
            out
        },
        || {
            let line = |scope: &str, c: &report::DiffRow| {
                vec![
                    scope.to_owned(),
                    c.change.clone(),
                    c.principal.kind.clone(),
                    c.principal.id.clone(),
                    c.principal.name.clone(),
                    c.entitlement.kind.clone(),
                    c.entitlement.id.clone(),
                    c.entitlement.name.clone(),
                    c.position.map_or_else(String::new, |p| p.to_string()),
                    c.recorded_at.clone().unwrap_or_default(),
                    c.cause.clone().unwrap_or_default(),
                ]
            };
            csv(
                &[
                    "scope",
                    "change",
                    "holder_kind",
                    "holder_id",
                    "holder",
                    "entitlement_kind",
                    "entitlement_id",
                    "entitlement",
                    "position",
                    "recorded_at",
                    "cause",
                ],
                r.net
                    .iter()
                    .map(|c| line("net", c))
                    .chain(r.all.iter().flatten().map(|c| line("all", c))),
            )
        },
    )
}

pub(crate) fn emit<T: serde::Serialize>(
    format: Format,
    value: &T,
    table: impl FnOnce() -> Vec<String>,
    csv: impl FnOnce() -> String,
) -> Result<ExitCode> {
    let mut out = io::stdout().lock();
    match format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(value).context("encoding JSON")?;
            text.push('\n');
            out.write_all(text.as_bytes())?;
        }
        Format::Csv => out.write_all(csv().as_bytes())?,
        Format::Table => {
            for line in table() {
                writeln!(out, "{line}")?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn kind_word(kind: &str) -> &'static str {
    match kind {
        "group" => "group",
        "project_role" => "role",
        "product" => "product",
        _ => "?",
    }
}

pub(crate) fn name_or_id(p: &PrincipalView) -> String {
    let name = if p.name.is_empty() { &p.id } else { &p.name };
    if p.kind == "group" {
        format!("group {name}")
    } else {
        name.clone()
    }
}

fn who_line(u: &PrincipalView) -> String {
    let mut s = if u.name.is_empty() {
        u.id.clone()
    } else {
        u.name.clone()
    };
    if let Some(e) = &u.email {
        s.push_str(&format!(" <{e}>"));
    }
    s.push_str(&format!(
        " ({}, {})",
        u.id,
        u.status.as_deref().unwrap_or("unknown")
    ));
    s
}

/// One line of free text for the terminal: escaped, and cut to [`WIDTH`].
pub(crate) fn fit(line: &str) -> String {
    cut(&escape(line), WIDTH)
}

fn via_text(via: Option<&PrincipalView>) -> String {
    match via {
        None => "direct".into(),
        Some(g) => format!(
            "via group {}",
            if g.name.is_empty() { &g.id } else { &g.name }
        ),
    }
}

pub(crate) fn moment_line(a: &AsOf) -> String {
    match &a.recorded_at {
        Some(t) => format!("position {} ({t})", a.position),
        None => format!("position {}", a.position),
    }
}

/// `2026-03-01T12:00:00Z` -> `2026-03-01 12:00`.
pub(crate) fn short_time(rfc: &str) -> String {
    rfc.get(..16)
        .map_or_else(|| rfc.to_owned(), |s| s.replace('T', " "))
}

/// Width of the terminal the tables fit.
const WIDTH: usize = 80;

/// Lays out rows under a header within [`WIDTH`] columns: every cell escaped,
/// the widest columns cut (with `…`) until the line fits.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| escape(c)).collect())
        .collect();
    let n = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let budget = WIDTH - 2 * (n - 1);
    while widths.iter().sum::<usize>() > budget {
        let (i, w) = widths
            .iter()
            .enumerate()
            .max_by_key(|(_, w)| **w)
            .map(|(i, w)| (i, *w))
            .expect("a column");
        widths[i] = w - 1;
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.into_iter().enumerate() {
            let cut = cut(&c, widths[i]);
            if i + 1 < n {
                s.push_str(&format!("{cut:<w$}  ", w = widths[i]));
            } else {
                s.push_str(&cut);
            }
        }
        s.trim_end().to_owned()
    };
    let mut out = vec![line(header.iter().map(|h| (*h).to_owned()).collect())];
    out.extend(rows.into_iter().map(line));
    out
}

fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else if width == 0 {
        String::new()
    } else {
        let mut t: String = s.chars().take(width - 1).collect();
        t.push('…');
        t
    }
}

/// RFC 4180 CSV; cells escaped like table cells (no raw control characters).
pub(crate) fn csv(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    fn cell(c: &str) -> String {
        // A spreadsheet runs a cell that starts like a formula: a name from
        // Jira such as `=HYPERLINK(...)` is made text with a leading quote, by
        // the rule the review's CSV uses.
        let c = grantledger_review::bulk::excel_safe(&escape(c));
        if c.contains([',', '"', '\'']) {
            format!("\"{}\"", c.replace('"', "\"\""))
        } else {
            c
        }
    }
    let mut out = header.join(",");
    out.push('\n');
    for r in rows {
        out.push_str(&r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_fit_80_columns_and_escape_names() {
        let rows = vec![vec![
            "a\x1b[31mred".to_owned(),
            "x".repeat(120),
            "y".repeat(50),
        ]];
        let lines = table(&["A", "B", "C"], &rows);
        assert!(
            lines.iter().all(|l| l.chars().count() <= WIDTH),
            "{lines:#?}"
        );
        assert!(lines[1].starts_with("a\\u{1b}[31mred"));
        assert!(!lines.concat().contains('\x1b'));
    }

    #[test]
    fn csv_quotes_and_escapes() {
        let out = csv(
            &["a", "b"],
            std::iter::once(vec!["x,\"y\"".into(), "l1\nl2".into()]),
        );
        assert_eq!(out, "a,b\n\"x,\"\"y\"\"\",l1\\u{a}l2\n");
    }

    #[test]
    fn csv_cells_that_look_like_formulas_are_made_text() {
        let out = csv(
            &["name"],
            ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "plain"]
                .into_iter()
                .map(|c| vec![c.to_owned()]),
        );
        assert_eq!(
            out,
            "name\n\"'=HYPERLINK(\"\"x\"\")\"\n\"'+1\"\n\"'-2\"\n\"'@SUM(A1)\"\nplain\n"
        );
    }
}
