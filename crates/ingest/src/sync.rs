//! One sync run: plan, fetch concurrently, diff each completed scope in a fixed
//! order, append in durable batches, and close the run.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use grantledger_eventlog::{EventLog, ExpectedVersion, LogError, NewEvent, Position};
use grantledger_jira::paging::PageMeta;
use grantledger_jira::types::{
    ApplicationRole, Group, GroupIndex, Project, ProjectRole, RoleRef, User,
};
use grantledger_jira::{
    JiraClient, JiraError, Metrics, Operation, GROUPS_PAGE, MEMBERS_PAGE, PROJECTS_PAGE,
};
use grantledger_model::*;
use grantledger_projection::SiteState;
use tokio::task::{AbortHandle, JoinSet};
use tracing::{debug, info, warn};

use crate::diff::{self, ProductGroups};
use crate::scope::{minimum_requests, Scope};

/// How to run a sync.
#[derive(Clone)]
pub struct SyncOptions {
    /// The site's name in the log: events go to the stream `jira:<site>`.
    pub site: String,
    /// Listing requests in flight at once.
    pub concurrency: usize,
    /// Compute the events without appending anything.
    pub dry_run: bool,
    /// The run's id; by default derived from the clock.
    pub run_id: Option<SyncRunId>,
    /// Events per appended batch (a scope's events are never split).
    pub batch_events: usize,
    /// Where time comes from.
    pub clock: Arc<dyn Clock>,
    /// Told about progress after every scope.
    pub observer: Option<Arc<dyn SyncObserver>>,
    /// The most a run may take; past it the run stops its requests and ends
    /// `SyncFailed` with what it finished.
    pub deadline: Duration,
    /// A role map, role or product listing that would remove at least this
    /// share of what the scope holds (and it holds more than
    /// `confirm_min_items`) is listed again, and nothing is removed unless both
    /// listings agree on what is gone. (Users, groups, projects and members are
    /// listed twice before any removal.)
    pub confirm_share: f64,
    /// See `confirm_share`: scopes this small are not confirmed by share.
    pub confirm_min_items: usize,
    /// Users that two agreeing user listings no longer hold are looked up by
    /// id (`GET /user`) before they are recorded as gone: a bare-array listing
    /// carries no total, so only this proves it did not skip them. At most this
    /// many (an even sample of them when there are more).
    pub max_user_lookups: usize,
}

/// Default for [`SyncOptions::deadline`]: the largest real site (200,000 users,
/// 50,000 groups, 20,000 projects: about 100,000 requests) at the ~10 requests
/// a second Jira's rate limits sustain is under three hours.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(4 * 3600);

impl SyncOptions {
    /// Defaults for `site`: concurrency 8, batches of 1,000 events, system clock.
    pub fn new(site: impl Into<String>) -> Self {
        Self {
            site: site.into(),
            concurrency: 8,
            dry_run: false,
            run_id: None,
            batch_events: 1_000,
            clock: Arc::new(SystemClock),
            observer: None,
            deadline: DEFAULT_DEADLINE,
            confirm_share: 1.0,
            confirm_min_items: 3,
            max_user_lookups: 100,
        }
    }
}

impl std::fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncOptions")
            .field("site", &self.site)
            .field("concurrency", &self.concurrency)
            .field("dry_run", &self.dry_run)
            .field("run_id", &self.run_id)
            .field("batch_events", &self.batch_events)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// Progress of a running sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Scopes diffed (or given up).
    pub scopes_done: u64,
    /// Scopes known so far (grows as lists reveal groups, projects and roles).
    pub scopes_known: u64,
    /// HTTP requests so far.
    pub requests: u64,
    /// Of those, retries.
    pub retries: u64,
    /// Events computed so far.
    pub events: u64,
}

/// Receives progress; implemented by the CLI's progress bars.
pub trait SyncObserver: Send + Sync {
    /// Called after every scope.
    fn progress(&self, progress: &Progress);
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Everything was listed and every difference recorded.
    Completed,
    /// Some scopes could not be listed; their removals were not recorded.
    Failed {
        /// Why, in one line.
        reason: String,
        /// The scopes not finished.
        unfinished: Vec<String>,
    },
}

/// Sizes of the site after the run, as the log now has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Users (every account type).
    pub users: u64,
    /// Inactive users among them.
    pub inactive_users: u64,
    /// Groups.
    pub groups: u64,
    /// Group memberships.
    pub memberships: u64,
    /// Projects.
    pub projects: u64,
    /// Project roles.
    pub roles: u64,
    /// Role actor grants (users and groups).
    pub role_grants: u64,
    /// Products.
    pub products: u64,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// The run.
    pub run: SyncRunId,
    /// How it ended.
    pub outcome: Outcome,
    /// Its figures.
    pub stats: SyncStats,
    /// The site afterwards.
    pub counts: Counts,
    /// Access events by type.
    pub events_by_type: BTreeMap<&'static str, u64>,
    /// Positions of the access events written (none for a dry run or no change).
    pub written: Option<(Position, Position)>,
    /// The events a dry run would have appended.
    pub dry_run_events: Vec<Event>,
    /// Things worth knowing that did not fail the run.
    pub warnings: Vec<String>,
}

/// A sync could not record its outcome.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The log failed; what was appended before stands and verifies.
    #[error("the event log failed during the sync: {0}")]
    Log(#[from] LogError),
    /// A background task died.
    #[error("internal error during the sync: {0}")]
    Internal(String),
}

/// A PageBean listing fetched page by page.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum List {
    Groups,
    Projects,
    Members(GroupId),
}

impl List {
    fn of(scope: &Scope) -> Option<List> {
        match scope {
            Scope::Groups => Some(List::Groups),
            Scope::Projects => Some(List::Projects),
            Scope::Members(g) => Some(List::Members(g.clone())),
            _ => None,
        }
    }

    fn ceiling(&self, client: &JiraClient) -> u64 {
        let l = client.limits();
        match self {
            List::Groups => l.max_groups,
            List::Projects => l.max_projects,
            List::Members(_) => l.max_group_members,
        }
    }

    fn scope(&self) -> Scope {
        match self {
            List::Groups => Scope::Groups,
            List::Projects => Scope::Projects,
            List::Members(g) => Scope::Members(g.clone()),
        }
    }

