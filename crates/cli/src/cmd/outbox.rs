//! `grantledger provision add|remove` (an operator's change in Jira, made through
//! the outbox) and `grantledger commands list|show|drive` (the outbox's commands).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use clap::builder::NonEmptyStringValueParser;
use clap::{Args, Subcommand};
use grantledger_clock::SystemClock;
use grantledger_eventlog::EventLog;
use grantledger_jira::JiraClient;
use grantledger_model::{
    CommandFailed, CommandSucceeded, Entitlement, Grant, GroupId, Principal, ProjectId, RoleId,
};
use grantledger_outbox::{
    describe, CommandAction, CommandId, CommandPurpose, CommandSpec, CommandStatus, DrivePolicy,
    Executor, JiraOutcome, Outcome, SiteOutcome,
};
use grantledger_projection::resolve;
use grantledger_projection::SiteState;

use crate::cmd::request::Format;
use crate::output::safe;
use crate::settings::{self, ConnectArgs};
use crate::Globals;

/// `grantledger provision`
#[derive(Debug, Subcommand)]
pub enum ProvisionCommand {
    /// Give a user a group membership or a project role, in Jira, through the outbox
    Add(ProvisionArgs),
    /// Take a group membership or a project role away from a user, in Jira, through the outbox
    Remove(ProvisionArgs),
}

/// What to change, and who asks.
#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// The user: account id, email or display name (as the last sync saw them)
    #[arg(
        long,
        value_name = "USER",
        value_parser = NonEmptyStringValueParser::new(),
        required_unless_present = "group_actor",
        conflicts_with = "group_actor"
    )]
    user: Option<String>,
    /// A group as the project-role actor instead of a user (with --project and
    /// --role), by name or id
    #[arg(
        long,
        value_name = "NAME",
        value_parser = NonEmptyStringValueParser::new(),
        requires = "project"
    )]
    group_actor: Option<String>,
    /// A group, by name or id (the user becomes a member)
    #[arg(
        long,
        value_name = "NAME",
        value_parser = NonEmptyStringValueParser::new(),
        required_unless_present = "project",
        conflicts_with_all = ["project", "group_actor"]
    )]
    group: Option<String>,
    /// A project, by key or id (with --role)
    #[arg(long, value_name = "KEY", requires = "role", value_parser = NonEmptyStringValueParser::new())]
    project: Option<String>,
    /// A role of --project, by name or id
    #[arg(long, value_name = "NAME", requires = "project", value_parser = NonEmptyStringValueParser::new())]
    role: Option<String>,
    /// Who makes the change, recorded with it (1 to 200 characters, no control
    /// characters) [default: $USER]
    #[arg(long = "as", value_name = "OPERATOR", value_parser = parse_operator)]
    operator: Option<String>,
    /// Output format (JSON: schemas/command.schema.json)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// `grantledger commands`
