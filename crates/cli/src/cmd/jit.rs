//! `grantledger jit run [--once]`: the scheduler of just-in-time access. Each
//! pass opens the log, drives unfinished commands, grants what was approved and
//! revokes what expired through the outbox, then closes the log, so other
//! commands (`request approve`, `sync`) can write between passes. Without
//! `--once` it wakes at the next deadline (on time to the timer's precision) or
//! after `--poll`, until Ctrl-C or SIGTERM: the pass under way finishes, then it
//! exits; a second signal exits at once (a command cut short is unfinished and
//! the next pass drives it).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use grantledger_clock::{Clock, SystemClock};
use grantledger_jira::JiraClient;
use grantledger_jit::{run, run_once_spread, Jit, PassReport, RequestError};
use grantledger_outbox::{DrivePolicy, Executor};

use crate::settings::{self, ConnectArgs};
use crate::Globals;

/// `grantledger jit ...`
#[derive(Debug, Subcommand)]
pub enum JitCommand {
    /// Grant approved requests, revoke expired ones and drive unfinished commands
    Run(RunArgs),
}

/// `grantledger jit run`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// One pass, then exit (for cron)
    #[arg(long)]
    once: bool,
    /// The longest wait between passes (new approvals are picked up then): 10s, 1m
    #[arg(long, default_value = "30s", value_parser = poll)]
    poll: u64,
    #[command(flatten)]
    connect: ConnectArgs,
}

fn poll(raw: &str) -> std::result::Result<u64, String> {
    grantledger_jit::policy::parse_duration(raw)
}

fn summary(report: &PassReport) -> Option<String> {
    let mut parts = Vec::new();
    for (n, what) in [
        (report.driven_unfinished, "unfinished commands driven"),
        (report.granted.len(), "granted"),
        (report.expired.len(), "expired"),
        (report.revoked.len(), "revoked"),
        (report.failed.len(), "failed"),
        (report.removals_retried.len(), "failed removals retried"),
        (report.unfinished.len(), "commands left unfinished"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    if parts.is_empty() {
        return None;
    }
    let lag = report
        .expiry_lag_micros
        .iter()
        .max()
        .map(|l| format!(" (latest expiry {} ms after its deadline)", l / 1000))
        .unwrap_or_default();
    Some(format!("{}{lag}", parts.join(", ")))
}

/// Runs `grantledger jit run`.
pub fn run_command(command: JitCommand, globals: &Globals) -> Result<ExitCode> {
    let JitCommand::Run(args) = command;
    let data_dir = globals.data_dir()?;
    let conn = settings::resolve(&args.connect, data_dir.root())?;
    let policies = crate::cmd::request::load_policies(globals, args.connect.config.as_ref())?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let site = conn.site_name.clone();
    let root = data_dir.root().to_path_buf();
    // Opens the log and builds the service and the executor for one pass; the
    // error keeps its type (a log in use names its holder when explained).
    let open_pass = {
        let clock = clock.clone();
        let jira = conn.jira.clone();
        move || -> Result<(Jit, Arc<Executor>)> {
            let log = data_dir.open_log()?;
            let client = JiraClient::with_clock(jira.clone(), clock.clone())
                .context("cannot set up the Jira client")?;
            let exec = Arc::new(
                Executor::new(log.clone(), clock.clone(), DrivePolicy::default())
                    .with_site(site.clone(), client),
            );
            Ok((
                Jit::new(log, site.clone(), policies.clone(), clock.clone()),
                exec,
            ))
        }
    };
    if args.once {
        let (jit, exec) = open_pass()?;
        let report = runtime.block_on(run_once_spread(&jit, &exec))?;
        println!(
            "{}",
            summary(&report).unwrap_or_else(|| "nothing to do".into())
        );
        return Ok(if report.failed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    // Between passes, a failure to open is a warning that says what to do, in the
    // words every command uses (the log's holder, a damaged log, a full disk).
    let open = move || -> std::result::Result<(Jit, Arc<Executor>), RequestError> {
        open_pass().map_err(|e| {
            RequestError::Unavailable(
                crate::errors::explain(&e, Some(&root)).unwrap_or_else(|| format!("{e:#}")),
            )
        })
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    runtime.block_on(async move {
        match crate::signals::Stop::install() {
            Ok(mut signals) => {
                tokio::spawn(async move {
                    if signals.wait().await.is_err() {
                        return;
                    }
                    eprintln!("stopping after the pass under way (a second Ctrl-C stops at once)");
                    let _ = stop_tx.send(true);
                    if signals.wait().await.is_ok() {
                        eprintln!("stopped: a command cut short stays unfinished, and the next `grantledger jit run` (or `commands drive`) finishes it");
                        std::process::exit(130);
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for Ctrl-C or SIGTERM: they will end the scheduler abruptly");
            }
        }
        run(
            open,
            clock,
            Duration::from_secs(args.poll),
            stop_rx,
            |result| match result {
                Ok(report) => {
                    if let Some(line) = summary(report) {
                        println!("{line}");
                    }
                }
                Err(e) => {
                    eprintln!("warning: a pass failed (tried again in a second): {e}")
                }
            },
        )
        .await;
    });
    Ok(ExitCode::SUCCESS)
}