    fn endpoint(&self) -> &'static str {
        match self {
            List::Groups => Operation::GroupBulk.endpoint(),
            List::Projects => Operation::ProjectSearch.endpoint(),
            List::Members(_) => Operation::GroupMember.endpoint(),
        }
    }

    fn requested_page_size(&self) -> u64 {
        match self {
            List::Groups => GROUPS_PAGE,
            List::Projects => PROJECTS_PAGE,
            List::Members(_) => MEMBERS_PAGE,
        }
    }
}

pub(crate) enum Payload {
    Groups(Vec<Group>),
    Projects(Vec<Project>),
    Users(Vec<User>),
}

impl Payload {
    fn len(&self) -> usize {
        match self {
            Payload::Groups(v) => v.len(),
            Payload::Projects(v) => v.len(),
            Payload::Users(v) => v.len(),
        }
    }

    fn append(&mut self, other: Payload) {
        match (self, other) {
            (Payload::Groups(a), Payload::Groups(b)) => a.extend(b),
            (Payload::Projects(a), Payload::Projects(b)) => a.extend(b),
            (Payload::Users(a), Payload::Users(b)) => a.extend(b),
            _ => unreachable!("pages of one list share a type"),
        }
    }
}

enum Job {
    Users,
    Page(List, u64),
    Relist(List),
    RoleMap(ProjectId),
    Role(ProjectId, RoleId),
    Products,
    UserLookup(AccountId),
}

enum Done {
    Users(Result<Vec<User>, JiraError>),
    Page(List, u64, Result<(PageMeta, Payload), JiraError>),
    Relisted(List, Result<Payload, JiraError>),
    RoleMap(ProjectId, Result<Vec<RoleRef>, JiraError>),
    Role(ProjectId, RoleId, Result<ProjectRole, JiraError>),
    Products(Result<Vec<ApplicationRole>, JiraError>),
    UserLookup(AccountId, Result<Option<User>, JiraError>),
}

async fn page(
    client: &JiraClient,
    list: &List,
    start: u64,
) -> Result<(PageMeta, Payload), JiraError> {
    Ok(match list {
        List::Groups => {
            let (m, v) = client.groups_pages().page_at(start).await?;
            (m, Payload::Groups(v))
        }
        List::Projects => {
            let (m, v) = client.projects_pages().page_at(start).await?;
            (m, Payload::Projects(v))
        }
        List::Members(g) => {
            let (m, v) = client
                .group_members_pages(g.as_str())
                .page_at(start)
                .await?;
            (m, Payload::Users(v))
        }
    })
}

async fn relist(client: &JiraClient, list: &List) -> Result<Payload, JiraError> {
    Ok(match list {
        List::Groups => Payload::Groups(client.groups().await?),
        List::Projects => Payload::Projects(client.projects().await?),
        List::Members(g) => Payload::Users(client.group_members(g.as_str()).await?),
    })
}

async fn run_job(client: JiraClient, job: Job) -> Done {
    match job {
        Job::Users => Done::Users(client.users().await),
        Job::Page(list, start) => {
            let r = page(&client, &list, start).await;
            Done::Page(list, start, r)
        }
        Job::Relist(list) => {
            let r = relist(&client, &list).await;
            Done::Relisted(list, r)
        }
        Job::RoleMap(p) => {
            let r = client.project_roles(p.as_str()).await;
            Done::RoleMap(p, r)
        }
        Job::Role(p, r) => {
            let res = client.role(p.as_str(), r.as_str()).await;
            Done::Role(p, r, res)
        }
        Job::Products => Done::Products(client.application_roles().await),
        Job::UserLookup(id) => {
            let r = client.user(id.as_str()).await;
            Done::UserLookup(id, r)
        }
    }
}

/// What a completely listed scope holds.
pub(crate) enum Data {
    Users(Vec<User>),
    Groups(Vec<Group>),
    Projects(Vec<Project>),
    Products(Vec<ApplicationRole>),
    Members(Vec<User>),
    Roles(Vec<RoleRef>),
    Actors(ProjectRole),
}

enum Status {
    Pending,
    Done(Data),
    Failed(String),
}

/// A user listing whose removals are being looked up one by one.
struct UserLookup {
    listing: Vec<User>,
    outstanding: usize,
    asked: usize,
    removed: usize,
    still_there: Vec<AccountId>,
    error: Option<JiraError>,
}

/// An even sample of at most `max` of `ids` (all of them when few enough).
fn sample(ids: Vec<String>, max: usize) -> Vec<String> {
    if ids.len() <= max || max == 0 {
        return if max == 0 { Vec::new() } else { ids };
    }
    let step = ids.len().div_ceil(max);
    ids.into_iter().step_by(step).collect()
}

/// Pages of one PageBean listing gathered concurrently.
struct Gather {
    pages: BTreeMap<u64, (PageMeta, Payload)>,
    outstanding: usize,
}

/// Whether concurrently fetched pages fit together into one consistent listing.
fn consistent(pages: &BTreeMap<u64, (PageMeta, Payload)>, size: u64) -> bool {
    let Some((_, (first, _))) = pages.first_key_value() else {
        return false;
    };
    let Some(total) = first.total else {
        return false;
    };
    let n = pages.len();
    let mut sum = 0u64;
    for (i, (start, (meta, items))) in pages.iter().enumerate() {
        let last = i + 1 == n;
        if meta.total != Some(total) || *start != i as u64 * size {
            return false;
        }
        // A server that ignores startAt echoes another offset (or the same page).
        if meta.start_at.is_some_and(|echoed| echoed != *start) {
            return false;
        }
        if !last && (items.len() as u64 != size || meta.is_last == Some(true)) {
            return false;
        }
        if last && meta.is_last == Some(false) {
            return false;
        }
        sum += items.len() as u64;
    }
    sum == total
}

enum WriterMsg {
    Batch(Vec<Event>),
}

struct Writer {
    tx: mpsc::Sender<WriterMsg>,
    handle: std::thread::JoinHandle<Result<Option<(Position, Position)>, LogError>>,
}

