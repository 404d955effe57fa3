//! Workspace-level end-to-end tests (`tests/tests/`) and the helper binaries they
//! drive (`src/bin/`): `crash-writer` appends batches until it is killed, so the
//! log's crash test can check what survives a SIGKILL; `sync-child` runs one sync
//! against a simulator, so the sync crash test can kill it mid-run.

use grantledger_eventlog::NewEvent;
use grantledger_model::{AccountId, AccountType, UserObserved, UserRecord};

/// Events per batch written by `crash-writer`.
pub const CRASH_BATCH: u64 = 200;

/// The `i`-th event of batch `batch`: its account id names both, so a reader can
/// tell which batch every record belongs to.
pub fn crash_event(batch: u64, i: u64) -> NewEvent {
    NewEvent::new(UserObserved {
        user: UserRecord {
            account_id: AccountId::new(format!("b{batch}-e{i}")),
            account_type: AccountType::Atlassian,
            // Varying sizes, so batches straddle chunk boundaries differently.
            display_name: "x".repeat(((batch * 7 + i * 13) % 300) as usize),
            email: None,
            active: true,
        },
    })
}

/// Parses `b<batch>-e<i>` back.
pub fn parse_crash_account(id: &str) -> Option<(u64, u64)> {
    let (b, e) = id.strip_prefix('b')?.split_once("-e")?;
    Some((b.parse().ok()?, e.parse().ok()?))
}

/// Everything left to read on a child's pipe (empty when the pipe was not piped).
pub fn drain(pipe: Option<impl std::io::Read>) -> String {
    let mut out = String::new();
    if let Some(mut p) = pipe {
        p.read_to_string(&mut out)
            .expect("a child's output is UTF-8");
    }
    out
}