#[derive(Debug, Subcommand)]
pub enum CommandsCommand {
    /// Every command grantledger sent (or is to send) to Jira, and how it ended
    List {
        /// Only the unfinished ones (an intent, no outcome)
        #[arg(long)]
        unfinished: bool,
        /// Output format (JSON: schemas/command-list.schema.json)
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// One command, with its outcome
    Show {
        /// The command's id
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        id: String,
        /// Output format (JSON: schemas/command.schema.json)
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Drive every unfinished command (after a crash, or once Jira answers again);
    /// exits 1 when one of them fails
    Drive {
        /// Output format (JSON: schemas/command-list.schema.json)
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

/// The executor for the configured site, and the site's name in the log.
fn connect(
    globals: &Globals,
    connect: &ConnectArgs,
) -> Result<(Executor, String, tokio::runtime::Runtime)> {
    let data_dir = globals.data_dir()?;
    let conn = settings::resolve(connect, data_dir.root())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let log = data_dir.open_log()?;
    let client = runtime.block_on(JiraClient::connect(conn.jira))?;
    let executor = Executor::new(log, Arc::new(SystemClock::new()), DrivePolicy::default())
        .with_site(conn.site_name.clone(), client);
    Ok((executor, conn.site_name, runtime))
}

/// The exit code of a command stopped by Ctrl-C (or SIGTERM), as `sync`'s.
const INTERRUPTED: u8 = 130;

/// Starts listening for Ctrl-C and SIGTERM (`None`, with a warning, when the
/// signals cannot be listened for: they then end the process as usual).
fn listen_for_stop(runtime: &tokio::runtime::Runtime) -> Option<crate::signals::Stop> {
    let _entered = runtime.enter();
    crate::signals::Stop::install()
        .map_err(|e| tracing::warn!(error = %e, "cannot listen for Ctrl-C: it will end the command abruptly"))
        .ok()
}

/// `work`, unless a stop signal comes first (`None`). Dropping the drive there
/// is safe: its appends are atomic, and an unfinished command is driven again.
async fn until_stopped<T>(
    stop: Option<crate::signals::Stop>,
    work: impl std::future::Future<Output = T>,
) -> Option<T> {
    let Some(mut stop) = stop else {
        return Some(work.await);
    };
    tokio::select! {
        done = work => Some(done),
        Ok(()) = stop.wait() => None,
    }
}

/// The longest operator name recorded (`--as`).
const MAX_OPERATOR: usize = 200;

/// `--as`: a name that says who, recorded in the log as given (trimmed).
fn parse_operator(raw: &str) -> std::result::Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("the operator is empty: name who makes the change (e.g. an email)".into());
    }
    if name.chars().count() > MAX_OPERATOR {
        return Err(format!(
            "the operator is {} characters long, more than {MAX_OPERATOR}: name who makes the change (e.g. an email)",
            name.chars().count()
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(
            "the operator holds control characters (a line break, a terminal escape): name who makes the change (e.g. an email)"
                .into(),
        );
    }
    Ok(name.to_owned())
}

fn operator_name(given: Option<&str>) -> String {
    given
        .map(str::to_owned)
        .or_else(|| settings::env_text("USER").and_then(|u| parse_operator(&u).ok()))
        .unwrap_or_else(|| "operator".into())
}

/// At most this many names are offered when a name matches nothing.
const OFFERED: usize = 8;

/// Names offered for `asked`: those that contain it first, then the rest, each
/// group in order, at most [`OFFERED`].
fn offered<'a>(asked: &str, names: impl Iterator<Item = &'a str>) -> String {
    let needle = asked.trim().to_lowercase();
    let (mut near, far): (Vec<&str>, Vec<&str>) =
        names.partition(|n| !needle.is_empty() && n.to_lowercase().contains(&needle));
    near.extend(far);
    let total = near.len();
    let mut shown: Vec<String> = near.iter().take(OFFERED).map(|n| safe(n)).collect();
    if total > OFFERED {
        shown.push(format!("and {} more", total - OFFERED));
    }
    shown.join(", ")
}

/// A group, by id or (case-insensitive) name: groups only, so that a project or
/// a product of the same name neither matches nor makes it ambiguous.
fn resolve_group(state: &SiteState, site: &str, asked: &str) -> Result<GroupId> {
    let trimmed = asked.trim();
    if let Some(g) = state.groups.keys().find(|g| g.as_str() == trimmed) {
        return Ok(g.clone());
    }
    let needle = trimmed.to_lowercase();
    let found: Vec<_> = state
        .groups
        .values()
        .filter(|g| g.name.to_lowercase() == needle)
        .collect();
    match found.as_slice() {
        [one] => Ok(one.group_id.clone()),
        [] => bail!(
            "no group {:?} on site {} (as of the last sync); its groups include: {}",
            safe(trimmed),
            safe(site),
            offered(trimmed, state.groups.values().map(|g| g.name.as_str()))
        ),
        many => bail!(
            "{:?} names {} groups on site {}; give the group's id instead: {}",
            safe(trimmed),
            many.len(),
            safe(site),
            many.iter()
                .map(|g| format!("{} (id {})", safe(&g.name), safe(g.group_id.as_str())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A project by key or id (case-insensitive key), and one of its roles by name
/// or id: the error for a role the project lacks names the roles it has.
fn resolve_role(
    state: &SiteState,
    site: &str,
    project: &str,
    role: &str,
) -> Result<(ProjectId, RoleId)> {
    let (project, role) = (project.trim(), role.trim());
    let found: Vec<_> = state
        .projects
        .values()
        .filter(|p| p.project_id.as_str() == project || p.key.eq_ignore_ascii_case(project))
        .collect();
    let p = match found.as_slice() {
        [one] => *one,
        [] => bail!(
            "no project {:?} on site {} (as of the last sync); its projects: {}",
            safe(project),
            safe(site),
            offered(project, state.projects.values().map(|p| p.key.as_str()))
        ),
        many => bail!(
            "{:?} names {} projects on site {}; give the project's id instead: {}",
            safe(project),
            many.len(),
            safe(site),
            many.iter()
                .map(|p| format!("{} (id {})", safe(&p.key), safe(p.project_id.as_str())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let roles = state.roles.get(&p.project_id);
    let all = || roles.into_iter().flatten();
    let needle = role.to_lowercase();
    let matching: Vec<_> = all()
        .filter(|(id, r)| id.as_str() == role || r.name.to_lowercase() == needle)
        .collect();
    match matching.as_slice() {
        [(id, _)] => Ok((p.project_id.clone(), (*id).clone())),
        [] if roles.is_none_or(BTreeMap::is_empty) => bail!(
            "project {} on site {} has no roles (as of the last sync)",
            safe(&p.key),
            safe(site)
        ),
        [] => bail!(
            "project {} on site {} has no role {:?}; its roles: {}",
            safe(&p.key),
            safe(site),
            safe(role),
            offered(role, all().map(|(_, r)| r.name.as_str()))
        ),
        many => bail!(
            "{:?} names {} roles of project {}; give the role's id instead: {}",
            safe(role),
            many.len(),
            safe(&p.key),
            many.iter()
                .map(|(id, r)| format!("{} (id {})", safe(&r.name), safe(id.as_str())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The grant asked for, resolved against the site's state.
fn resolve_grant(state: &SiteState, site: &str, a: &ProvisionArgs) -> Result<Grant> {
    if state.last_completed_sync.is_none() {
        bail!(
            "no sync of site {} has completed, so names cannot be resolved; run `grantledger sync` first",
            safe(site)
        );
    }
    let principal = match (&a.user, &a.group_actor) {
        (Some(user), None) => Principal::User(resolve::user(state, user)?),
        (None, Some(group)) => Principal::Group(resolve_group(state, site, group)?),
        _ => bail!("name a --user, or a --group-actor with a --project and a --role"),
    };
    match (&a.group, &a.project, &a.role, principal) {
        (Some(group), _, _, Principal::User(user)) => {
            Ok(Grant::membership(user, resolve_group(state, site, group)?))
        }
        (None, Some(project), Some(role), principal) => {
            let (project, role) = resolve_role(state, site, project, role)?;
            Ok(Grant::role(principal, project, role))
        }
        _ => bail!("name a --group, or a --project with a --role"),
    }
}

/// Runs `grantledger provision add|remove`.
pub fn run_provision(command: ProvisionCommand, globals: &Globals) -> Result<ExitCode> {
    let (action, args) = match command {
        ProvisionCommand::Add(a) => (CommandAction::Add, a),
        ProvisionCommand::Remove(a) => (CommandAction::Remove, a),
    };
    let (executor, site, runtime) = connect(globals, &args.connect)?;
    let state = SiteState::load(executor.log(), &site)?;
    let grant = resolve_grant(&state, &site, &args)?;
    // Listened for before the command is issued: a Ctrl-C from then on leaves
    // it unfinished and says how to finish it.
    let stop = listen_for_stop(&runtime);
    let id = executor.issue(CommandSpec {
        id: None,
        site,
        action,
        grant,
        purpose: CommandPurpose::Operator {
            operator: operator_name(args.operator.as_deref()),
        },
    })?;
    let Some(outcome) = runtime.block_on(until_stopped(stop, executor.drive(&id))) else {
        let started = executor
            .status(&id)
            .ok()
            .flatten()
            .is_some_and(|s| s.started);
        eprintln!(
            "stopped: command {} stays unfinished ({}); `grantledger commands drive` finishes it (it reads Jira first, so the change is made once)",
            safe(id.as_str()),
            if started {
                "it had started: Jira may or may not hold the change yet"
            } else {
                "Jira was not changed"
            }
        );
        return Ok(ExitCode::from(INTERRUPTED));
    };
    let outcome = outcome?;
    let status = executor
        .status(&id)?
        .context("the command just issued is not in the log")?;
    match args.format {
        Format::Table => println!("{}", line(&status, Some(&state))),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&CommandView::of(&status, Some(&state)))?
        ),
    }
    Ok(match outcome {
        Outcome::Succeeded(_) => ExitCode::SUCCESS,
        Outcome::Failed(_) => ExitCode::FAILURE,
    })
}

fn state_word(status: &CommandStatus) -> &'static str {
    match &status.outcome {
        None if status.started => "unfinished (started)",
        None => "unfinished",
        Some(Outcome::Succeeded(_)) => "succeeded",
        Some(Outcome::Failed(_)) => "failed",
    }
}

fn succeeded_text(s: &CommandSucceeded) -> String {
    let jira = match s.jira {
        JiraOutcome::Changed => "Jira changed",
        JiraOutcome::AlreadyInPlace => "Jira already was so, nothing sent",
    };
    let site = match s.site {
        SiteOutcome::Recorded => "recorded in the log",
        SiteOutcome::AlreadyInState => "the log already showed it",
    };
    format!("{jira}; {site}; {} attempt(s)", s.attempts)
}

fn failed_text(f: &CommandFailed) -> String {
    format!(
        "{:?} after {} attempt(s): {}",
        f.kind,
        f.attempts,
        safe(&f.reason)
    )
}

/// The command's change in words, with the names the site's state gives its ids.
fn change_text(status: &CommandStatus, state: Option<&SiteState>) -> String {
    let Some(state) = state else {
        return describe(&status.issued);
    };
    let issued = &status.issued;
    let who = match &issued.grant.principal {
        Principal::User(a) => match state.users.get(a) {
            Some(u) => format!("{} ({a})", u.display_name),
            None => format!("user {a}"),
        },
        Principal::Group(g) => match state.groups.get(g) {
            Some(r) => format!("group {} ({g})", r.name),
            None => format!("group {g}"),
        },
    };
    let what = match &issued.grant.entitlement {
        Entitlement::GroupMembership { group } => match state.groups.get(group) {
            Some(r) => format!("group {}", r.name),
            None => format!("group {group}"),
        },
        Entitlement::ProjectRole { project, role } => {
            let key = state
                .projects
                .get(project)
                .map_or_else(|| project.to_string(), |p| p.key.clone());
            let name = state
                .roles
                .get(project)
                .and_then(|r| r.get(role))
                .map_or_else(|| role.to_string(), |r| r.name.clone());
            format!("role {name} of project {key}")
        }
        Entitlement::ProductAccess { product } => format!("product {product}"),
    };
    match issued.action {
        CommandAction::Add => format!("add {who} to {what} on {}", issued.site),
        CommandAction::Remove => format!("remove {who} from {what} on {}", issued.site),
    }
}

/// One line: id, state, the change, and how it ended.
fn line(status: &CommandStatus, state: Option<&SiteState>) -> String {
    let how = match &status.outcome {
        None => String::new(),
        Some(Outcome::Succeeded(s)) => format!(" — {}", succeeded_text(s)),
        Some(Outcome::Failed(f)) => format!(" — {}", failed_text(f)),
    };
    format!(
        "{}  {}  {}{how}",
        safe(status.issued.command.as_str()),
        state_word(status),
        safe(&change_text(status, state))
    )
}

/// Runs `grantledger commands list|show|drive`.
pub fn run_commands(command: CommandsCommand, globals: &Globals) -> Result<ExitCode> {
    match command {
        CommandsCommand::List { unfinished, format } => {
            let read = globals.data_dir()?.open_for_reading(globals.verbose)?;
            let executor = reader(&read.log);
            let all = executor.list()?;
            let shown: Vec<_> = all
                .iter()
                .filter(|s| !unfinished || s.is_unfinished())
                .collect();
            let mut states = States::default();
            if format == Format::Json {
                let views: Vec<CommandView> = shown
                    .iter()
                    .map(|s| CommandView::of(s, states.of(&read.log, &s.issued.site)))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&views)?);
                return Ok(ExitCode::SUCCESS);
            }
            if shown.is_empty() {
                println!("no {}commands", if unfinished { "unfinished " } else { "" });
            }
            for status in shown {
                println!(
                    "{}",
                    line(status, states.of(&read.log, &status.issued.site))
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        CommandsCommand::Show { id, format } => {
            let read = globals.data_dir()?.open_for_reading(globals.verbose)?;
            let executor = reader(&read.log);
            let Some(status) = executor.status(&CommandId::new(id.as_str()))? else {
                bail!(
                    "no command {} is in the log; `grantledger commands list` shows them",
                    safe(&id)
                );
            };
            if format == Format::Json {
                let mut states = States::default();
                let state = states.of(&read.log, &status.issued.site);
                println!(
                    "{}",
                    serde_json::to_string_pretty(&CommandView::of(&status, state))?
                );
                return Ok(ExitCode::SUCCESS);
            }
            println!("command   {}", safe(status.issued.command.as_str()));
            let mut states = States::default();
            let state = states.of(&read.log, &status.issued.site);
            println!("change    {}", safe(&change_text(&status, state)));
            println!(
                "purpose   {}",
                safe(&format!("{:?}", status.issued.purpose))
            );
            println!("issued    position {}", status.issued_position);
            println!("state     {}", state_word(&status));
            match &status.outcome {
                Some(Outcome::Succeeded(s)) => println!("outcome   {}", succeeded_text(s)),
                Some(Outcome::Failed(f)) => println!("outcome   {}", failed_text(f)),
                None => {}
            }
            Ok(ExitCode::SUCCESS)
        }
        CommandsCommand::Drive { format, connect: c } => {
            let (executor, _, runtime) = connect(globals, &c)?;
            let stop = listen_for_stop(&runtime);
            let Some(driven) = runtime.block_on(until_stopped(stop, executor.drive_unfinished()))
            else {
                eprintln!(
                    "stopped: the commands not finished yet stay unfinished (`grantledger commands list --unfinished` shows them); `grantledger commands drive` again finishes them"
                );
                return Ok(ExitCode::from(INTERRUPTED));
            };
            let driven = driven?;
            if driven.is_empty() && format == Format::Table {
                println!("no unfinished commands");
            }
            let mut code = ExitCode::SUCCESS;
            let mut states = States::default();
            let mut views = Vec::new();
            for (id, result) in driven {
                match result.map(|_| executor.status(&id)) {
                    Ok(Ok(Some(status))) => {
                        // A command that ended failed (refused, gave up) fails the drive.
                        if !matches!(status.outcome, Some(Outcome::Succeeded(_))) {
                            code = ExitCode::FAILURE;
                        }
                        let state = states.of(executor.log(), &status.issued.site);
                        match format {
                            Format::Table => println!("{}", line(&status, state)),
                            Format::Json => views.push(CommandView::of(&status, state)),
                        }
                    }
                    Ok(Ok(None)) => println!("{}  vanished from the log", safe(id.as_str())),
                    Ok(Err(e)) | Err(e) => {
                        code = ExitCode::FAILURE;
                        eprintln!("{}  {}", safe(id.as_str()), safe(&e.to_string()));
                    }
                }
            }
            if format == Format::Json {
                println!("{}", serde_json::to_string_pretty(&views)?);
            }
            Ok(code)
        }
    }
}

/// The site states, loaded once each, for naming what commands change (`None`
/// for a site the log cannot fold: the ids are shown).
#[derive(Default)]
struct States(std::collections::HashMap<String, Option<SiteState>>);

impl States {
    fn of(&mut self, log: &EventLog, site: &str) -> Option<&SiteState> {
        self.0
            .entry(site.to_owned())
            .or_insert_with(|| SiteState::load(log, site).ok())
            .as_ref()
    }
}

/// An executor that only reads (no site configured: list and show call no one).
fn reader(log: &EventLog) -> Executor {
    Executor::new(
        log.clone(),
        Arc::new(SystemClock::new()),
        DrivePolicy::default(),
    )
}

/// A command as `--format json` shows it (`schemas/command.schema.json`; a list
/// of them is `schemas/command-list.schema.json`).
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct CommandView {
    /// The command's id.
    pub id: String,
    /// `unfinished` (no outcome yet), `succeeded` or `failed`.
    pub state: &'static str,
    /// Whether Jira was found without the change and the change was sent (or
    /// about to be).
    pub started: bool,
    /// The site.
    pub site: String,
    /// `add` or `remove`.
    pub action: &'static str,
    /// `user` or `group`: who gains or loses the access.
    pub principal_kind: &'static str,
    /// The account id or group id.
    pub principal: String,
    /// `group-membership` or `project-role`.
    pub entitlement_kind: &'static str,
    /// The group id, or the project id and role id as `PROJECT:ROLE`.
    pub entitlement: String,
    /// The change in words, with the names the last sync saw.
    pub change: String,
    /// Why the command was issued (the request, campaign or operator).
    pub purpose: CommandPurpose,
    /// The log position of its intent.
    pub issued_position: u64,
    /// How it ended, once it has.
    pub outcome: Option<CommandOutcomeView>,
}

/// How a command ended.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct CommandOutcomeView {
    /// For a success: `changed` (Jira changed) or `already-in-place` (nothing sent).
    pub jira: Option<&'static str>,
    /// For a success: `recorded` (a grant event appended) or `already-in-state`.
    pub log: Option<&'static str>,
    /// For a failure: `refused` or `gave-up`.
    pub failure: Option<&'static str>,
    /// For a failure: why, and what to do.
    pub reason: Option<String>,
    /// Attempts made.
    pub attempts: u32,
}

impl CommandView {
    fn of(status: &CommandStatus, state: Option<&SiteState>) -> CommandView {
        let issued = &status.issued;
        let (principal_kind, principal) = match &issued.grant.principal {
            Principal::User(a) => ("user", a.to_string()),
            Principal::Group(g) => ("group", g.to_string()),
        };
        let (entitlement_kind, entitlement) = match &issued.grant.entitlement {
            Entitlement::GroupMembership { group } => ("group-membership", group.to_string()),
            Entitlement::ProjectRole { project, role } => {
                ("project-role", format!("{project}:{role}"))
            }
            Entitlement::ProductAccess { product } => ("product-access", product.to_string()),
        };
        let outcome = status.outcome.as_ref().map(|o| match o {
            Outcome::Succeeded(s) => CommandOutcomeView {
                jira: Some(match s.jira {
                    JiraOutcome::Changed => "changed",
                    JiraOutcome::AlreadyInPlace => "already-in-place",
                }),
                log: Some(match s.site {
                    SiteOutcome::Recorded => "recorded",
                    SiteOutcome::AlreadyInState => "already-in-state",
                }),
                failure: None,
                reason: None,
                attempts: s.attempts,
            },
            Outcome::Failed(f) => CommandOutcomeView {
                jira: None,
                log: None,
                failure: Some(match f.kind {
                    grantledger_outbox::CommandFailureKind::Refused => "refused",
                    grantledger_outbox::CommandFailureKind::GaveUp => "gave-up",
                }),
                reason: Some(f.reason.clone()),
                attempts: f.attempts,
            },
        });
        CommandView {
            id: issued.command.to_string(),
            state: match &status.outcome {
                None => "unfinished",
                Some(Outcome::Succeeded(_)) => "succeeded",
                Some(Outcome::Failed(_)) => "failed",
            },
            started: status.started,
            site: issued.site.clone(),
            action: match issued.action {
                CommandAction::Add => "add",
                CommandAction::Remove => "remove",
            },
            principal_kind,
            principal,
            entitlement_kind,
            entitlement,
            change: change_text(status, state),
            purpose: issued.purpose.clone(),
            issued_position: status.issued_position,
            outcome,
        }
    }
}
