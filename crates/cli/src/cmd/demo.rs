//! `grantledger demo`: the simulator on loopback, a real sync into a fresh data
//! directory, a few changes through the Jira API, a second sync and what it
//! recorded, then a change grantledger makes itself through the outbox and a
//! third sync that records nothing twice. Needs no network and no configuration.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use grantledger_clock::SystemClock;
use grantledger_ingest::{Outcome, SyncOptions, SyncReport};
use grantledger_jira::{ApiToken, JiraClient, JiraConfig};
use grantledger_jira_sim::{Credential, Faults, Org, Preset, SimServer, JIRA_ADMINISTRATORS};
use grantledger_model::{AccountId, Grant, GroupId, Principal, ProjectId, RoleId};
use grantledger_outbox::{CommandAction, CommandPurpose, CommandSpec, DrivePolicy, Executor};
use grantledger_projection::SiteState;

use crate::cmd::query::{self, AccessCommand, HistoryArgs};
use crate::datadir::DataDir;
use crate::output::{head as show_head, safe};
use crate::summary::{describe, sync_summary};
use crate::Globals;

/// `grantledger demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seed of the simulated org
    #[arg(long, value_name = "N", default_value_t = 42)]
    seed: u64,
}

/// Runs `grantledger demo`.
pub fn run(args: DemoArgs, globals: &Globals) -> Result<ExitCode> {
    let data_dir = match &globals.data_dir {
        Some(dir) => {
            let d = DataDir::resolve(Some(dir))?;
            if d.has_log() {
                bail!(
                    "{} already holds an event log; the demo needs a fresh data directory (omit --data-dir, and unset GRANTLEDGER_DATA_DIR, to get one)",
                    safe(&d.root().display().to_string())
                );
            }
            d
        }
        None => {
            // A fresh directory of its own (random name, mode 0700), kept after
            // the demo so that its log can be explored.
            let dir = crate::datadir::private_tempdir("grantledger-demo-")
                .context("cannot create the demo's data directory in the temporary directory")?
                .keep();
            DataDir::resolve(Some(&dir))?
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(demo(args, &data_dir, globals.verbose))
}

fn step(text: &str) {
    println!("\n== {text}");
}

async fn sync_once(
    log: &grantledger_eventlog::EventLog,
    client: &JiraClient,
    site: &str,
    verbose: u8,
) -> Result<SyncReport> {
    let report = grantledger_ingest::sync(log, client, SyncOptions::new(site)).await?;
    print!("{}", sync_summary(site, &report, verbose));
    if let Outcome::Failed { reason, .. } = &report.outcome {
        bail!("the demo's sync failed: {reason}");
    }
    Ok(report)
}

async fn demo(args: DemoArgs, data_dir: &DataDir, verbose: u8) -> Result<ExitCode> {
    let org = Org::generate(Preset::Small, args.seed);
    let site = format!("{}.atlassian.net", org.site);
    let admin = Credential::admin_of(&org);
    let sim = SimServer::start(org, vec![admin.clone()], Faults::default())
        .await
        .context("cannot start the Jira simulator on 127.0.0.1")?;
    step(&format!(
        "Jira Cloud simulator for {site} on {} (small org, seed {})",
        sim.base_url(),
        args.seed
    ));

    let config = JiraConfig::for_base_url(
        &sim.base_url(),
        admin.email.clone(),
        ApiToken::new(admin.token.clone()),
    )?;
    let client = JiraClient::new(config)?;
    let log = data_dir.open_log()?;

    step(&format!("first sync into {}", data_dir.root().display()));
    println!("(every record has a position in the log, from 1; a sync opens with a start record and closes with an end record around the access events it found)");
    sync_once(&log, &client, &site, verbose).await?;

    step("changes made through the Jira REST API");
    let org = sim.org();
    let admins = org
        .group_by_name(JIRA_ADMINISTRATORS)
        .context("the simulated org has no jira-administrators group")?
        .clone();
    let newcomer = org
        .outsider(&admins.group_id, &[admin.account_id.as_str()])
        .context("no user to add")?
        .clone();
    let newcomer_id = AccountId::new(newcomer.account_id.as_str());
    client
        .add_group_member(&GroupId::new(admins.group_id.as_str()), &newcomer_id)
        .await?;
    println!(
        "POST /rest/api/3/group/user: added {} to {}",
        newcomer.display_name, admins.name
    );

    let (team, leaver) = org
        .membership_except(&admins.group_id, &[admin.account_id.as_str()])
        .context("no membership to remove")?;
    let team_name = org.group_name(team).unwrap_or(team).to_owned();
    let (team, leaver) = (team.to_owned(), leaver.to_owned());
    let leaver_name = org
        .user(&leaver)
        .map_or(leaver.clone(), |u| u.display_name.clone());
    client
        .remove_group_member(
            &GroupId::new(team.as_str()),
            &AccountId::new(leaver.as_str()),
        )
        .await?;
    println!("DELETE /rest/api/3/group/user: removed {leaver_name} from {team_name}");

    if let Some(project) = org.project_with_roles() {
        let role = &project.roles[0];
        client
            .add_role_actor(
                &ProjectId::new(project.id.as_str()),
                &RoleId::new(role.id.to_string()),
                &Principal::User(newcomer_id.clone()),
            )
            .await?;
        println!(
            "POST /rest/api/3/project/{}/role/{}: made {} {} of {}",
            project.key, role.id, newcomer.display_name, role.name, project.key
        );
    }

    let departing = org
        .active_human_except(&[admin.account_id.as_str(), newcomer.account_id.as_str()])
        .context("no user to deactivate")?
        .clone();
    sim.mutate(|o| {
        if let Some(u) = o
            .users
            .iter_mut()
            .find(|u| u.account_id == departing.account_id)
        {
            u.active = false;
        }
    });
    println!(
        "(site admin, in admin.atlassian.com) deactivated {} — Jira has no REST call for this",
        departing.display_name
    );

    step("second sync");
    let report = sync_once(&log, &client, &site, verbose).await?;

    step("what the second sync recorded");
    if let Some((first, last)) = report.written {
        println!(
            "(positions {first}..{last}; {} and {} are the run's start and end records)",
            first - 1,
            last + 1
        );
        let state = SiteState::load(&log, &site)?;
        for record in log.read_from(first).take((last - first + 1) as usize) {
            let record = record?;
            println!(
                "  #{:<6} {}",
                record.position,
                safe(&describe(&state, &record.event))
            );
        }
    }

    step(&format!(
        "a change grantledger makes itself, through the outbox: {leaver_name} back into {team_name}"
    ));
    println!("(the intent is logged before Jira is called, the grant and the outcome after; ADR 0010, 0011)");
    let before = log.head().position;
    let executor = Executor::new(
        log.clone(),
        Arc::new(SystemClock::new()),
        DrivePolicy::default(),
    )
    .with_site(site.clone(), client.clone());
    let command = executor.issue(CommandSpec {
        id: None,
        site: site.clone(),
        action: CommandAction::Add,
        grant: Grant::membership(AccountId::new(leaver.as_str()), GroupId::new(team.as_str())),
        purpose: CommandPurpose::Operator {
            operator: "demo".into(),
        },
    })?;
    let outcome = executor.drive(&command).await?;
    if let grantledger_outbox::Outcome::Failed(f) = &outcome {
        bail!("the demo's command {command} failed: {}", f.reason);
    }
    let state = SiteState::load(&log, &site)?;
    for record in log.read_from(before + 1) {
        let record = record?;
        println!(
            "  #{:<6} {:<22} {}",
            record.position,
            record.stream.as_str(),
            safe(&describe(&state, &record.event))
        );
    }
    drop(executor);

    step("third sync (Jira now holds the grant the outbox recorded: nothing to record twice)");
    sync_once(&log, &client, &site, verbose).await?;

    step("verify the hash chain");
    let verify = log.verify()?;
    match &verify.problem {
        None => {
            println!(
                "ok: {} records in {} stream(s), head {}",
                verify.records,
                verify.streams,
                show_head(&verify.stored_head)
            );
            println!("(the head is the last position and its hash: note it, and `log verify --expect-head` proves later that the log still holds it)");
        }
        Some(p) => bail!("log verification FAILED at {p}"),
    }
    drop(log);
    sim.shutdown().await;

    let dir = shell_word(&data_dir.root().display().to_string());
    let exe = std::env::current_exe()
        .map(|p| shell_word(&p.display().to_string()))
        .unwrap_or_else(|_| "grantledger".to_owned());
    step("explore it");
    println!("  {exe} --data-dir {dir} log stats");
    println!("  {exe} --data-dir {dir} log verify");
    println!("  {exe} --data-dir {dir} log export --format text | less");
    println!("(or, from the source tree: cargo run --release -- --data-dir {dir} log stats)");

    // Two answers from the log, as the query commands give them.
    let globals = Globals {
        data_dir: Some(data_dir.root().to_path_buf()),
        verbose,
    };
    step(&format!(
        "who holds {JIRA_ADMINISTRATORS} now: {exe} --data-dir {dir} access who {JIRA_ADMINISTRATORS}"
    ));
    tokio::task::block_in_place(|| {
        query::run_access(AccessCommand::who(JIRA_ADMINISTRATORS), &globals)
    })?;
    step(&format!(
        "its last changes: {exe} --data-dir {dir} history {JIRA_ADMINISTRATORS} --limit 5"
    ));
    tokio::task::block_in_place(|| {
        query::run_history(HistoryArgs::of(JIRA_ADMINISTRATORS, 5), &globals)
    })?;
    println!("\nmore: access user <id|email|name>, access who <group|KEY|KEY:Role|product>, history <subject>, diff; each takes --as-of and --format table|json|csv");
    Ok(ExitCode::SUCCESS)
}

/// A path as one shell word: as it is when it holds only safe characters, else
/// in single quotes.
fn shell_word(text: &str) -> String {
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:,@".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", safe(text).replace('\'', "'\\''"))
    }
}
