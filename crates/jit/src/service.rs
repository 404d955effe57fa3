//! The thin layer between the pure aggregate and the log: it resolves names and
//! rights from the site's live state, loads a request from its stream, runs a
//! decision and appends what it yields with the stream's expected version.

use std::sync::{Arc, Mutex};

use grantledger_clock::Clock;
use grantledger_eventlog::{EventLog, ExpectedVersion, Follower, LogError, NewEvent};
use grantledger_model::*;
use grantledger_projection::{resolve, Site, SiteState, Target};

use crate::error::RequestError;
use crate::policy::{EntitlementName, Policies};
use crate::request::{self, NewRequest, Request, Rules, Status};
use crate::requests::Requests;

/// Requests on one site of one log, under one set of policies.
#[derive(Clone)]
pub struct Jit {
    log: EventLog,
    site: String,
    policies: Arc<Policies>,
    clock: Arc<dyn Clock>,
    /// The site's state, kept current by folding only the records appended since
    /// the last look (one full fold per service, not one per action).
    state: Arc<Mutex<Follower<Site>>>,
    /// Every request, kept current the same way.
    requests: Arc<Mutex<Follower<Requests>>>,
}

/// What `request create` asks for, as a person typed it.
#[derive(Debug, Clone, Default)]
pub struct CreateArgs {
    /// The acting person (account id, email or display name).
    pub actor: String,
    /// The beneficiary, when not the actor.
    pub beneficiary: Option<String>,
    /// A group name, or `KEY:Role`.
    pub entitlement: String,
    /// How long, in seconds.
    pub duration_secs: u64,
    /// Why.
    pub justification: Option<String>,
    /// A ticket reference.
    pub ticket: Option<String>,
    /// Break-glass.
    pub break_glass: bool,
}

/// Which requests `list` shows.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only these states.
    pub status: Option<Status>,
    /// Only break-glass requests.
    pub break_glass: bool,
    /// Only requests this account asked for or benefits from.
    pub involving: Option<AccountId>,
}

impl Jit {
    /// Requests of `site` in `log`.
    pub fn new(
        log: EventLog,
        site: impl Into<String>,
        policies: Policies,
        clock: Arc<dyn Clock>,
    ) -> Jit {
        let site = site.into();
        let state = Arc::new(Mutex::new(Follower::new(log.clone(), Site::new(&site))));
        let requests = Arc::new(Mutex::new(Follower::new(log.clone(), Requests::default())));
        Jit {
            log,
            site,
            policies: Arc::new(policies),
            clock,
            state,
            requests,
        }
    }

    /// The log.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// The site.
    pub fn site(&self) -> &str {
        &self.site
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The policies.
    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// A copy of the site's state at the log's head (refused when it was never
    /// synced). A copy of a large site is costly: prefer
    /// [`Jit::with_site_state`].
    pub fn site_state(&self) -> Result<SiteState, RequestError> {
        self.with_site_state(SiteState::clone)
    }

    /// Calls `f` with the site's state at the log's head, without copying it
    /// (refused when the site was never synced). The state is locked meanwhile:
    /// keep `f` short and free of log writes.
    pub fn with_site_state<T>(&self, f: impl FnOnce(&SiteState) -> T) -> Result<T, RequestError> {
        let mut follower = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        follower.catch_up()?;
        let state = &follower.projection().state;
        if state.last_completed_sync.is_none() {
            return Err(RequestError::Query(
                grantledger_projection::QueryError::NeverSynced {
                    site: self.site.clone(),
                },
            ));
        }
        Ok(f(state))
    }

    /// A person as typed (account id, email or display name).
    pub fn resolve_user(&self, state: &SiteState, asked: &str) -> Result<AccountId, RequestError> {
        Ok(resolve::user(state, asked)?)
    }

    /// Calls `f` with every request at the log's head (the [`Requests`]
    /// projection, folding only what was appended since the last look).
    fn with_requests<T>(&self, f: impl FnOnce(&Requests) -> T) -> Result<T, RequestError> {
        let mut follower = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        follower.catch_up()?;
        Ok(f(follower.projection()))
    }

    /// One request as its stream tells it now.
    pub fn load(&self, id: &str) -> Result<Request, RequestError> {
        let id = RequestId::from(id.trim());
        self.with_requests(|all| all.get(&id).cloned())?
            .ok_or_else(|| RequestError::NoSuchRequest(id.to_string()))
    }

    /// Every request of this site, oldest first.
    pub fn all(&self) -> Result<Vec<Request>, RequestError> {
        let mut out: Vec<Request> =
            self.with_requests(|all| all.all().filter(|r| r.site == self.site).cloned().collect())?;
        out.sort_by(|a, b| (a.requested_at, &a.id).cmp(&(b.requested_at, &b.id)));
        Ok(out)
    }

    /// The requests `filter` selects, oldest first.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<Request>, RequestError> {
        Ok(self
            .all()?
            .into_iter()
            .filter(|r| filter.status.is_none_or(|s| r.status == s))
            .filter(|r| !filter.break_glass || r.break_glass)
            .filter(|r| {
                filter
                    .involving
                    .as_ref()
                    .is_none_or(|a| r.requester == *a || r.beneficiary() == Some(a))
            })
            .collect())
    }