fn start_writer(log: EventLog, stream: StreamId, version: u64, run: SyncRunId) -> Writer {
    // Unbounded: a send never blocks the async runtime; what waits is bounded by
    // the events one run computes.
    let (tx, rx) = mpsc::channel::<WriterMsg>();
    let handle = std::thread::Builder::new()
        .name("sync-writer".into())
        .spawn(move || {
            let mut version = version;
            let mut span: Option<(Position, Position)> = None;
            for msg in rx {
                let WriterMsg::Batch(events) = msg;
                let n = events.len() as u64;
                let batch = events
                    .into_iter()
                    .map(|e| NewEvent::new(e).caused_by(Causation::SyncRun(run.clone())))
                    .collect();
                let done = log.append(&stream, ExpectedVersion::Exact(version), batch)?;
                version += n;
                span = Some((span.map_or(done.first, |s| s.0), done.last));
            }
            Ok(span)
        })
        .expect("spawn the sync writer thread");
    Writer { tx, handle }
}

fn is_fatal(e: &JiraError) -> bool {
    matches!(
        e,
        JiraError::Unauthorized { .. }
            | JiraError::UnknownHost { .. }
            | JiraError::Unreachable { .. }
            | JiraError::RateLimited { .. }
            | JiraError::Config(_)
            | JiraError::Token(_)
    )
}

fn run_id(clock: &dyn Clock) -> SyncRunId {
    let micros = clock.now().as_micros();
    let at = chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y%m%dT%H%M%S%.6fZ").to_string())
        .unwrap_or_else(|| micros.to_string());
    SyncRunId::new(format!("sync-{at}-{:x}", std::process::id()))
}

struct Run<'a> {
    client: &'a JiraClient,
    opts: &'a SyncOptions,
    run: SyncRunId,
    state: SiteState,
    scopes: BTreeMap<Scope, Status>,
    queue: VecDeque<Job>,
    gathers: BTreeMap<List, Gather>,
    group_index: GroupIndex,
    pending: Vec<Event>,
    all_events: Vec<Event>,
    writer: Option<Writer>,
    writer_gone: bool,
    unfinished: Vec<String>,
    first_failure: Option<String>,
    fatal: Option<String>,
    warnings: Vec<String>,
    events_by_type: BTreeMap<&'static str, u64>,
    access_events: u64,
    items_seen: u64,
    minimum: u64,
    relisted: u64,
    /// First listings of scopes that implied removals, kept until a second listing
    /// confirms them (see [`Run::confirmed`]).
    first_listings: BTreeMap<Scope, Payload>,
    /// First listings of role maps, roles and product access that would remove a
    /// large share of their scope, kept until a second listing agrees.
    first_others: BTreeMap<Scope, Data>,
    /// Page requests of each paged listing, queued or in flight, to cancel
    /// them when the listing fails.
    inflight: BTreeMap<List, Vec<AbortHandle>>,
    cancelled: u64,
    /// A user listing waiting for its removals to be looked up by id.
    user_lookup: Option<UserLookup>,
    confirm_relists: u64,
    kept_unconfirmed: u64,
    scopes_done: u64,
    metrics0: Metrics,
}

