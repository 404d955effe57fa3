//! `grantledger`, the command-line tool. This binary is glue: it parses
//! arguments, sets up logging, calls the library crates and maps their results
//! to output and exit codes. Every behaviour lives in a library crate
//! (`grantledger-eventlog`, `grantledger-jira-sim`, ...); nothing here should be
//! worth testing except through the binary itself.
//!
//! Layout: this file holds the top-level parser, logging and the error/exit-code
//! policy; each subcommand group lives in [`cmd`] (one module per group, with its
//! own clap `Args`/`Subcommand` types and a `run` function); [`output`] formats
//! numbers and sizes; [`datadir`] resolves the data directory and opens the log.
//!
//! Exit codes: 0 success; 1 a failed verification or a failed operation; 2 a
//! usage error (clap's, or [`errors::UsageError`]: a missing site, email or
//! token); 130 a sync interrupted by Ctrl-C. A closed stdout (`grantledger log
//! export | head`) ends the program quietly with 0. Errors go to stderr as one
//! line (see [`errors`]); with `-v` the raw causes follow.

mod cmd;
mod datadir;
mod errors;
mod output;
#[cfg(test)]
mod schemas;
mod settings;
mod signals;
mod summary;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

use crate::datadir::DataDir;

/// Access governance for Jira Cloud on a tamper-evident event log.
#[derive(Debug, Parser)]
#[command(
    name = "grantledger",
    version,
    propagate_version = true,
    after_help = "Examples:
  grantledger demo                          try it on a simulated site (no network)
  grantledger init --site acme --email admin@acme.com && grantledger sync
  grantledger log verify                    walk the hash chain of the log"
)]
struct Cli {
    /// The data directory [default: the platform data directory + /grantledger]
    #[arg(long, global = true, env = "GRANTLEDGER_DATA_DIR", value_name = "PATH")]
    data_dir: Option<PathBuf>,

    /// More output: -v shows info logs, details and full error causes; -vv debug logs
    #[arg(short, long, global = true, action = ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the simulator on loopback, sync it twice around a few changes, and show what was recorded
    #[command(after_help = "Examples:
  grantledger demo                        (a fresh directory in the temporary directory)
  grantledger demo --seed 7               (another simulated org)
  grantledger --data-dir ./demo-data demo (keep it somewhere, then `grantledger --data-dir ./demo-data log stats`)")]
    Demo(cmd::demo::DemoArgs),
    /// Record what changed on the Jira site since the last sync
    #[command(after_help = "Examples:
  JIRA_API_TOKEN=... grantledger sync --site acme --email admin@acme.com
  grantledger sync                  (site and email from grantledger.toml, see `grantledger init`)
  grantledger sync --dry-run | jq . (the events it would append, appending nothing)

Ctrl-C stops fetching, records every scope already listed, closes the run as
failed (\"interrupted\") and exits with 130; a second Ctrl-C exits at once.")]
    Sync(cmd::sync::SyncArgs),
    /// Write a commented config file and check the credentials
    #[command(after_help = "Examples:
  JIRA_API_TOKEN=... grantledger init --site acme --email admin@acme.com
  grantledger init --site https://acme.atlassian.net --email admin@acme.com --token-file ~/.jira-token
  grantledger init --site acme --email admin@acme.com --force     (replace the config file)")]
    Init(cmd::init::InitArgs),
    /// Inspect, verify and export the event log
    #[command(subcommand)]
    Log(cmd::log::LogCommand),
    /// Serve the Jira Cloud simulator on 127.0.0.1 until Ctrl-C
    #[command(after_help = "Examples:
  grantledger sim                                      (a small org on a free port)
  grantledger sim --preset medium --port 8080
  grantledger sim --org org.json --save-org org.json   (serve a saved org, keep its changes)")]
    Sim(cmd::sim::SimArgs),
    /// Who has what: a user's access, or everyone holding a group, role or product
    #[command(subcommand)]
    Access(cmd::query::AccessCommand),
    /// Every change to a user, group, project or role, newest first, with its cause
    History(cmd::query::HistoryArgs),
    /// Grants added and removed between two moments (default: the last two completed syncs)
    Diff(cmd::query::DiffArgs),
    /// Just-in-time access: ask for, approve, extend and revoke time-bound access
    #[command(
        subcommand,
        after_help = "Examples:
  grantledger request create devs --duration 4h --justification 'incident INC-9' --as alice@acme.com
  grantledger request approve r12 --as bob@acme.com
  grantledger request list --break-glass"
    )]
    Request(cmd::request::RequestCommand),
    /// The scheduler of just-in-time access: grants, expiries, unfinished commands
    #[command(
        subcommand,
        after_help = "Examples:
  grantledger jit run           (until Ctrl-C, waking at each deadline)
  grantledger jit run --once    (one pass, for cron)"
    )]
    Jit(cmd::jit::JitCommand),
    /// Add or remove a group member or a project-role actor in Jira, through the outbox
    #[command(
        subcommand,
        after_help = "Examples:
  grantledger provision add --user mia@acme.com --group jira-developers --as ops@acme.com
  grantledger provision remove --user mia@acme.com --project OPS --role Administrators"
    )]
    Provision(cmd::outbox::ProvisionCommand),
    /// The outbox's commands: list, show, drive the unfinished ones again
    #[command(subcommand)]
    Commands(cmd::outbox::CommandsCommand),
    /// Access review campaigns: a frozen population, reviewers' decisions, revocations confirmed by a sync
    #[command(
        subcommand,
        after_help = "Examples:
  grantledger review create --name 'Q3 admins' --privileged --fallback sec@acme.com --as auditor@acme.com
  grantledger review launch c1 --as auditor@acme.com
  grantledger review export c1 --as lead@acme.com -o mine.csv && grantledger review import c1 mine.csv --as lead@acme.com
  grantledger review close c1 --as auditor@acme.com && grantledger sync
  grantledger review verify c1"
    )]
    Review(cmd::review::ReviewCommand),
    /// Reports for a security team: out-of-band access (grants that went around the process)
    #[command(subcommand)]
    Report(cmd::report::ReportCommand),
}

