//! The outbox crash test's child process. Opens the log at `<log dir>`, issues the
//! operator command `<command id>` (`add` or `remove` account `<account>` to or
//! from group `<group id>` on the simulator at `<sim url>`), then either drives
//! every unfinished command (`<stop>` = `none`), or drives this one and, on
//! reaching step `<stop>` (`issued`, `started`, `jira-done`, `grant-recorded`,
//! `finished`), prints `STOPPED <step>` and waits to be killed. Prints `DONE` when
//! it ends without stopping.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use grantledger_clock::SystemClock;
use grantledger_eventlog::EventLog;
use grantledger_jira::{ApiToken, JiraClient, JiraConfig};
use grantledger_model::{AccountId, CommandId, Grant, GroupId};
use grantledger_outbox::{CommandAction, CommandPurpose, CommandSpec, DrivePolicy, Executor, Step};

const USAGE: &str = "usage: outbox-crash-child <log dir> <sim url> <email> <token> <site> <command id> <add|remove> <account> <group id> <stop step|none>";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, url, email, token, site, command, action, account, group, stop] = &args[..] else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let action = match action.as_str() {
        "add" => CommandAction::Add,
        "remove" => CommandAction::Remove,
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let stop = match stop.as_str() {
        "none" => None,
        name => match Step::from_name(name) {
            Some(step) => Some(step),
            None => {
                eprintln!("unknown step '{name}'; {USAGE}");
                std::process::exit(2);
            }
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let log = EventLog::open(dir).expect("open the log");
    let config = JiraConfig::for_base_url(url, email, ApiToken::new(token.as_str()))
        .expect("the simulator's URL");
    let client = JiraClient::new(config).expect("a Jira client");
    let mut executor = Executor::new(log, Arc::new(SystemClock::new()), DrivePolicy::default())
        .with_site(site.as_str(), client);
    if let Some(stop) = stop {
        executor = executor.with_hook(Arc::new(move |_, step| {
            if step == stop {
                println!("STOPPED {}", step.name());
                let _ = std::io::stdout().flush();
                loop {
                    std::thread::sleep(Duration::from_secs(3600));
                }
            }
        }));
    }
    let result = runtime.block_on(async {
        if stop.is_none() {
            return executor.drive_unfinished().await.map(|done| {
                for (id, result) in done {
                    if let Err(e) = result {
                        eprintln!("{id}: {e}");
                        std::process::exit(1);
                    }
                }
            });
        }
        let id = executor.issue(CommandSpec {
            id: Some(CommandId::new(command.as_str())),
            site: site.clone(),
            action,
            grant: Grant::membership(
                AccountId::new(account.as_str()),
                GroupId::new(group.as_str()),
            ),
            purpose: CommandPurpose::Operator {
                operator: "crash-test".into(),
            },
        })?;
        executor.drive(&id).await.map(|_| ())
    });
    match result {
        Ok(()) => println!("DONE"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