    /// Appends a decision's events to the request's stream, expecting the version
    /// the decision saw; returns the request after them.
    pub fn commit(&self, state: &Request, events: Vec<Event>) -> Result<Request, RequestError> {
        let Some((after, expected, batch)) = Self::batch(state, events) else {
            return Ok(state.clone());
        };
        let appended = self
            .log
            .append(&StreamId::request(&after.id), expected, batch);
        Self::committed(after, appended)
    }

    /// [`Jit::commit`] for async tasks: awaits the append's durability instead
    /// of blocking the thread, so that the requests a pass advances at once
    /// share flushes (ADR 0024).
    pub async fn commit_async(
        &self,
        state: &Request,
        events: Vec<Event>,
    ) -> Result<Request, RequestError> {
        let Some((after, expected, batch)) = Self::batch(state, events) else {
            return Ok(state.clone());
        };
        let appended = self
            .log
            .append_async(&StreamId::request(&after.id), expected, batch)
            .await;
        Self::committed(after, appended)
    }

    /// [`Jit::commit`] applied but not awaited: the returned append is durable
    /// once it is awaited or once any later append is (the log flushes in
    /// order), and readers see it only then. For a step whose next append is
    /// awaited before anything leaves the process (the expiry before its
    /// removal command): one flush instead of two.
    pub fn commit_applied(
        &self,
        state: &Request,
        events: Vec<Event>,
    ) -> Result<(Request, Option<grantledger_eventlog::PendingAppend>), RequestError> {
        let Some((after, expected, batch)) = Self::batch(state, events) else {
            return Ok((state.clone(), None));
        };
        match self
            .log
            .begin_append(&StreamId::request(&after.id), expected, batch)
        {
            Ok(pending) => Ok((after, Some(pending))),
            Err(e) => Self::committed(after, Err(e)).map(|r| (r, None)),
        }
    }

