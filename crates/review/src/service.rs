//! The thin layer between the pure aggregate and the log: it resolves people
//! from the site's live state, freezes populations, loads a campaign from its
//! stream, runs a decision and appends what it yields with the stream's
//! expected version; it issues revocations through the outbox's [`Executor`]
//! and runs the verification step. Nothing here prints.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use grantledger_clock::Clock;
use grantledger_eventlog::{EventLog, ExpectedVersion, Follower, LogError, NewEvent, Projection};
use grantledger_model::*;
use grantledger_outbox::{CommandSpec, Executor};
use grantledger_projection::{resolve, Moment, Queries, QueryError, Site, SiteState};

use crate::bulk::{self, ImportedDecision};
use crate::campaign::{self, Campaign, CommandFact, Frozen, Status};
use crate::error::ReviewError;
use crate::scope::{self, Population};

/// Campaigns on one site of one log.
#[derive(Clone)]
pub struct Reviews {
    log: EventLog,
    site: String,
    clock: Arc<dyn Clock>,
    state: Arc<Mutex<Follower<Site>>>,
}

/// An owner rule as the config file names it (the reviewer not yet resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerArg {
    /// Its name.
    pub name: String,
    /// Group names or globs.
    pub groups: Vec<String>,
    /// Project keys or globs.
    pub projects: Vec<String>,
    /// Account id or email.
    pub reviewer: String,
}

/// A campaign as a person defines it (people not yet resolved).
#[derive(Debug, Clone)]
pub struct NewCampaign {
    /// The id; `None` takes the next `c<N>`.
    pub id: Option<String>,
    /// Its name.
    pub name: String,
    /// Which grants.
    pub scope: CampaignScope,
    /// Owners, first rules.
    pub owners: Vec<OwnerArg>,
    /// A manager CSV's text (user,manager by account id or email).
    pub managers_csv: Option<String>,
    /// The fallback reviewer.
    pub fallback: Option<String>,
    /// When decisions are due.
    pub due: Option<Timestamp>,
    /// What happens to undecided items.
    pub undecided: UndecidedRule,
    /// Whether a revocation needs a comment.
    pub comment_required_for_revoke: bool,
    /// Completed syncs before an unconfirmed removal is flagged.
    pub remediation_sync_limit: u32,
    /// Who creates it.
    pub actor: String,
}

/// What a launch would freeze now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// The log position the state is at.
    pub position: u64,
    /// The items, in order, with their reviewers.
    pub items: Vec<(Grant, Option<(AccountId, u32)>)>,
    /// Their digest.
    pub digest: String,
    /// Items per reviewer.
    pub per_reviewer: BTreeMap<AccountId, u64>,
    /// How many items would go to the fallback because their reviewer is their
    /// principal.
    pub self_review: u64,
    /// The items whose reviewer is their own principal with no other fallback
    /// (none named, or the fallback is that principal): a launch is refused
    /// while there are any (nobody decides on their own access).
    pub no_reviewer_left: Vec<Grant>,
}

impl Preview {
    /// The items no rule assigns.
    pub fn unassigned(&self) -> impl Iterator<Item = &Grant> + '_ {
        self.items
            .iter()
            .filter(|(_, r)| r.is_none())
            .map(|(g, _)| g)
    }
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The launch position.
    pub position: u64,
    /// Whether the record at the launch position still has the hash recorded.
    pub head_matches: bool,
    /// The recorded item count and digest.
    pub recorded: (u64, String),
    /// The recomputed ones.
    pub recomputed: (u64, String),
    /// Whether the stored items are the recomputed grants, in order.
    pub items_match: bool,
}

impl Verification {
    /// Everything agrees.
    pub fn ok(&self) -> bool {
        self.head_matches && self.recorded == self.recomputed && self.items_match
    }
}

