//! A faithful Jira Cloud simulator on loopback, for tests, benchmarks and the demo.
//!
//! The simulator answers the Jira Cloud platform REST v3 operations that
//! grantledger uses, the way Jira Cloud does per Atlassian's OpenAPI document:
//! the same paths and query parameters, the same three list shapes (`PageBean`,
//! bare arrays, maps), page caps with the clamped `maxResults` echoed back,
//! `ErrorCollection` bodies and body-less 401s, `emailAddress` omitted for
//! privacy-hidden users, `includeInactiveUsers` defaulting to false, Basic auth,
//! and site-admin-only group writes.
//!
//! Main types:
//! - [`Org`]: the site's state (users, groups, memberships, projects with role
//!   actors, application roles, site admins, audit log) as plain serde data;
//!   [`Org::generate`] builds one deterministically from a [`Preset`] and a seed,
//!   [`Org::load_json`] / [`Org::save_json`] read and write it.
//! - [`SimServer`]: serves an org over HTTP on 127.0.0.1 (axum). Writes really
//!   change the org and append audit records; [`SimServer::org`] snapshots it.
//! - [`Credential`]: the email / API token pairs Basic auth accepts, each bound
//!   to an account of the org.
//! - [`Faults`]: latency, 429s (every Nth or a deterministic ratio, with or
//!   without `Retry-After`), 503s, slow and malformed responses, dropped
//!   connections and a server that repeats pages; changeable while running.
//!   [`PagingFault`]: list endpoints with pages a client must not trust (page
//!   sizes capped, paging fields left out, pages that skip ahead, totals that
//!   lie, endless listings, status 200 with error or wrongly shaped bodies,
//!   over-long names and bodies) and a seeded "hostile" mode answering every
//!   list with random schema-valid bodies.
//! - [`SimStats`]: requests per operation, also at `GET /__sim/stats`
//!   (`POST /__sim/stats/reset` zeroes it).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use grantledger_jira_sim::{Credential, Faults, Org, Preset, SimServer};
//! let org = Org::generate(Preset::Small, 42);
//! let admin = Credential::admin_of(&org);
//! let server = SimServer::start(org, vec![admin], Faults::default()).await?;
//! println!("Jira Cloud at {}", server.base_url());
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! What it deliberately does not do: it is not a Jira. There are no issues,
//! workflows, permission schemes or nested groups; permissions are reduced to
//! "site admin" (group writes), "Jira admin" (site admins and members of
//! `jira-administrators`: application roles, audit log, any project's roles)
//! and "project admin" (user actors of a project's Administrators role). It
//! binds wherever it is told, but it is meant for loopback only: no TLS.
//! Messages of errors that Atlassian does not document are the simulator's own
//! wording; their status codes and `ErrorCollection` shape follow the spec.

mod error;
mod faults;
mod finders;
mod generate;
mod handlers;
mod org;
mod paging_faults;
mod server;
mod state;

pub use error::SimError;
pub use faults::{Faults, PagingFault, SimStats};
pub use generate::{
    mix64, SplitMix64, JIRA_ADMINISTRATORS, JIRA_SERVICEDESK_USERS, JIRA_SOFTWARE_USERS,
    SITE_ADMINS,
};
pub use org::{
    Org, Preset, SimApplicationRole, SimAuditChange, SimAuditItem, SimAuditRecord, SimGroup,
    SimProject, SimRole, SimUser,
};
pub use server::{serve_forever, SimServer};

/// An email / API token pair that Basic auth accepts, acting as `account_id`.
///
/// The token never shows in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The login email (compared case-insensitively).
    pub email: String,
    /// The API token.
    pub token: String,
    /// The account the caller acts as; must be an active user of the org.
    pub account_id: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("email", &self.email)
            .field("token", &"***")
            .field("account_id", &self.account_id)
            .finish()
    }
}

impl Credential {
    /// The default token of [`Credential::admin_of`].
    pub const DEFAULT_TOKEN: &'static str = "sim-token";
    /// The default email of [`Credential::admin_of`].
    pub const DEFAULT_EMAIL: &'static str = "admin@example.test";

    /// A credential for `account_id`.
    pub fn new(
        email: impl Into<String>,
        token: impl Into<String>,
        account_id: impl Into<String>,
    ) -> Self {
        Credential {
            email: email.into(),
            token: token.into(),
            account_id: account_id.into(),
        }
    }

    /// `admin@example.test` / `sim-token`, acting as the org's first site
    /// admin (in account-id order). Generated orgs always have one; for an
    /// org without site admins the account id is empty and every request
    /// with this credential answers 401.
    pub fn admin_of(org: &Org) -> Credential {
        // The first site admin who can log in (inactive accounts get 401).
        let account_id = org
            .site_admins
            .iter()
            .find(|id| org.user(id).is_some_and(|u| u.active))
            .cloned()
            .unwrap_or_default();
        Credential::new(Self::DEFAULT_EMAIL, Self::DEFAULT_TOKEN, account_id)
    }
}

#[cfg(test)]
mod admin_tests {
    use super::*;

    #[test]
    fn the_default_admin_can_log_in_whatever_the_seed() {
        for seed in 0..40 {
            let org = Org::generate(Preset::Small, seed);
            let admin = Credential::admin_of(&org);
            let user = org.user(&admin.account_id);
            assert!(
                user.is_some_and(|u| u.active),
                "seed {seed}: admin {admin:?} cannot log in"
            );
            assert!(org.site_admins.contains(&admin.account_id));
        }
    }
}