    /// The request after `events`, the version to expect and the batch; `None`
    /// for no events.
    fn batch(
        state: &Request,
        events: Vec<Event>,
    ) -> Option<(Request, ExpectedVersion, Vec<NewEvent>)> {
        if events.is_empty() {
            return None;
        }
        let mut after = state.clone();
        for e in &events {
            after.apply(e);
        }
        let expected = if state.version == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(state.version)
        };
        let batch = events
            .into_iter()
            .map(|e| NewEvent::new(e).caused_by(Causation::Request(after.id.clone())))
            .collect();
        Some((after, expected, batch))
    }

    fn committed(
        after: Request,
        appended: Result<grantledger_eventlog::Appended, LogError>,
    ) -> Result<Request, RequestError> {
        match appended {
            Ok(_) => Ok(after),
            Err(LogError::WrongExpectedVersion { .. }) => {
                Err(RequestError::Concurrent(after.id.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The next free request id: `r1`, `r2`, ... (one more than the number of
    /// request streams; the append's "no stream yet" check catches a race).
    fn next_id(&self, skip: usize) -> Result<RequestId, RequestError> {
        let n = self.with_requests(Requests::len)?;
        Ok(RequestId::new(format!("r{}", n + 1 + skip)))
    }

    /// The entitlement a person named, and its names for policy matching.
    fn entitlement(
        &self,
        state: &SiteState,
        asked: &str,
    ) -> Result<(Entitlement, String, Option<String>), RequestError> {
        let resolved = resolve::target(state, asked).map_err(|e| match e {
            grantledger_projection::QueryError::NotFound { .. } => {
                RequestError::UnknownEntitlement(format!("{e}"))
            }
            other => RequestError::Query(other),
        })?;
        match resolved {
            resolve::Resolved::Target(Target::Group { group }) => {
                let name = state
                    .groups
                    .get(&group)
                    .map_or_else(|| group.to_string(), |g| g.name.clone());
                Ok((Entitlement::GroupMembership { group }, name, None))
            }
            resolve::Resolved::Target(Target::ProjectRole { project, role }) => {
                let key = state
                    .projects
                    .get(&project)
                    .map_or_else(|| project.to_string(), |p| p.key.clone());
                let role_name = state
                    .roles
                    .get(&project)
                    .and_then(|r| r.get(&role))
                    .map_or_else(|| role.to_string(), |r| r.name.clone());
                Ok((
                    Entitlement::ProjectRole { project, role },
                    key,
                    Some(role_name),
                ))
            }
            resolve::Resolved::Target(Target::Product { .. }) => {
                Err(RequestError::NotAnEntitlement(format!(
                    "{asked} (product access comes from groups)"
                )))
            }
            resolve::Resolved::Project(_) => Err(RequestError::NotAnEntitlement(format!(
                "{asked} (a whole project)"
            ))),
        }
    }

    fn names_of(&self, state: &SiteState, entitlement: &Entitlement) -> (String, Option<String>) {
        match entitlement {
            Entitlement::GroupMembership { group } => (
                state
                    .groups
                    .get(group)
                    .map_or_else(|| group.to_string(), |g| g.name.clone()),
                None,
            ),
            Entitlement::ProjectRole { project, role } => (
                state
                    .projects
                    .get(project)
                    .map_or_else(|| project.to_string(), |p| p.key.clone()),
                Some(
                    state
                        .roles
                        .get(project)
                        .and_then(|r| r.get(role))
                        .map_or_else(|| role.to_string(), |r| r.name.clone()),
                ),
            ),
            Entitlement::ProductAccess { product } => (product.to_string(), None),
        }
    }

    /// A human name for a request's entitlement (`devs`, `OPS:Developers`).
    pub fn entitlement_name(&self, state: &SiteState, entitlement: &Entitlement) -> String {
        match self.names_of(state, entitlement) {
            (g, None) => g,
            (k, Some(r)) => format!("{k}:{r}"),
        }
    }

    /// Whether `who` may approve requests under the policy named `policy`: listed
    /// by id or email, or a member of an approver group in the live state; and
    /// active.
    pub fn may_approve(&self, state: &SiteState, policy: &str, who: &AccountId) -> bool {
        let Some(p) = self.policies.policies.iter().find(|p| p.name == policy) else {
            return false;
        };
        if !state.users.get(who).is_some_and(|u| u.active) {
            return false;
        }
        let listed = p
            .approvers
            .iter()
            .any(|a| resolve::user(state, a).is_ok_and(|id| id == *who));
        let in_group = p.approver_groups.iter().any(|g| {
            state.groups.values().any(|rec| {
                rec.name.eq_ignore_ascii_case(g)
                    && state
                        .members
                        .get(&rec.group_id)
                        .is_some_and(|m| m.contains(who))
            })
        });
        listed || in_group
    }

    /// `request create`.
    pub fn create(&self, args: CreateArgs) -> Result<Request, RequestError> {
        let (requester, beneficiary, entitlement, rules, active) =
            self.with_site_state(|state| -> Result<_, RequestError> {
                let requester = self.resolve_user(state, &args.actor)?;
                let beneficiary = match &args.beneficiary {
                    Some(b) => self.resolve_user(state, b)?,
                    None => requester.clone(),
                };
                let (entitlement, first, second) = self.entitlement(state, &args.entitlement)?;
                let name = match &second {
                    None => EntitlementName::Group(&first),
                    Some(role) => EntitlementName::Role {
                        project_key: &first,
                        role,
                    },
                };
                let rules: Rules = match self.policies.matching(&name) {
                    Some(m) => Rules::from(&m),
                    None => return Err(RequestError::NotRequestable { policy: None }),
                };
                let active = state.users.get(&beneficiary).is_some_and(|u| u.active);
                Ok((requester, beneficiary, entitlement, rules, active))
            })??;
        let grant = Grant {
            principal: Principal::User(beneficiary),
            entitlement,
        };
        // The next number, or the one after when another writer took it first
        // (a bounded number of times: ids are contiguous, so a few suffice).
        let mut skip = 0;
        loop {
            let id = self.next_id(skip)?;
            let events = request::create(
                &Request::default(),
                NewRequest {
                    id: id.clone(),
                    site: self.site.clone(),
                    requester: requester.clone(),
                    grant: grant.clone(),
                    duration_secs: args.duration_secs,
                    justification: args.justification.clone(),
                    ticket: args.ticket.clone(),
                    break_glass: args.break_glass,
                },
                &rules,
                active,
                self.clock.now(),
            )?;
            match self.commit(&Request::default(), events) {
                Err(RequestError::Concurrent(id)) if skip >= 16 => {
                    return Err(RequestError::Concurrent(id))
                }
                Err(RequestError::Concurrent(_)) => skip += 1,
                other => return other,
            }
        }
    }

    /// Loads a request and the acting person, checks the request is this site's.
    fn acting(&self, id: &str, actor: &str) -> Result<(Request, AccountId, bool), RequestError> {
        let r = self.load(id)?;
        if r.site != self.site {
            return Err(RequestError::NoSuchRequest(format!(
                "{id} on this site (it is for another site)"
            )));
        }
        let (who, may) = self.with_site_state(|state| -> Result<_, RequestError> {
            let who = self.resolve_user(state, actor)?;
            let may = self.may_approve(state, &r.policy, &who);
            Ok((who, may))
        })??;
        Ok((r, who, may))
    }

    /// `request approve`.
    pub fn approve(
        &self,
        id: &str,
        actor: &str,
        comment: Option<String>,
    ) -> Result<Request, RequestError> {
        let (r, who, may) = self.acting(id, actor)?;
        let events = request::approve(&r, &who, may, comment, self.clock.now())?;
        self.commit(&r, events)
    }

    /// `request deny`.
    pub fn deny(
        &self,
        id: &str,
        actor: &str,
        reason: Option<String>,
    ) -> Result<Request, RequestError> {
        let (r, who, may) = self.acting(id, actor)?;
        let events = request::deny(&r, &who, may, reason, self.clock.now())?;
        self.commit(&r, events)
    }

    /// `request cancel`.
    pub fn cancel(&self, id: &str, actor: &str) -> Result<Request, RequestError> {
        let (r, who, _) = self.acting(id, actor)?;
        let events = request::cancel(&r, &who, self.clock.now())?;
        self.commit(&r, events)
    }

    /// `request extend` by `secs` beyond the current end.
    pub fn extend(&self, id: &str, actor: &str, secs: u64) -> Result<Request, RequestError> {
        let (r, who, may) = self.acting(id, actor)?;
        let from = r
            .expires_at
            .ok_or_else(|| RequestError::NotAllowedInState {
                request: r.id.clone(),
                action: "extend",
                status: r.status.as_str(),
            })?;
        let events = request::extend(&r, &who, may, request::after(from, secs), self.clock.now())?;
        self.commit(&r, events)
    }

    /// `request revoke`: ends running access early (the remove command is run by
    /// the scheduler, or at once by [`crate::scheduler::drive`]).
    pub fn revoke(
        &self,
        id: &str,
        actor: &str,
        reason: Option<String>,
    ) -> Result<Request, RequestError> {
        let (r, who, may) = self.acting(id, actor)?;
        let events = request::revoke(&r, &who, may, reason, self.clock.now())?;
        self.commit(&r, events)
    }
}