impl Run<'_> {
    fn discover(&mut self, scope: Scope, job: Job) {
        if self.fatal.is_some() {
            return;
        }
        self.scopes.entry(scope).or_insert(Status::Pending);
        self.queue.push_back(job);
    }

    fn finish_scope(&mut self, scope: Scope, result: Result<Data, JiraError>) {
        let status = match result {
            Ok(data) => Status::Done(data),
            Err(e) => {
                let msg = e.to_string();
                if is_fatal(&e) && self.fatal.is_none() {
                    self.fatal = Some(msg.clone());
                }
                Status::Failed(msg)
            }
        };
        self.scopes.insert(scope, status);
    }

    fn fail_scope(&mut self, scope: Scope, why: String) {
        self.scopes.insert(scope, Status::Failed(why));
    }

    /// Cancels every queued and in-flight page request of a listing.
    fn cancel(&mut self, list: &List) {
        let before = self.queue.len();
        self.queue
            .retain(|j| !matches!(j, Job::Page(l, _) | Job::Relist(l) if l == list));
        self.cancelled += (before - self.queue.len()) as u64;
        for h in self.inflight.remove(list).unwrap_or_default() {
            if !h.is_finished() {
                h.abort();
                self.cancelled += 1;
            }
        }
    }

    fn on_done(&mut self, done: Done) {
        match done {
            Done::Users(Ok(users)) => match self.confirmed(Scope::Users, Payload::Users(users)) {
                Some(Ok(Payload::Users(users))) => self.look_up_removed_users(users),
                Some(Ok(_)) => self.fail_scope(Scope::Users, "a user listing changed type".into()),
                Some(Err(why)) => self.fail_scope(Scope::Users, why),
                None => {}
            },
            Done::Users(Err(e)) => self.finish_scope(Scope::Users, Err(e)),
            Done::Products(r) => self.finish_other(Scope::Products, r.map(Data::Products)),
            Done::RoleMap(p, r) => self.finish_other(Scope::Roles(p), r.map(Data::Roles)),
            Done::Role(p, r, res) => self.finish_other(Scope::Actors(p, r), res.map(Data::Actors)),
            Done::Page(list, start, r) => self.on_page(list, start, r),
            Done::UserLookup(id, r) => self.on_user_lookup(id, r),
            Done::Relisted(list, r) => {
                self.gathers.remove(&list);
                self.inflight.remove(&list);
                self.list_done(list, r);
            }
        }
    }

    /// Two user listings agree on who is gone; before recording it, ask Jira
    /// for each of them (or a sample) by id.
    /// Why a user listing cannot be complete, when it plainly cannot: the
    /// account running the sync is itself a user.
    fn user_listing_impossible(&self, users: &[User]) -> Option<String> {
        if users.is_empty() {
            return Some("the user listing is empty, yet the account running the sync is itself a user: the answer cannot be complete".into());
        }
        let me = self.client.caller_account_id()?;
        (!users.iter().any(|u| u.account_id == me)).then(|| format!(
            "the user listing lacks the account running the sync ({me}, as Jira's X-AAccountId header names it): the answer cannot be complete"
        ))
    }

    fn look_up_removed_users(&mut self, users: Vec<User>) {
        if let Some(why) = self.user_listing_impossible(&users) {
            return self.fail_scope(Scope::Users, why);
        }
        let listing = Payload::Users(users);
        let removed = crate::confirm::removed_by(&self.state, &Scope::Users, &listing);
        let Payload::Users(users) = listing else {
            return;
        };
        if removed.is_empty() || self.opts.max_user_lookups == 0 {
            return self.finish_scope(Scope::Users, Ok(Data::Users(users)));
        }
        let n = removed.len();
        let ids = sample(removed.into_iter().collect(), self.opts.max_user_lookups);
        self.user_lookup = Some(UserLookup {
            listing: users,
            outstanding: ids.len(),
            asked: ids.len(),
            removed: n,
            still_there: Vec::new(),
            error: None,
        });
        for id in ids.into_iter().rev() {
            self.queue.push_front(Job::UserLookup(AccountId::new(id)));
        }
    }

    fn on_user_lookup(&mut self, id: AccountId, result: Result<Option<User>, JiraError>) {
        let Some(l) = self.user_lookup.as_mut() else {
            return;
        };
        l.outstanding -= 1;
        match result {
            Ok(Some(_)) => l.still_there.push(id),
            Ok(None) => {}
            Err(e) => {
                l.error.get_or_insert(e);
            }
        }
        if l.outstanding > 0 {
            return;
        }
        let Some(l) = self.user_lookup.take() else {
            return;
        };
        if let Some(e) = l.error {
            return self.finish_scope(Scope::Users, Err(e));
        }
        if let Some(first) = l.still_there.first() {
            return self.fail_scope(
                Scope::Users,
                format!(
                    "the user listing omits accounts that Jira still returns by id ({} of {} looked up, of {} missing; first: {first}): the listing is incomplete, so no user is recorded as gone",
                    l.still_there.len(),
                    l.asked,
                    l.removed
                ),
            );
        }
        self.finish_scope(Scope::Users, Ok(Data::Users(l.listing)));
    }

    /// A role map, role or product listing: confirmed by a second listing when
    /// it would remove a large share of its scope, then finished (a role map
    /// also reveals its roles' actor scopes).
    fn finish_other(&mut self, scope: Scope, result: Result<Data, JiraError>) {
        let data = match result {
            Ok(data) => data,
            Err(e) => return self.finish_scope(scope, Err(e)),
        };
        let data = if let Some(first) = self.first_others.remove(&scope) {
            let a =
                crate::confirm::removed_by_other(&self.state, &self.group_index, &scope, &first);
            let b = crate::confirm::removed_by_other(&self.state, &self.group_index, &scope, &data);
            if a != b {
                return self.fail_scope(scope, crate::confirm::disagreement(&a, &b));
            }
            data
        } else {
            let removed =
                crate::confirm::removed_by_other(&self.state, &self.group_index, &scope, &data);
            let held = crate::confirm::held(&self.state, &scope);
            let job = match &scope {
                Scope::Products => Some(Job::Products),
                Scope::Roles(p) => Some(Job::RoleMap(p.clone())),
                Scope::Actors(p, r) => Some(Job::Role(p.clone(), r.clone())),
                _ => None,
            };
            match job {
                Some(job)
                    if held > self.opts.confirm_min_items
                        && removed.len() as f64 >= self.opts.confirm_share * held as f64 =>
                {
                    debug!(%scope, held, removed = removed.len(), "a listing would remove a large share; listing it again");
                    self.confirm_relists += 1;
                    self.first_others.insert(scope, data);
                    self.queue.push_front(job);
                    return;
                }
                _ => data,
            }
        };
        if let (Scope::Roles(p), Data::Roles(roles)) = (&scope, &data) {
            for role in roles {
                self.discover(
                    Scope::Actors(p.clone(), role.id.clone()),
                    Job::Role(p.clone(), role.id.clone()),
                );
            }
        }
        self.finish_scope(scope, Ok(data));
    }

    fn on_page(&mut self, list: List, start: u64, result: Result<(PageMeta, Payload), JiraError>) {
        let (meta, items) = match result {
            Ok(ok) => ok,
            Err(e) => {
                // One failed page fails the listing: its other page requests,
                // queued or in flight, are cancelled at once.
                self.gathers.remove(&list);
                self.cancel(&list);
                let scope = list.scope();
                if matches!(self.scopes.get(&scope), Some(Status::Pending)) {
                    self.finish_scope(scope, Err(e));
                }
                return;
            }
        };
        if start == 0 {
            let size = list.requested_page_size();
            let ceiling = list.ceiling(self.client);
            let mut gather = Gather {
                pages: BTreeMap::new(),
                outstanding: 0,
            };
            if let Some(total) = meta.total.filter(|t| *t > ceiling) {
                self.inflight.remove(&list);
                let e = JiraError::Limit {
                    endpoint: list.endpoint(),
                    what: format!("the listing's reported total ({total})"),
                    limit: ceiling,
                    unit: " items",
                };
                return self.finish_scope(list.scope(), Err(e));
            }
            if meta.is_last != Some(true) {
                match meta.total {
                    // Planned only when the server honours the page size asked
                    // (Jira's documented cap) and echoes the offset: at most
                    // ceil(ceiling / page size) pages, never a number the server
                    // chose. Anything else is paged one by one by the cursor.
                    Some(total)
                        if total > size
                            && meta.max_results == Some(size)
                            && meta.start_at == Some(0) =>
                    {
                        // Fetch the rest concurrently, ahead of new scopes, so a huge
                        // group does not end up as a long serial tail.
                        let starts: Vec<u64> =
                            (1..total.div_ceil(size)).map(|k| k * size).collect();
                        gather.outstanding = starts.len();
                        for s in starts.into_iter().rev() {
                            self.queue.push_front(Job::Page(list.clone(), s));
                        }
                    }
                    _ => {
                        // No total to plan with, a clamped page size, or a total
                        // that contradicts isLast: list it the careful way, page
                        // after page, within the cursor's ceilings.
                        self.inflight.remove(&list);
                        self.queue.push_front(Job::Relist(list.clone()));
                        self.relisted += 1;
                        self.gathers.remove(&list);
                        return;
                    }
                }
            }
            gather.pages.insert(0, (meta, items));
            self.gathers.insert(list.clone(), gather);
        } else {
            let Some(g) = self.gathers.get_mut(&list) else {
                return; // the listing already failed or is being relisted
            };
            g.pages.insert(start, (meta, items));
            g.outstanding -= 1;
        }
        let ready = self.gathers.get(&list).is_some_and(|g| g.outstanding == 0);
        if !ready {
            return;
        }
        let Some(gather) = self.gathers.remove(&list) else {
            return;
        };
        self.inflight.remove(&list);
        let size = list.requested_page_size();
        // One page marked last, at the offset asked, needs no fitting, unless
        // its total says otherwise.
        let single = gather.pages.len() == 1
            && gather
                .pages
                .first_key_value()
                .is_some_and(|(_, (m, items))| {
                    m.is_last == Some(true)
                        && m.start_at == Some(0)
                        && m.total.is_none_or(|t| t == items.len() as u64)
                });
        if !single && !consistent(&gather.pages, size) {
            warn!(list = ?list, "pages fetched concurrently do not fit together; listing again page by page");
            self.relisted += 1;
            self.queue.push_front(Job::Relist(list));
            return;
        }
        let mut all: Option<Payload> = None;
        for (_, (_, items)) in gather.pages {
            match &mut all {
                None => all = Some(items),
                Some(a) => a.append(items),
            }
        }
        if let Some(all) = all {
            self.list_done(list, Ok(all));
        }
    }

    /// Jira pages by offset: a member removed from an early page while another is
    /// added to a later one shifts someone across a page boundary unseen, and a
    /// complete-looking listing misses them. So a listing that would remove
    /// anything is taken a second time, and only what is missing from both is
    /// removed. Returns the listing to diff, or `None` while the second is fetched.
    fn confirmed(&mut self, scope: Scope, listing: Payload) -> Option<Result<Payload, String>> {
        if let Some(first) = self.first_listings.remove(&scope) {
            // Both listings must agree on what is gone: a server whose answers
            // change from one listing to the next (or a site changing under the
            // sync) proves no removal; the next sync decides.
            let a = crate::confirm::removed_by(&self.state, &scope, &first);
            let b = crate::confirm::removed_by(&self.state, &scope, &listing);
            if a != b {
                return Some(Err(crate::confirm::disagreement(&a, &b)));
            }
            let (merged, kept) = merge_listings(first, listing);
            self.kept_unconfirmed += kept;
            return Some(Ok(merged));
        }
        if crate::confirm::removed_by(&self.state, &scope, &listing).is_empty() {
            return Some(Ok(listing));
        }
        let job = match &scope {
            Scope::Users => Job::Users,
            Scope::Groups => Job::Page(List::Groups, 0),
            Scope::Projects => Job::Page(List::Projects, 0),
            Scope::Members(g) => Job::Page(List::Members(g.clone()), 0),
            _ => return Some(Ok(listing)),
        };
        if let Some(list) = List::of(&scope) {
            self.inflight.remove(&list);
        }
        self.confirm_relists += 1;
        self.first_listings.insert(scope, listing);
        self.queue.push_front(job);
        None
    }

    fn list_done(&mut self, list: List, result: Result<Payload, JiraError>) {
        let scope = list.scope();
        let result = match result {
            Ok(listing) => match self.confirmed(scope.clone(), listing) {
                Some(Ok(listing)) => Ok(listing),
                Some(Err(why)) => return self.fail_scope(scope, why),
                None => return,
            },
            Err(e) => Err(e),
        };
        let data = match result {
            Err(e) => return self.finish_scope(scope, Err(e)),
            Ok(Payload::Groups(groups)) => {
                self.group_index = GroupIndex::from_groups(groups.iter());
                let ids: BTreeSet<GroupId> = groups
                    .iter()
                    .filter_map(|g| {
                        g.group_id
                            .as_deref()
                            .filter(|s| !s.is_empty())
                            .map(GroupId::from)
                    })
                    .collect();
                for g in ids {
                    self.discover(Scope::Members(g.clone()), Job::Page(List::Members(g), 0));
                }
                Data::Groups(groups)
            }
            Ok(Payload::Projects(projects)) => {
                for p in &projects {
                    let id = ProjectId::new(p.id.clone());
                    self.discover(Scope::Roles(id.clone()), Job::RoleMap(id));
                }
                Data::Projects(projects)
            }
            Ok(Payload::Users(users)) => Data::Members(users),
        };
        self.finish_scope(scope, Ok(data));
    }

    /// Diffs every scope that is next in order and finished.
    fn drain(&mut self) {
        loop {
            let Some(entry) = self.scopes.first_entry() else {
                return;
            };
            if matches!(entry.get(), Status::Pending) && self.fatal.is_none() {
                return;
            }
            let (scope, status) = entry.remove_entry();
            self.scopes_done += 1;
            match status {
                Status::Done(data) => {
                    if self.fatal.is_some() {
                        // Past a fatal error nothing more is recorded: the run stops.
                        self.unfinished.push(scope.to_string());
                    } else {
                        match self.diff(&scope, data) {
                            Ok(events) => self.record(events),
                            Err(why) => self.fail(&scope, why),
                        }
                    }
                }
                Status::Failed(why) => self.fail(&scope, why),
                Status::Pending => self.unfinished.push(scope.to_string()),
            }
            if self.pending.len() >= self.opts.batch_events {
                self.flush();
            }
            self.report_progress();
        }
    }

    fn fail(&mut self, scope: &Scope, why: String) {
        debug!(%scope, %why, "scope not finished");
        if self.first_failure.is_none() {
            self.first_failure = Some(format!("{scope}: {why}"));
        }
        self.unfinished.push(scope.to_string());
    }

    fn report_progress(&self) {
        if let Some(o) = &self.opts.observer {
            let m = self.client.metrics();
            o.progress(&Progress {
                scopes_done: self.scopes_done,
                scopes_known: self.scopes_done + self.scopes.len() as u64,
                requests: m.requests - self.metrics0.requests,
                retries: m.retries - self.metrics0.retries,
                events: self.access_events,
            });
        }
    }

    fn record(&mut self, events: Vec<Event>) {
        for e in &events {
            self.state.apply_event(e);
            *self.events_by_type.entry(e.event_type()).or_default() += 1;
        }
        self.access_events += events.len() as u64;
        self.pending.extend(events);
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        if self.opts.dry_run {
            self.all_events.extend(batch);
            return;
        }
        if let Some(w) = &self.writer {
            if w.tx.send(WriterMsg::Batch(batch)).is_err() {
                self.writer_gone = true;
                if self.fatal.is_none() {
                    self.fatal = Some("the event log stopped accepting appends".into());
                }
            }
        }
    }

    fn diff(&mut self, scope: &Scope, data: Data) -> Result<Vec<Event>, String> {
        let count = |n: usize, this: &mut Self| {
            this.items_seen += n as u64;
            this.minimum += minimum_requests(scope, n as u64);
        };
        Ok(match data {
            Data::Users(users) => {
                count(users.len(), self);
                if let Some(why) = self.user_listing_impossible(&users) {
                    return Err(why);
                }
                let listed: Vec<UserRecord> = users.iter().map(User::to_record).collect();
                unique(listed.iter().map(|u| &u.account_id), "user")?;
                diff::users(&self.state, &listed)
            }
            Data::Groups(groups) => {
                count(groups.len(), self);
                // A group that cannot be identified makes the list incomplete: no
                // group may be called vanished on its strength.
                let listed = groups
                    .iter()
                    .map(|g| g.to_record().map_err(|e| e.to_string()))
                    .collect::<Result<Vec<_>, _>>()?;
                unique(listed.iter().map(|g| &g.group_id), "group")?;
                diff::groups(&self.state, &listed, &self.run)
            }
            Data::Projects(projects) => {
                count(projects.len(), self);
                let listed: Vec<ProjectRecord> = projects.iter().map(Project::to_record).collect();
                unique(listed.iter().map(|p| &p.project_id), "project")?;
                diff::projects(&self.state, &listed, &self.run)
            }
            Data::Products(roles) => {
                count(roles.len(), self);
                let mut listed = Vec::with_capacity(roles.len());
                for role in &roles {
                    let mut groups = BTreeSet::new();
                    for name in &role.groups {
                        let id = role
                            .group_details
                            .iter()
                            .find(|g| g.name.as_deref() == Some(name.as_str()))
                            .and_then(|g| g.group_id.clone())
                            .map(GroupId::new)
                            .or_else(|| self.group_index.id_of(name));
                        match id {
                            Some(id) => {
                                groups.insert(id);
                            }
                            None => {
                                return Err(format!(
                                    "product {} names group '{name}', which has no id in the response or the group list",
                                    role.key
                                ))
                            }
                        }
                    }
                    listed.push(ProductGroups {
                        product: ProductKey::new(role.key.clone()),
                        name: role.name.clone().unwrap_or_else(|| role.key.clone()),
                        groups,
                    });
                }
                diff::products(&self.state, &listed)
            }
            Data::Members(users) => {
                count(users.len(), self);
                let Scope::Members(group) = scope else {
                    unreachable!()
                };
                let ids: Vec<AccountId> = users
                    .iter()
                    .map(|u| AccountId::new(u.account_id.clone()))
                    .collect();
                unique(ids.iter(), "member")?;
                diff::members(&self.state, group, &ids, &self.run)
            }
            Data::Roles(refs) => {
                count(refs.len(), self);
                let Scope::Roles(project) = scope else {
                    unreachable!()
                };
                let listed: Vec<RoleRecord> = refs
                    .iter()
                    .map(|r| RoleRecord {
                        project_id: project.clone(),
                        role_id: r.id.clone(),
                        name: r.name.clone(),
                    })
                    .collect();
                diff::roles(&self.state, project, &listed, &self.run)
            }
            Data::Actors(role) => {
                count(role.actors.len(), self);
                let Scope::Actors(project, role_id) = scope else {
                    unreachable!()
                };
                let mut listed = Vec::with_capacity(role.actors.len());
                for actor in &role.actors {
                    if let Some(id) = actor.account_id() {
                        listed.push(Principal::User(AccountId::from(id)));
                    } else if let Some(g) = &actor.actor_group {
                        let id = self.group_index.resolve(g).map_err(|e| e.to_string())?;
                        listed.push(Principal::Group(id));
                    } else {
                        return Err(format!(
                            "an actor of type {:?} is neither a user nor a group, so the list of actors is not complete",
                            actor.actor_type
                        ));
                    }
                }
                diff::actors(&self.state, project, role_id, &listed, &self.run)
            }
        })
    }
}

