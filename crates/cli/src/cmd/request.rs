//! `grantledger request create|approve|deny|cancel|extend|revoke|show|list` and
//! `grantledger jit run`: just-in-time access, from `grantledger-jit`. This
//! module reads the policies from the config file, opens the log, names the
//! acting person (`--as`, a stand-in until the server brings sign-in) and lays
//! the answers out as a table or JSON.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use grantledger_clock::{Clock, SystemClock};
use grantledger_eventlog::EventLog;
use grantledger_jit::policy::{format_duration, parse_duration};
use grantledger_jit::{CreateArgs, Jit, ListFilter, Policies, Request, Status};
use grantledger_projection::rfc3339;
use grantledger_projection::text::escape;
use serde::Serialize;

use crate::datadir::ReadLog;
use crate::Globals;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Lines for a terminal
    Table,
    /// One JSON document
    Json,
}

/// What every request command takes.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The site, when the log holds more than one
    #[arg(long, value_name = "SITE")]
    site: Option<String>,
    /// The config file with the [jit] policies [default: <data-dir>/grantledger.toml]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

pub use super::Acting;

/// `grantledger request ...`
#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// Ask for time-bound access to a group or a project role
    Create {
        /// A group name, or PROJECTKEY:Role
        entitlement: String,
        /// How long, once granted: 30m, 8h, 2d
        #[arg(long, value_parser = duration)]
        duration: u64,
        /// The beneficiary, when not the acting person (account id or email)
        #[arg(long = "for", value_name = "ACCOUNT")]
        beneficiary: Option<String>,
        /// Why
        #[arg(long)]
        justification: Option<String>,
        /// A ticket reference, e.g. OPS-123
        #[arg(long)]
        ticket: Option<String>,
        /// Break-glass: granted at once without approval, for the policy's short maximum, flagged for review
        #[arg(long)]
        break_glass: bool,
        #[command(flatten)]
        acting: Acting,
        #[command(flatten)]
        common: Common,
    },
    /// Approve a request (approvers named by its policy; never your own)
    Approve {
        /// The request id (r12)
        id: String,
        /// A comment
        #[arg(long)]
        comment: Option<String>,
        #[command(flatten)]
        acting: Acting,
        #[command(flatten)]
        common: Common,
    },
    /// Refuse a request
    Deny {
        /// The request id
        id: String,
        /// Why
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        acting: Acting,
        #[command(flatten)]
        common: Common,
    },
    /// Withdraw your request while it waits for approvals
    Cancel {
        /// The request id
        id: String,
        #[command(flatten)]
        acting: Acting,
        #[command(flatten)]
        common: Common,
    },
    /// Move the end of granted access (an approver; within the policy's maximum)
    Extend {
        /// The request id
        id: String,
        /// How much longer: 30m, 2h
        #[arg(long, value_parser = duration)]
        by: u64,
        #[command(flatten)]
        acting: Acting,
        #[command(flatten)]
        common: Common,
    },
    /// End granted access early (the requester, the beneficiary or an approver)
    Revoke {
        /// The request id
        id: String,
        /// Why
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        acting: Acting,
        #[command(flatten)]
        common: Common,
    },
    /// One request and its state
    Show {
        /// The request id
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Requests, oldest first
    List {
        /// Only requests in this state (pending, approved, granted, already-held, revoking, revoked, expired, denied, cancelled, failed, revoke-failed)
        #[arg(long, value_parser = status)]
        status: Option<Status>,
        /// Only break-glass requests (for review after the fact)
        #[arg(long)]
        break_glass: bool,
        /// Only requests this account made or benefits from
        #[arg(long, value_name = "ACCOUNT")]
        involving: Option<String>,
        #[command(flatten)]
        common: Common,
    },
}

fn duration(raw: &str) -> std::result::Result<u64, String> {
    parse_duration(raw)
}

fn status(raw: &str) -> std::result::Result<Status, String> {
    const ALL: [Status; 11] = [
        Status::Pending,
        Status::Approved,
        Status::Granted,
        Status::AlreadyHeld,
        Status::Revoking,
        Status::Revoked,
        Status::Expired,
        Status::Denied,
        Status::Cancelled,
        Status::Failed,
        Status::RevokeFailed,
    ];
    ALL.into_iter()
        .find(|s| s.as_str() == raw.trim().to_lowercase())
        .ok_or_else(|| {
            format!(
                "not a request state; one of: {}",
                ALL.map(Status::as_str).join(", ")
            )
        })
}

/// Reads the `[jit]` policies of the config file (a missing default file means
/// no policies; a named one must exist).
pub fn load_policies(globals: &Globals, config: Option<&PathBuf>) -> Result<Policies> {
    let path = crate::settings::config_file(globals.data_dir()?.root(), config);
    let Some(text) = crate::settings::config_text(&path, config.is_some())? else {
        return Ok(Policies::default());
    };
    Policies::parse(&text).map_err(|e| {
        anyhow::anyhow!(
            "the config file {} has an error in its [jit] policies, so none of them is used: {e}",
            path.display()
        )
    })
}