impl Reviews {
    /// Campaigns of `site` in `log`.
    pub fn new(log: EventLog, site: impl Into<String>, clock: Arc<dyn Clock>) -> Reviews {
        let site = site.into();
        let state = Arc::new(Mutex::new(Follower::new(log.clone(), Site::new(&site))));
        Reviews {
            log,
            site,
            clock,
            state,
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

    /// The site's state at the log's head, with that head's position (refused
    /// when the site was never synced).
    pub fn site_state(&self) -> Result<(SiteState, u64), ReviewError> {
        self.with_site_state(|state, position| (state.clone(), position))
    }

    /// Runs `f` on the site's state at the log's head and that head's position,
    /// without copying the state (refused when the site was never synced).
    pub fn with_site_state<T>(
        &self,
        f: impl FnOnce(&SiteState, u64) -> T,
    ) -> Result<T, ReviewError> {
        let mut follower = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        follower.catch_up()?;
        let site = follower.projection();
        if site.state.last_completed_sync.is_none() {
            return Err(QueryError::NeverSynced {
                site: self.site.clone(),
            }
            .into());
        }
        Ok(f(&site.state, site.position()))
    }

    /// The acting person of a campaign action: an account id that is one of the
    /// campaign's reviewers is taken as it is (no need to fold the site's
    /// state); anything else is resolved against the site's state.
    pub fn actor(&self, c: &Campaign, asked: &str) -> Result<AccountId, ReviewError> {
        let t = asked.trim();
        if c.items.iter().any(|i| i.reviewer.as_str() == t)
            || c.fallback().is_some_and(|f| f.as_str() == t)
        {
            return Ok(AccountId::from(t));
        }
        let (state, _) = self.site_state()?;
        self.resolve_user(&state, t)
    }

    /// A person as typed (account id, email or display name).
    pub fn resolve_user(&self, state: &SiteState, asked: &str) -> Result<AccountId, ReviewError> {
        Ok(resolve::user(state, asked)?)
    }

    /// One campaign, folded from its stream.
    pub fn load(&self, id: &str) -> Result<Campaign, ReviewError> {
        let id = CampaignId::from(id.trim());
        let stream = StreamId::parse(&format!("campaign:{id}"))
            .map_err(|_| ReviewError::NoSuchCampaign(id.to_string()))?;
        let records = self.log.read_stream(&stream, 1)?;
        if records.is_empty() {
            return Err(ReviewError::NoSuchCampaign(id.to_string()));
        }
        Ok(Campaign::from_events(records.iter().map(|r| &r.event)))
    }

    /// Every campaign of this site, oldest first.
    pub fn all(&self) -> Result<Vec<Campaign>, ReviewError> {
        let mut out = Vec::new();
        for (stream, _) in self.log.streams()? {
            let Some(id) = stream.as_str().strip_prefix("campaign:") else {
                continue;
            };
            let c = self.load(id)?;
            if c.def().site == self.site {
                out.push(c);
            }
        }
        out.sort_by(|a, b| (a.def().at, &a.id).cmp(&(b.def().at, &b.id)));
        Ok(out)
    }

    /// Appends a decision's events to the campaign's stream, expecting the
    /// version the decision saw; returns the campaign after them.
    pub fn commit(&self, state: &Campaign, events: Vec<Event>) -> Result<Campaign, ReviewError> {
        if events.is_empty() {
            return Ok(state.clone());
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
            .map(|e| NewEvent::new(e).caused_by(Causation::Campaign(after.id.clone())))
            .collect();
        match self
            .log
            .append(&StreamId::campaign(&after.id), expected, batch)
        {
            Ok(_) => Ok(after),
            Err(LogError::WrongExpectedVersion { .. }) => Err(ReviewError::Concurrent(after.id)),
            Err(e) => Err(e.into()),
        }
    }

    fn next_id(&self) -> Result<CampaignId, ReviewError> {
        let taken: std::collections::BTreeSet<String> = self
            .log
            .streams()?
            .into_iter()
            .filter_map(|(s, _)| s.as_str().strip_prefix("campaign:").map(str::to_owned))
            .collect();
        let mut n = taken.len() + 1;
        while taken.contains(&format!("c{n}")) {
            n += 1;
        }
        Ok(CampaignId::new(format!("c{n}")))
    }

    /// Defines a campaign: resolves the owners, the manager mapping and the
    /// fallback to account ids, and records the definition.
    pub fn create(&self, args: NewCampaign) -> Result<Campaign, ReviewError> {
        let (state, _) = self.site_state()?;
        let id = match &args.id {
            Some(id) => {
                let id = id.trim();
                if id.is_empty()
                    || id.len() > 64
                    || !id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(ReviewError::InvalidDefinition(
                        "a campaign id is 1 to 64 letters, digits, '-' or '_'".into(),
                    ));
                }
                CampaignId::from(id)
            }
            None => self.next_id()?,
        };
        let mut reviewers = Vec::new();
        for o in &args.owners {
            reviewers.push(ReviewerRule::Owner {
                name: o.name.clone(),
                groups: o.groups.clone(),
                projects: o.projects.clone(),
                reviewer: self.resolve_user(&state, &o.reviewer)?,
            });
        }
        if let Some(text) = &args.managers_csv {
            reviewers.push(ReviewerRule::Manager {
                managers: parse_managers(&state, text)?,
            });
        }
        if let Some(f) = &args.fallback {
            reviewers.push(ReviewerRule::Fallback {
                reviewer: self.resolve_user(&state, f)?,
            });
        }
        if let Some(Since::Campaign(c)) = &args.scope.since {
            let earlier = self.load(c.as_str())?;
            if earlier.launch.is_none() {
                return Err(ReviewError::InvalidDefinition(format!(
                    "campaign {c} named by --since was never launched"
                )));
            }
        }
        let def = CampaignCreated {
            campaign: id.clone(),
            site: self.site.clone(),
            name: args.name.trim().to_owned(),
            scope: args.scope,
            reviewers,
            due: args.due,
            undecided: args.undecided,
            comment_required_for_revoke: args.comment_required_for_revoke,
            remediation_sync_limit: args.remediation_sync_limit,
            created_by: args.actor,
            at: self.clock.now(),
        };
        let state = Campaign {
            id,
            ..Campaign::default()
        };
        let events = campaign::create(&state, def)?;
        self.commit(&state, events)
    }

    /// The position a delta scope's "since" means, given the head's state.
    fn since_position(&self, c: &Campaign, head: &SiteState) -> Result<Option<u64>, ReviewError> {
        Ok(match &c.def().scope.since {
            None => None,
            Some(Since::Position(p)) => Some(*p),
            Some(Since::Campaign(other)) => {
                let o = self.load(other.as_str())?;
                Some(o.launch.map(|l| l.position).ok_or_else(|| {
                    ReviewError::InvalidDefinition(format!("campaign {other} was never launched"))
                })?)
            }
            Some(Since::Time(t)) => Some(
                Queries::new(self.log.clone(), self.site.clone())
                    .resolve(Moment::Time(*t), head)?,
            ),
        })
    }

    /// The population a campaign's scope selects from `state` and who reviews
    /// each item.
    pub fn population(
        &self,
        c: &Campaign,
        state: &SiteState,
        since: Option<u64>,
    ) -> (Population, Vec<Option<(AccountId, u32)>>) {
        let pop = scope::select(state, &c.def().scope, since);
        let reviewers = scope::assign(state, &c.def().reviewers, &pop.grants);
        (pop, reviewers)
    }

    /// What launching a draft now would freeze.
    pub fn preview(&self, id: &str) -> Result<Preview, ReviewError> {
        let c = self.load(id)?;
        let (position, pop, reviewers) = self.with_site_state(|state, position| {
            let since = self.since_position(&c, state)?;
            let (pop, reviewers) = self.population(&c, state, since);
            Ok::<_, ReviewError>((position, pop, reviewers))
        })??;
        let mut per_reviewer: BTreeMap<AccountId, u64> = BTreeMap::new();
        let mut self_review = 0;
        let mut no_reviewer_left = Vec::new();
        let fallback = c.fallback().cloned();
        for (g, r) in pop.grants.iter().zip(&reviewers) {
            if let Some((who, _)) = r {
                // As the launch decides (`campaign::launch`).
                let who = match (&g.principal, &fallback) {
                    (Principal::User(u), Some(f)) if u == who && f != u => {
                        self_review += 1;
                        f
                    }
                    (Principal::User(u), _) if u == who => {
                        no_reviewer_left.push(g.clone());
                        continue;
                    }
                    _ => who,
                };
                *per_reviewer.entry(who.clone()).or_default() += 1;
            }
        }
        Ok(Preview {
            position,
            items: pop.grants.into_iter().zip(reviewers).collect(),
            digest: pop.digest,
            per_reviewer,
            self_review,
            no_reviewer_left,
        })
    }

    /// Launches a draft: freezes the items from the site's state at the log's
    /// head and records the position, its hash, the count and the digest.
    pub fn launch(&self, id: &str, by: &str) -> Result<Campaign, ReviewError> {
        let c = self.load(id)?;
        if c.status != Status::Draft {
            // Let the aggregate say why.
            campaign::launch(&c, empty_frozen(), by, self.clock.now())?;
        }
        let (position, since, pop, reviewers) = self.with_site_state(|state, position| {
            let since = self.since_position(&c, state)?;
            let (pop, reviewers) = self.population(&c, state, since);
            Ok::<_, ReviewError>((position, since, pop, reviewers))
        })??;
        let head_hash = self
            .log
            .get(position)?
            .map(|r| r.hash.to_hex())
            .unwrap_or_default();
        let frozen = Frozen {
            position,
            head_hash,
            since_position: since,
            digest: pop.digest,
            items: pop.grants.into_iter().zip(reviewers).collect(),
        };
        let events = campaign::launch(&c, frozen, by, self.clock.now())?;
        self.commit(&c, events)
    }

    /// Recomputes a launched campaign's items from the log as of its launch
    /// position and compares them with what it recorded.
    pub fn verify(&self, id: &str) -> Result<Verification, ReviewError> {
        let c = self.load(id)?;
        let Some(launch) = &c.launch else {
            return Err(ReviewError::NotAllowedInState {
                campaign: c.id.clone(),
                action: "be verified (it was never launched)",
                status: c.status.as_str(),
            });
        };
        let head_matches = self
            .log
            .get(launch.position)?
            .is_some_and(|r| r.hash.to_hex() == launch.head_hash);
        let state = SiteState::as_of(&self.log, &self.site, launch.position)?;
        let pop = scope::select(&state, &c.def().scope, launch.since_position);
        let items_match = pop.grants.len() == c.items.len()
            && pop.grants.iter().zip(&c.items).all(|(g, i)| *g == i.grant);
        Ok(Verification {
            position: launch.position,
            head_matches,
            recorded: (launch.item_count, launch.digest.clone()),
            recomputed: (pop.grants.len() as u64, pop.digest),
            items_match,
        })
    }

    /// The acting reviewer decides an item.
    pub fn decide(
        &self,
        id: &str,
        item: u32,
        actor: &str,
        decision: Decision,
        comment: Option<String>,
    ) -> Result<Campaign, ReviewError> {
        let c = self.load(id)?;
        let actor = self.actor(&c, actor)?;
        let events = campaign::decide(&c, item, &actor, decision, comment, self.clock.now())?;
        self.commit(&c, events)
    }

    /// The acting reviewer hands an item to another reviewer.
    pub fn reassign(
        &self,
        id: &str,
        item: u32,
        actor: &str,
        to: &str,
        comment: Option<String>,
    ) -> Result<Campaign, ReviewError> {
        let c = self.load(id)?;
        let (state, _) = self.site_state()?;
        let actor = self.resolve_user(&state, actor)?;
        let to = self.resolve_user(&state, to)?;
        let events = campaign::reassign(&c, item, &actor, &to, comment, self.clock.now())?;
        self.commit(&c, events)
    }

    /// Imports a reviewer's decisions from CSV, all or nothing.
    pub fn import(
        &self,
        id: &str,
        actor: &str,
        text: &str,
    ) -> Result<(Campaign, Vec<ImportedDecision>), ReviewError> {
        let c = self.load(id)?;
        let actor = self.actor(&c, actor)?;
        let (decided, events) = bulk::import(&c, &actor, text, self.clock.now())?;
        Ok((self.commit(&c, events)?, decided))
    }

    /// Closes an open campaign at the log's head.
    pub fn close(&self, id: &str, by: &str) -> Result<Campaign, ReviewError> {
        let c = self.load(id)?;
        let head = self.log.head();
        let events = campaign::close(
            &c,
            by,
            (head.position, head.hash.to_hex()),
            self.clock.now(),
        )?;
        self.commit(&c, events)
    }

    /// Issues the outbox command of every revoked item of a closed campaign that
    /// has none yet (ids derived from the campaign and the item, so issuing
    /// again adds nothing) and records `RevocationIssued` for them. Returns the
    /// commands, to be driven by the caller ([`Executor::drive`]).
    pub fn issue_revocations(
        &self,
        id: &str,
        executor: &Executor,
    ) -> Result<(Campaign, Vec<CommandId>), ReviewError> {
        let c = self.load(id)?;
        let pending: Vec<(u32, Grant, CommandId)> = campaign::pending_revocations(&c)
            .into_iter()
            .map(|(i, cmd)| (i.id, i.grant.clone(), cmd))
            .collect();
        let mut commands = Vec::with_capacity(pending.len());
        for (_, grant, cmd) in &pending {
            commands.push(executor.issue(CommandSpec {
                id: Some(cmd.clone()),
                site: self.site.clone(),
                action: CommandAction::Remove,
                grant: grant.clone(),
                purpose: CommandPurpose::ReviewRevocation {
                    campaign: c.id.clone(),
                },
            })?);
        }
        let position = self.log.head().position;
        let now = self.clock.now();
        let mut work = c.clone();
        let mut events = Vec::new();
        for (item, _, _) in &pending {
            let evs = campaign::revocation_issued(&work, *item, position, now)?;
            for e in &evs {
                work.apply(e);
            }
            events.extend(evs);
        }
        Ok((self.commit(&c, events)?, commands))
    }

    fn command_fact(&self, id: &CommandId) -> CommandFact {
        let Ok(stream) = StreamId::parse(&format!("command:{id}")) else {
            return CommandFact::Unfinished;
        };
        let Ok(records) = self.log.read_stream(&stream, 1) else {
            return CommandFact::Unfinished;
        };
        for r in records {
            match &r.event {
                Event::CommandSucceeded(_) => {
                    return CommandFact::Succeeded {
                        position: r.position,
                    }
                }
                Event::CommandFailed(f) => {
                    return CommandFact::Failed {
                        reason: f.reason.clone(),
                    }
                }
                _ => {}
            }
        }
        CommandFact::Unfinished
    }

    /// The verification step of one closed campaign: records
    /// `RemediationVerified` / `RemediationFlagged` as the log now shows them.
    pub fn remediate(&self, id: &str) -> Result<(Campaign, Vec<Event>), ReviewError> {
        let c = self.load(id)?;
        if c.status != Status::Closed {
            return Ok((c, Vec::new()));
        }
        let (state, _) = self.site_state()?;
        let events =
            campaign::remediate(&c, &state, &|cmd| self.command_fact(cmd), self.clock.now());
        let recorded = events.clone();
        Ok((self.commit(&c, events)?, recorded))
    }

    /// The verification step of every closed campaign of the site (run after
    /// every sync). Returns the events recorded, per campaign.
    pub fn remediate_all(&self) -> Result<Vec<(CampaignId, Vec<Event>)>, ReviewError> {
        let mut out = Vec::new();
        for c in self.all()? {
            if c.status == Status::Closed && c.items.iter().any(|i| i.remediation.is_some()) {
                let (_, events) = self.remediate(c.id.as_str())?;
                if !events.is_empty() {
                    out.push((c.id.clone(), events));
                }
            }
        }
        Ok(out)
    }
}

fn empty_frozen() -> Frozen {
    Frozen {
        position: 0,
        head_hash: String::new(),
        since_position: None,
        digest: scope::empty_digest(),
        items: Vec::new(),
    }
}

/// Reads a manager mapping: CSV lines `user,manager` (account ids or emails; a
/// header line naming `user` is skipped). Every unknown person is an error with
/// its line.
pub fn parse_managers(state: &SiteState, text: &str) -> Result<Vec<ManagerOf>, ReviewError> {
    let records = bulk::parse_csv(text)
        .map_err(|p| ReviewError::InvalidDefinition(format!("the manager CSV, {p}")))?;
    let mut out: BTreeMap<AccountId, AccountId> = BTreeMap::new();
    let mut problems = Vec::new();
    for (line, cells) in records {
        if cells.len() != 2 {
            problems.push(format!(
                "line {line}: expected 2 cells (user,manager), found {}",
                cells.len()
            ));
            continue;
        }
        if line == 1 && cells[0].trim().eq_ignore_ascii_case("user") {
            continue;
        }
        match (
            resolve::user(state, cells[0].trim()),
            resolve::user(state, cells[1].trim()),
        ) {
            (Ok(u), Ok(m)) => {
                out.insert(u, m);
            }
            (Err(e), _) | (_, Err(e)) => problems.push(format!("line {line}: {e}")),
        }
    }
    if !problems.is_empty() {
        return Err(ReviewError::InvalidDefinition(format!(
            "the manager CSV has {} problem(s): {}",
            problems.len(),
            problems.join("; ")
        )));
    }
    Ok(out
        .into_iter()
        .map(|(user, manager)| ManagerOf { user, manager })
        .collect())
}