/// The second listing, plus what only the first held (the first may have seen
/// something the second missed across a shifting page boundary; it is kept, and
/// the next sync decides). Returns the merge and how many items came from the
/// first only.
fn merge_listings(first: Payload, second: Payload) -> (Payload, u64) {
    fn add<T>(
        mut second: Vec<T>,
        first: Vec<T>,
        key: impl Fn(&T) -> Option<String>,
    ) -> (Vec<T>, u64) {
        let have: BTreeSet<String> = second.iter().filter_map(&key).collect();
        let only_first: Vec<T> = first
            .into_iter()
            .filter(|item| key(item).is_some_and(|k| !have.contains(&k)))
            .collect();
        let n = only_first.len() as u64;
        second.extend(only_first);
        (second, n)
    }
    match (first, second) {
        (Payload::Users(a), Payload::Users(b)) => {
            let (v, n) = add(b, a, |u| Some(u.account_id.clone()));
            (Payload::Users(v), n)
        }
        (Payload::Groups(a), Payload::Groups(b)) => {
            let (v, n) = add(b, a, |g| g.group_id.clone());
            (Payload::Groups(v), n)
        }
        (Payload::Projects(a), Payload::Projects(b)) => {
            let (v, n) = add(b, a, |p| Some(p.id.clone()));
            (Payload::Projects(v), n)
        }
        (_, second) => (second, 0),
    }
}