/// Opens the log for writing and the request service on it.
pub fn open(globals: &Globals, common: &Common, clock: Arc<dyn Clock>) -> Result<Jit> {
    let policies = load_policies(globals, common.config.as_ref())?;
    let log: EventLog = globals.data_dir()?.open_log()?;
    let site = crate::cmd::query::pick_site(&log, common.site.as_deref())?;
    Ok(Jit::new(log, site, policies, clock))
}

/// Opens the log for reading (a private copy while another process, such as
/// `jit run`, holds it) and the request service on it, for `show` and `list`.
/// The copy, if one was made, lives as long as the returned [`ReadLog`].
fn open_reading(
    globals: &Globals,
    common: &Common,
    clock: Arc<dyn Clock>,
) -> Result<(Jit, ReadLog)> {
    let policies = load_policies(globals, common.config.as_ref())?;
    let read = globals.data_dir()?.open_for_reading(globals.verbose)?;
    let site = crate::cmd::query::pick_site(&read.log, common.site.as_deref())?;
    Ok((Jit::new(read.log.clone(), site, policies, clock), read))
}

/// A request as shown (JSON and table; `schemas/request.schema.json`, a list of
/// them `schemas/request-list.schema.json`).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct View {
    /// The request's id (`r12`).
    id: String,
    /// pending, approved, granted, already-held, revoking, revoked, expired,
    /// denied, cancelled, failed or revoke-failed.
    status: &'static str,
    /// The site.
    site: String,
    /// Who asked: name and email (or account id).
    requester: String,
    /// Who gets the access: name and email (or account id).
    beneficiary: String,
    /// The group, or `KEY:Role`.
    entitlement: String,
    /// The policy it was made under.
    policy: String,
    /// How long, e.g. `4h`.
    duration: String,
    /// Break-glass: self-granted at once, for review after the fact.
    break_glass: bool,
    /// Why.
    justification: Option<String>,
    /// The ticket reference.
    ticket: Option<String>,
    /// Approvals it needs.
    approvals_needed: u32,
    /// Who approved so far.
    approvers: Vec<String>,
    /// When it was asked for (RFC 3339).
    requested_at: String,
    /// When access began (RFC 3339).
    granted_at: Option<String>,
    /// When access ends (RFC 3339).
    expires_at: Option<String>,
    /// Why nothing was granted, when the access pre-existed.
    pre_existing: Option<String>,
    /// Whether this request removes the access when it ends.
    owns_access: bool,
    /// How it ended, in words.
    outcome: Option<String>,
}

fn view(jit: &Jit, r: &Request) -> View {
    // The site's state lent, not copied (`request list` shows many).
    jit.with_site_state(|s| view_in(jit, Some(s), r))
        .unwrap_or_else(|_| view_in(jit, None, r))
}

fn view_in(jit: &Jit, state: Option<&grantledger_projection::SiteState>, r: &Request) -> View {
    let person = |a: &grantledger_model::AccountId| -> String {
        match state.and_then(|s| s.users.get(a)) {
            Some(u) => match &u.email {
                Some(e) => format!("{} <{e}>", u.display_name),
                None => format!("{} ({a})", u.display_name),
            },
            None => a.to_string(),
        }
    };
    let entitlement = match (state, &r.grant) {
        (Some(s), Some(g)) => jit.entitlement_name(s, &g.entitlement),
        (None, Some(g)) => format!("{:?}", g.entitlement),
        _ => String::new(),
    };
    View {
        id: r.id.to_string(),
        status: r.status.as_str(),
        site: r.site.clone(),
        requester: person(&r.requester),
        beneficiary: r.beneficiary().map(person).unwrap_or_default(),
        entitlement,
        policy: r.policy.clone(),
        duration: format_duration(r.duration_secs),
        break_glass: r.break_glass,
        justification: r.justification.clone(),
        ticket: r.ticket.clone(),
        approvals_needed: r.approvals_needed,
        approvers: r.approvals.iter().map(|(a, _)| person(a)).collect(),
        requested_at: rfc3339(r.requested_at),
        granted_at: r.granted_at.map(rfc3339),
        expires_at: r.expires_at.map(rfc3339),
        pre_existing: r.pre_existing.map(|p| {
            match p {
                grantledger_model::PreExisting::InState => {
                    "the site's state showed the access before the grant; nothing was granted and nothing is revoked"
                }
                grantledger_model::PreExisting::InJira => {
                    "Jira already held the access when the grant was made; nothing was granted and nothing is revoked"
                }
            }
            .to_owned()
        }),
        owns_access: r.owns_access,
        outcome: r.outcome.clone(),
    }
}

