//! grantledger's test kit: what the tests, the benchmarks and the end-to-end
//! checks of every crate need, written once. A dev-dependency only; nothing in a
//! shipped binary links it.
//!
//! - [`harness`]: a simulator on 127.0.0.1 with a client configured for it (fast
//!   retries) and a fresh event log in a temporary directory ([`Harness`]), or the
//!   pieces alone ([`start_sim`], [`client_for`], [`fresh_log`]).
//! - [`oracle`]: the state a correct sync must leave for a simulated org
//!   ([`expected_state`]) and a field-by-field comparison with a readable first
//!   difference ([`assert_state_matches`]).
//! - [`scenario`]: given / when / then for event-sourced aggregates ([`given`]).
//!
//! The finders ("an active account that is not an admin", "an account outside
//! this group") are the simulator's own public methods on `Org`
//! (`plain_user`, `outsider`, `membership_except`, ...), so the demo uses them too.
//!
//! It deliberately does not depend on `grantledger-ingest`: the sync's own unit
//! tests use [`scenario`], and a kit that linked the sync would build it twice.
//!
//! ```no_run
//! # async fn demo() {
//! use grantledger_testkit::{Harness, Preset};
//! let h = Harness::start(Preset::Small, 7).await;
//! let org = h.sim.org();
//! let someone = org.plain_user().expect("a plain user");
//! // ... sync with `grantledger_ingest::sync(&h.log, &h.client, ...)`, then:
//! grantledger_testkit::assert_state_matches(&h.log, grantledger_testkit::SITE, &h.sim.org());
//! # let _ = someone;
//! # }
//! ```

pub mod harness;
pub mod oracle;
pub mod scenario;

pub use grantledger_jira_sim::{Credential, Faults, Org, Preset, SimServer};
pub use harness::{client_for, client_with, fast_retry, fresh_log, start_sim, Harness, SITE};
pub use oracle::{access_events_after, assert_state_matches, expected_state};
pub use scenario::{given, Fold, Given, Then};