/// Fails a listing that names the same id twice: a server that repeats items can
/// also drop some, so nothing may be called gone on its strength.
fn unique<'a, T: Ord + std::fmt::Display + 'a>(
    ids: impl Iterator<Item = &'a T>,
    what: &str,
) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(format!("the listing names {what} {id} twice"));
        }
    }
    Ok(())
}

/// A failed run's figures in one line: what it sent and why it waited.
fn figures(m: &Metrics, m0: &Metrics, cancelled: u64, took: Duration) -> String {
    format!(
        "{} requests sent in {} ({} retries, {} connection failures with {} ms waited after them, {} answered 429 with {} ms waited on rate limits, {} page requests cancelled)",
        m.requests - m0.requests,
        human(took),
        m.retries - m0.retries,
        m.connection_failures - m0.connection_failures,
        m.connection_wait_ms - m0.connection_wait_ms,
        m.rate_limited - m0.rate_limited,
        m.wait_ms - m0.wait_ms,
        cancelled
    )
}

/// A duration as people read it: "4h", "90s", "250ms".
fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 && s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s >= 60 && s % 60 == 0 {
        format!("{}min", s / 60)
    } else if s >= 1 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// At most this many unfinished scopes are named in `SyncFailed`; the rest are
/// counted, so a run that fails early on a large site still writes a small record.
const MAX_NAMED_UNFINISHED: usize = 50;

