//! The request-level crash test's child process. Opens the log at `<log dir>`,
//! reads the policies from `<policies file>`, sets a manual clock to `<at>`
//! (microseconds since the epoch) and runs one scheduler pass against the
//! simulator at `<sim url>`. When the command `<command id>` reaches step
//! `<stop>` (`issued`, `started`, `jira-done`, `grant-recorded`, `finished`) it
//! prints `STOPPED <step>` and waits to be killed; a pass that ends without
//! stopping prints `DONE`.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use grantledger_clock::ManualClock;
use grantledger_eventlog::EventLog;
use grantledger_jira::{ApiToken, JiraClient, JiraConfig};
use grantledger_jit::{run_once_spread, Jit, Policies};
use grantledger_model::{CommandId, Timestamp};
use grantledger_outbox::{DrivePolicy, Executor, Step};

const USAGE: &str = "usage: jit-crash-child <log dir> <sim url> <email> <token> <site> <policies file> <at micros> <command id> <stop step>";

fn fail(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, url, email, token, site, policies, at, command, stop] = &args[..] else {
        fail(USAGE);
    };
    let Some(stop) = Step::from_name(stop) else {
        fail(&format!("unknown step '{stop}'; {USAGE}"));
    };
    let Ok(at) = at.parse::<i64>() else {
        fail(&format!("'{at}' is not a number of microseconds; {USAGE}"));
    };
    let policies = std::fs::read_to_string(policies)
        .map_err(|e| e.to_string())
        .and_then(|text| Policies::parse(&text).map_err(|e| e.to_string()))
        .unwrap_or_else(|e| fail(&format!("the policies: {e}")));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let log = EventLog::open(dir).expect("open the log");
    let clock = Arc::new(ManualClock::auto_advancing(Timestamp::from_micros(at)));
    let config = JiraConfig::for_base_url(url, email, ApiToken::new(token.as_str()))
        .expect("the simulator's URL");
    let client = JiraClient::new(config).expect("a Jira client");
    let target = CommandId::new(command.as_str());
    let executor = Arc::new(
        Executor::new(log.clone(), clock.clone(), DrivePolicy::default())
            .with_site(site.as_str(), client)
            .with_hook(Arc::new(move |id, step| {
                if *id == target && step == stop {
                    println!("STOPPED {}", step.name());
                    let _ = std::io::stdout().flush();
                    loop {
                        std::thread::sleep(Duration::from_secs(3600));
                    }
                }
            })),
    );
    let jit = Jit::new(log, site.as_str(), policies, clock);
    match runtime.block_on(run_once_spread(&jit, &executor)) {
        Ok(_) => println!("DONE"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