fn print_one(jit: &Jit, r: &Request, format: Format) -> Result<()> {
    let v = view(jit, r);
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&v)?),
        Format::Table => {
            let line = |k: &str, val: &str| println!("{k:<14}{}", escape(val));
            line("request", &v.id);
            line("status", v.status);
            line("entitlement", &v.entitlement);
            line("beneficiary", &v.beneficiary);
            line("requester", &v.requester);
            line("policy", &v.policy);
            line("duration", &v.duration);
            if v.break_glass {
                line("break-glass", "yes (for review after the fact)");
            }
            if let Some(j) = &v.justification {
                line("justification", j);
            }
            if let Some(t) = &v.ticket {
                line("ticket", t);
            }
            line(
                "approvals",
                &format!(
                    "{} of {}{}",
                    v.approvers.len(),
                    v.approvals_needed,
                    if v.approvers.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", v.approvers.join(", "))
                    }
                ),
            );
            line("requested at", &v.requested_at);
            if let Some(g) = &v.granted_at {
                line("granted at", g);
            }
            if let Some(e) = &v.expires_at {
                line("expires at", e);
            }
            if let Some(p) = &v.pre_existing {
                line("pre-existing", p);
            }
            if let Some(o) = &v.outcome {
                line("outcome", o);
            }
        }
    }
    Ok(())
}

fn print_list(jit: &Jit, rs: &[Request], format: Format) -> Result<()> {
    let views: Vec<View> = rs.iter().map(|r| view(jit, r)).collect();
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&views)?),
        Format::Table => {
            if views.is_empty() {
                println!("no requests");
                return Ok(());
            }
            println!(
                "{:<6} {:<13} {:<24} {:<24} {:<6} EXPIRES",
                "ID", "STATUS", "ENTITLEMENT", "BENEFICIARY", "BG"
            );
            for v in views {
                println!(
                    "{:<6} {:<13} {:<24} {:<24} {:<6} {}",
                    escape(&v.id),
                    v.status,
                    escape(&v.entitlement),
                    escape(&v.beneficiary),
                    if v.break_glass { "yes" } else { "" },
                    v.expires_at.as_deref().unwrap_or("-")
                );
            }
        }
    }
    Ok(())
}

/// `grantledger request ...`
pub fn run(command: RequestCommand, globals: &Globals) -> Result<ExitCode> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    match command {
        RequestCommand::Create {
            entitlement,
            duration,
            beneficiary,
            justification,
            ticket,
            break_glass,
            acting,
            common,
        } => {
            let jit = open(globals, &common, clock)?;
            let r = jit.create(CreateArgs {
                actor: acting.actor,
                beneficiary,
                entitlement,
                duration_secs: duration,
                justification,
                ticket,
                break_glass,
            })?;
            print_one(&jit, &r, common.format)?;
            if r.status == Status::Approved && common.format == Format::Table {
                eprintln!("the grant is made by the scheduler: `grantledger jit run --once`, or a running `grantledger jit run`");
            }
        }
        RequestCommand::Approve {
            id,
            comment,
            acting,
            common,
        } => {
            let jit = open(globals, &common, clock)?;
            let r = jit.approve(&id, &acting.actor, comment)?;
            print_one(&jit, &r, common.format)?;
        }
        RequestCommand::Deny {
            id,
            reason,
            acting,
            common,
        } => {
            let jit = open(globals, &common, clock)?;
            let r = jit.deny(&id, &acting.actor, reason)?;
            print_one(&jit, &r, common.format)?;
        }
        RequestCommand::Cancel { id, acting, common } => {
            let jit = open(globals, &common, clock)?;
            let r = jit.cancel(&id, &acting.actor)?;
            print_one(&jit, &r, common.format)?;
        }
        RequestCommand::Extend {
            id,
            by,
            acting,
            common,
        } => {
            let jit = open(globals, &common, clock)?;
            let r = jit.extend(&id, &acting.actor, by)?;
            print_one(&jit, &r, common.format)?;
        }
        RequestCommand::Revoke {
            id,
            reason,
            acting,
            common,
        } => {
            let jit = open(globals, &common, clock)?;
            let r = jit.revoke(&id, &acting.actor, reason)?;
            print_one(&jit, &r, common.format)?;
        }
        RequestCommand::Show { id, common } => {
            let (jit, _read) = open_reading(globals, &common, clock)?;
            let r = jit.load(&id)?;
            print_one(&jit, &r, common.format)?;
        }
        RequestCommand::List {
            status,
            break_glass,
            involving,
            common,
        } => {
            let (jit, _read) = open_reading(globals, &common, clock)?;
            let involving = match involving {
                Some(who) => Some(jit.resolve_user(&jit.site_state()?, &who)?),
                None => None,
            };
            let rs = jit.list(&ListFilter {
                status,
                break_glass,
                involving,
            })?;
            print_list(&jit, &rs, common.format)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