fn summarize_unfinished(all: &[String]) -> Vec<String> {
    let mut out: Vec<String> = all.iter().take(MAX_NAMED_UNFINISHED).cloned().collect();
    if all.len() > MAX_NAMED_UNFINISHED {
        out.push(format!(
            "... and {} more scopes",
            all.len() - MAX_NAMED_UNFINISHED
        ));
    }
    out
}

/// Runs one sync of the site behind `client` into `log`.
///
/// Jira failures do not make this return `Err`: they end the run with
/// [`Outcome::Failed`] and a `SyncFailed` event, after recording every scope that
/// was listed completely (and no removal for any other). `Err` means the log itself
/// failed; whatever it acknowledged before stands.
pub async fn sync(
    log: &EventLog,
    client: &JiraClient,
    opts: SyncOptions,
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let run = opts
        .run_id
        .clone()
        .unwrap_or_else(|| run_id(opts.clock.as_ref()));
    let stream = StreamId::jira_site(&opts.site);
    let site = opts.site.clone();
    let state = {
        let log = log.clone();
        tokio::task::spawn_blocking(move || SiteState::load(&log, &site))
            .await
            .map_err(|e| SyncError::Internal(e.to_string()))??
    };
    // The state and the expected version come from the same fold: an append to
    // the stream in between makes the run's appends fail instead of using a stale
    // state.
    let version = state.version;
    info!(%run, site = %opts.site, position = state.position, "sync started");

    let mut version = version;
    if !opts.dry_run {
        let started_event = NewEvent::new(SyncStarted {
            run: run.clone(),
            site: opts.site.clone(),
            started_at: opts.clock.now(),
        })
        .caused_by(Causation::SyncRun(run.clone()));
        let log2 = log.clone();
        let stream2 = stream.clone();
        tokio::task::spawn_blocking(move || {
            log2.append(
                &stream2,
                ExpectedVersion::Exact(version),
                vec![started_event],
            )
        })
        .await
        .map_err(|e| SyncError::Internal(e.to_string()))??;
        version += 1;
    }
    let writer =
        (!opts.dry_run).then(|| start_writer(log.clone(), stream.clone(), version, run.clone()));

    let mut r = Run {
        client,
        opts: &opts,
        run: run.clone(),
        state,
        scopes: BTreeMap::new(),
        queue: VecDeque::new(),
        gathers: BTreeMap::new(),
        group_index: GroupIndex::default(),
        pending: Vec::new(),
        all_events: Vec::new(),
        writer,
        writer_gone: false,
        unfinished: Vec::new(),
        first_failure: None,
        fatal: None,
        warnings: Vec::new(),
        events_by_type: BTreeMap::new(),
        access_events: 0,
        items_seen: 0,
        minimum: 0,
        relisted: 0,
        first_listings: BTreeMap::new(),
        first_others: BTreeMap::new(),
        inflight: BTreeMap::new(),
        cancelled: 0,
        user_lookup: None,
        confirm_relists: 0,
        kept_unconfirmed: 0,
        scopes_done: 0,
        metrics0: client.metrics(),
    };
    r.discover(Scope::Users, Job::Users);
    r.discover(Scope::Groups, Job::Page(List::Groups, 0));
    r.discover(Scope::Projects, Job::Page(List::Projects, 0));
    r.discover(Scope::Products, Job::Products);

    let mut jobs: JoinSet<Done> = JoinSet::new();
    let limit = opts.concurrency.max(1);
    let deadline = tokio::time::Instant::from_std(started) + opts.deadline;
    loop {
        while r.fatal.is_none() && jobs.len() < limit {
            let Some(job) = r.queue.pop_front() else {
                break;
            };
            let list = match &job {
                Job::Page(l, _) | Job::Relist(l) => Some(l.clone()),
                _ => None,
            };
            let handle = jobs.spawn(run_job(client.clone(), job));
            if let Some(l) = list {
                r.inflight.entry(l).or_default().push(handle);
            }
        }
        let done = match tokio::time::timeout_at(deadline, jobs.join_next()).await {
            Ok(Some(done)) => done,
            Ok(None) => break,
            Err(_) => {
                if r.fatal.is_none() {
                    r.fatal = Some(format!(
                        "the sync deadline of {} passed with {} of {} known scopes finished; raise the deadline for a site this large or slow",
                        human(opts.deadline),
                        r.scopes_done,
                        r.scopes_done + r.scopes.len() as u64
                    ));
                }
                jobs.abort_all();
                while jobs.join_next().await.is_some() {}
                r.drain();
                break;
            }
        };
        match done {
            Ok(done) => r.on_done(done),
            // A page request cancelled because its listing failed.
            Err(e) if e.is_cancelled() => {}
            Err(e) => {
                if r.fatal.is_none() {
                    r.fatal = Some(format!("a listing task failed: {e}"));
                }
            }
        }
        if r.fatal.is_some() {
            jobs.abort_all();
            while jobs.join_next().await.is_some() {}
        }
        r.drain();
        if r.writer_gone {
            break;
        }
    }
    r.drain();
    // Anything still pending was never finished (a fatal error stopped the run).
    for (scope, _) in std::mem::take(&mut r.scopes) {
        r.unfinished.push(scope.to_string());
    }
    r.flush();

    let m = client.metrics();
    let m0 = &r.metrics0;
    let mut stats = SyncStats {
        requests: m.requests - m0.requests,
        retries: m.retries - m0.retries,
        minimum_requests: r.minimum,
        pages: m.pages - m0.pages,
        items_seen: r.items_seen,
        events_written: r.access_events,
        bytes: m.bytes_received - m0.bytes_received,
        wait_ms: m.wait_ms - m0.wait_ms,
        duration_ms: 0,
    };
    // Not one request answered: say so first, whatever scope failed first.
    let unreachable = m.requests > m0.requests
        && m.connection_failures - m0.connection_failures == m.requests - m0.requests;
    let outcome = match (&r.fatal, &r.first_failure) {
        (None, None) if r.unfinished.is_empty() => Outcome::Completed,
        (fatal, first) => Outcome::Failed {
            reason: format!(
                "{}{}; {}",
                if unreachable
                    && !fatal
                        .as_deref()
                        .is_some_and(|f| f.contains("could not be reached"))
                {
                    "Jira could not be reached (no request was answered): "
                } else {
                    ""
                },
                fatal
                    .clone()
                    .or_else(|| first.clone())
                    .unwrap_or_else(|| "some scopes were not listed".into()),
                figures(&m, m0, r.cancelled, started.elapsed())
            ),
            unfinished: summarize_unfinished(&r.unfinished),
        },
    };
    if r.confirm_relists > 0 {
        r.warnings.push(format!(
            "{} listings that implied removals were taken twice to confirm them (Jira pages by offset)",
            r.confirm_relists
        ));
    }
    if r.kept_unconfirmed > 0 {
        r.warnings.push(format!(
            "{} items missing from only one of two listings were kept; the next sync decides",
            r.kept_unconfirmed
        ));
    }
    if r.relisted > 0 {
        r.warnings.push(format!(
            "{} listings did not fit together when fetched concurrently and were listed again page by page",
            r.relisted
        ));
    }
    stats.duration_ms = started.elapsed().as_millis() as u64;

    let written = match r.writer.take() {
        None => None,
        Some(w) => {
            let closing: Event = match &outcome {
                Outcome::Completed => SyncCompleted {
                    run: run.clone(),
                    stats: stats.clone(),
                }
                .into(),
                Outcome::Failed { reason, unfinished } => SyncFailed {
                    run: run.clone(),
                    reason: reason.clone(),
                    unfinished_scopes: unfinished.clone(),
                    stats: stats.clone(),
                }
                .into(),
            };
            let _ = w.tx.send(WriterMsg::Batch(vec![closing]));
            drop(w.tx);
            let span = tokio::task::spawn_blocking(move || w.handle.join())
                .await
                .map_err(|e| SyncError::Internal(e.to_string()))?
                .map_err(|_| SyncError::Internal("the sync writer thread panicked".into()))??;
            // The closing event is the span's last record; report only access events.
            span.and_then(|(first, last)| (last > first).then_some((first, last - 1)))
        }
    };

    let s = &r.state;
    let counts = Counts {
        users: s.users.len() as u64,
        inactive_users: s.users.values().filter(|u| !u.active).count() as u64,
        groups: s.groups.len() as u64,
        memberships: s.membership_count() as u64,
        projects: s.projects.len() as u64,
        roles: s.roles.values().map(|r| r.len() as u64).sum(),
        role_grants: s.role_grant_count() as u64,
        products: s.products.len() as u64,
    };
    info!(%run, requests = stats.requests, minimum = stats.minimum_requests, events = stats.events_written, "sync finished");
    Ok(SyncReport {
        run,
        outcome,
        stats,
        counts,
        events_by_type: r.events_by_type,
        written: if r.access_events > 0 { written } else { None },
        dry_run_events: r.all_events,
        warnings: r.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(start: u64, n: usize, total: u64, last: bool) -> (u64, (PageMeta, Payload)) {
        let users = (0..n)
            .map(|i| User {
                account_id: format!("a{}", start + i as u64),
                account_type: None,
                active: Some(true),
                display_name: None,
                email_address: None,
            })
            .collect();
        let meta = PageMeta {
            start_at: Some(start),
            max_results: Some(50),
            total: Some(total),
            is_last: Some(last),
            next_page: None,
            count: n,
        };
        (start, (meta, Payload::Users(users)))
    }

    #[test]
    fn pages_fit_only_when_they_tile_the_total() {
        let good: BTreeMap<_, _> = [
            page(0, 50, 120, false),
            page(50, 50, 120, false),
            page(100, 20, 120, true),
        ]
        .into();
        assert!(consistent(&good, 50));
        let short: BTreeMap<_, _> = [
            page(0, 50, 120, false),
            page(50, 49, 120, false),
            page(100, 20, 120, true),
        ]
        .into();
        assert!(!consistent(&short, 50));
        let moved: BTreeMap<_, _> = [
            page(0, 50, 121, false),
            page(50, 50, 120, false),
            page(100, 20, 120, true),
        ]
        .into();
        assert!(!consistent(&moved, 50));
        // A server that ignores startAt answers offset 0 for every page.
        let mut ignored: BTreeMap<_, _> = [page(0, 50, 100, false), page(50, 50, 100, true)].into();
        ignored.get_mut(&50).unwrap().0.start_at = Some(0);
        assert!(!consistent(&ignored, 50));
        let lying_last: BTreeMap<_, _> = [page(0, 50, 100, true), page(50, 50, 100, true)].into();
        assert!(!consistent(&lying_last, 50));
    }

    #[test]
    fn a_removal_must_be_missing_from_both_listings() {
        let users = |ids: &[&str]| {
            Payload::Users(
                ids.iter()
                    .map(|id| User {
                        account_id: (*id).into(),
                        account_type: None,
                        active: Some(true),
                        display_name: None,
                        email_address: None,
                    })
                    .collect(),
            )
        };
        // The first listing missed "b" (shifted across a page boundary), the second
        // missed nothing but no longer has "a" (removed in between).
        let (merged, kept) = merge_listings(users(&["a", "c"]), users(&["b", "c"]));
        let Payload::Users(merged) = merged else {
            unreachable!()
        };
        let mut ids: Vec<&str> = merged.iter().map(|u| u.account_id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(kept, 1);
    }

    #[test]
    fn repeated_ids_make_a_listing_unusable() {
        let ids = [
            GroupId::from("g1"),
            GroupId::from("g2"),
            GroupId::from("g1"),
        ];
        let err = unique(ids.iter(), "group").unwrap_err();
        assert!(err.contains("g1 twice"), "{err}");
        assert!(unique(ids[..2].iter(), "group").is_ok());
    }

    #[test]
    fn a_failed_runs_record_names_a_bounded_number_of_scopes() {
        let many: Vec<String> = (0..500).map(|i| format!("members of group g{i}")).collect();
        let named = summarize_unfinished(&many);
        assert_eq!(named.len(), MAX_NAMED_UNFINISHED + 1);
        assert!(named.last().unwrap().contains("450 more"));
        assert_eq!(summarize_unfinished(&many[..3]).len(), 3);
    }
}