/// What every command gets besides its own arguments.
#[derive(Debug)]
pub struct Globals {
    /// `--data-dir` / `GRANTLEDGER_DATA_DIR`, unresolved (commands that need no
    /// data directory never resolve it).
    pub data_dir: Option<PathBuf>,
    /// How many `-v`.
    pub verbose: u8,
}

impl Globals {
    /// The data directory, resolved (nothing is created).
    pub fn data_dir(&self) -> anyhow::Result<DataDir> {
        DataDir::resolve(self.data_dir.as_deref())
    }
}

fn main() -> ExitCode {
    // An empty GRANTLEDGER_DATA_DIR means "not set" (clap would call it a
    // missing --data-dir value). Done first, while the process has one thread.
    if std::env::var_os("GRANTLEDGER_DATA_DIR").is_some_and(|v| v.is_empty()) {
        std::env::remove_var("GRANTLEDGER_DATA_DIR");
    }
    let cli = parse();
    init_logging(cli.verbose);
    let globals = Globals {
        data_dir: cli.data_dir,
        verbose: cli.verbose,
    };
    let result = match cli.command {
        Command::Demo(a) => cmd::demo::run(a, &globals),
        Command::Sync(a) => cmd::sync::run(a, &globals),
        Command::Init(a) => cmd::init::run(a, &globals),
        Command::Log(c) => cmd::log::run(c, &globals),
        Command::Sim(a) => cmd::sim::run(a, &globals),
        Command::Access(c) => cmd::query::run_access(c, &globals),
        Command::History(a) => cmd::query::run_history(a, &globals),
        Command::Diff(a) => cmd::query::run_diff(a, &globals),
        Command::Request(c) => cmd::request::run(c, &globals),
        Command::Jit(c) => cmd::jit::run_command(c, &globals),
        Command::Provision(c) => cmd::outbox::run_provision(c, &globals),
        Command::Commands(c) => cmd::outbox::run_commands(c, &globals),
        Command::Review(c) => cmd::review::run(c, &globals),
        Command::Report(c) => cmd::report::run(c, &globals),
    };
    match result {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let shown_dir = match &globals.data_dir {
                Some(d) => Some(d.clone()),
                None => DataDir::resolve(None).ok().map(|d| d.root().to_path_buf()),
            };
            report_error(&err, shown_dir.as_deref(), globals.verbose);
            if errors::is_usage(&err) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Parses the command line. `--data-dir` is global, but `sim` does not use it,
/// so its help does not list it.
fn parse() -> Cli {
    // A subcommand that has an argument of the global's id does not get the
    // global: give `sim` a hidden one.
    let command = Cli::command().mut_subcommand("sim", |sim| {
        sim.arg(
            clap::Arg::new("data_dir")
                .long("data-dir")
                .value_name("PATH")
                .value_parser(clap::value_parser!(PathBuf))
                .hide(true),
        )
    });
    let matches = command.get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Logs go to stderr. `RUST_LOG`, when set, decides the filter; otherwise
/// warnings, `-v` info, `-vv` debug, `-vvv` trace.
fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            eprintln!("warning: ignoring RUST_LOG={spec:?}: {e}");
            EnvFilter::new(level_for(verbose))
        }),
        _ => EnvFilter::new(level_for(verbose)),
    };
    // A second init (impossible here) would only be refused; never fatal.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

fn level_for(verbose: u8) -> &'static str {
    match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    }
}

/// True when the failure is stdout (or another pipe) closed by the reader.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// One line `error: ...`: the explanation of a failure that needs one (see
/// [`errors::explain`]), else the message with every cause whose text is not
/// already in it. With `-v`, the raw message and each cause follow on lines of
/// their own.
fn report_error(err: &anyhow::Error, data_dir: Option<&std::path::Path>, verbose: u8) {
    let explained = errors::explain(err, data_dir);
    if verbose > 0 {
        if let Some(line) = &explained {
            eprintln!("error: {line}");
            eprintln!("  because: {}", output::safe(&err.to_string()));
        } else {
            eprintln!("error: {}", shown(err, &err.to_string()));
        }
        for cause in err.chain().skip(1) {
            eprintln!("  caused by: {}", output::safe(&cause.to_string()));
        }
        return;
    }
    if let Some(line) = explained {
        eprintln!("error: {line}");
        return;
    }
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    eprintln!("error: {}", shown(err, &line));
}

/// The error's text, made safe for a terminal. A query's resolution error is
/// a list of candidates on lines of their own (their names escaped where they
/// were written), so its line breaks stay; any other error is one line.
fn shown(err: &anyhow::Error, text: &str) -> String {
    if err.chain().any(|c| {
        c.downcast_ref::<grantledger_projection::QueryError>()
            .is_some()
    }) {
        output::safe_lines(text)
    } else {
        output::safe(text)
    }
}
