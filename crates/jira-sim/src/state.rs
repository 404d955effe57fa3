//! The simulator's state: the org with its lookup tables and clock (`World`),
//! what every request shares (`Shared`), and the authenticated `Caller`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use grantledger_clock::{Clock, SystemClock};

use crate::faults::{Fault, Faults, SimStats};
use crate::org::Org;
use crate::Credential;

/// Lookup tables over an [`Org`], rebuilt or patched on every change so that
/// page requests cost O(page), not O(org).
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub user_by_id: HashMap<String, usize>,
    pub group_by_id: HashMap<String, usize>,
    pub group_by_name: HashMap<String, usize>,
    /// Group id → user indexes of its members, in account-id order.
    pub members_all: HashMap<String, Vec<usize>>,
    /// The same, active users only.
    pub members_active: HashMap<String, Vec<usize>>,
    pub project_by_key: HashMap<String, usize>,
    pub project_by_id: HashMap<String, usize>,
    /// Project indexes sorted by key (Jira's default order).
    pub projects_by_key: Vec<usize>,
}

impl Index {
    pub(crate) fn build(org: &Org) -> Index {
        let mut ix = Index {
            user_by_id: org
                .users
                .iter()
                .enumerate()
                .map(|(i, u)| (u.account_id.clone(), i))
                .collect(),
            group_by_id: org
                .groups
                .iter()
                .enumerate()
                .map(|(i, g)| (g.group_id.clone(), i))
                .collect(),
            group_by_name: org
                .groups
                .iter()
                .enumerate()
                .map(|(i, g)| (g.name.clone(), i))
                .collect(),
            project_by_key: org
                .projects
                .iter()
                .enumerate()
                .map(|(i, p)| (p.key.clone(), i))
                .collect(),
            project_by_id: org
                .projects
                .iter()
                .enumerate()
                .map(|(i, p)| (p.id.clone(), i))
                .collect(),
            ..Index::default()
        };
        for g in &org.groups {
            ix.refresh_group(org, &g.group_id);
        }
        ix.projects_by_key = (0..org.projects.len()).collect();
        ix.projects_by_key
            .sort_by(|&a, &b| org.projects[a].key.cmp(&org.projects[b].key));
        ix
    }

    /// Recomputes one group's member lists after a write: O(group size).
    pub(crate) fn refresh_group(&mut self, org: &Org, group_id: &str) {
        let all: Vec<usize> = org
            .memberships
            .get(group_id)
            .map(|m| {
                m.iter()
                    .filter_map(|a| self.user_by_id.get(a).copied())
                    .collect()
            })
            .unwrap_or_default();
        let active = all
            .iter()
            .copied()
            .filter(|&i| org.users[i].active)
            .collect();
        self.members_all.insert(group_id.to_owned(), all);
        self.members_active.insert(group_id.to_owned(), active);
    }
}

/// The org, its index and the clock that stamps audit records, behind one lock.
pub(crate) struct World {
    pub org: Org,
    pub index: Index,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("org", &self.org)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// State shared by the server, its middleware and the handlers.
pub(crate) struct Shared {
    pub base_url: String,
    world: RwLock<World>,
    credentials: RwLock<Vec<Credential>>,
    faults: RwLock<Faults>,
    seq: AtomicU64,
    in_flight: AtomicU64,
    stats: Mutex<SimStats>,
}

impl Shared {
    /// The state of a server at `base_url` serving `org`, stamped by the
    /// system clock until told otherwise.
    pub(crate) fn new(
        base_url: String,
        org: Org,
        credentials: Vec<Credential>,
        faults: Faults,
    ) -> Shared {
        let index = Index::build(&org);
        Shared {
            base_url,
            world: RwLock::new(World {
                org,
                index,
                clock: Arc::new(SystemClock::new()),
            }),
            credentials: RwLock::new(credentials),
            faults: RwLock::new(faults),
            seq: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            stats: Mutex::new(SimStats::default()),
        }
    }

    /// The credentials Basic auth accepts.
    pub(crate) fn credentials(&self) -> RwLockReadGuard<'_, Vec<Credential>> {
        self.credentials.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Accepts one more credential from the next request on.
    pub(crate) fn add_credential(&self, credential: Credential) {
        self.credentials
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(credential);
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, World> {
        self.world.read().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, World> {
        self.world.write().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn faults(&self) -> Faults {
        self.faults
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    pub(crate) fn set_faults(&self, faults: Faults) {
        *self.faults.write().unwrap_or_else(|e| e.into_inner()) = faults;
    }
    /// The next number of the request sequence that faults count (from 1).
    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst) + 1
    }
    /// The request counts; the guard lets a caller read or zero them.
    pub(crate) fn stats(&self) -> MutexGuard<'_, SimStats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// One more `/rest` request being handled, until the guard is dropped.
    pub(crate) fn enter(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let mut s = self.stats();
        s.peak_in_flight = s.peak_in_flight.max(now);
        InFlight { shared: self }
    }
    pub(crate) fn count(&self, op: String) {
        let mut s = self.stats();
        s.total += 1;
        *s.by_operation.entry(op).or_default() += 1;
    }
    pub(crate) fn count_change(&self, op: String) {
        *self.stats().changes.entry(op).or_default() += 1;
    }
    pub(crate) fn count_fault(&self, fault: Fault) {
        let mut s = self.stats();
        s.faults_injected += 1;
        *s.faults_by_kind.entry(fault.name().to_owned()).or_default() += 1;
    }
}

/// The authenticated caller, put in request extensions by the middleware.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub String);

/// A `/rest` request being handled (see [`Shared::enter`]).
pub(crate) struct InFlight<'a> {
    shared: &'a Shared,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
