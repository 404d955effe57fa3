//! The campaign aggregate: its state is a fold of the events of `campaign:<id>`,
//! and every decision is a pure function of that state, the facts the caller
//! looked up (the frozen population, the acting account, the site's state) and
//! the time: it returns the events to append, or why the action is refused.
//! No I/O here.

use std::collections::BTreeMap;

use grantledger_model::*;
use grantledger_projection::SiteState;
use serde::Serialize;

use crate::error::ReviewError;

/// How many items one [`CampaignItemsFrozen`] event holds at most (keeps every
/// record, and every export line, far below the log's limits).
pub const ITEMS_PER_CHUNK: usize = 2_000;

/// Where a campaign is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// No event yet.
    #[default]
    Absent,
    /// Defined, not launched: nothing is frozen.
    Draft,
    /// Launched: reviewers decide.
    Open,
    /// Closed: decisions are final; revocations are carried out.
    Closed,
}

impl Status {
    /// Its name as shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Absent => "absent",
            Status::Draft => "draft",
            Status::Open => "open",
            Status::Closed => "closed",
        }
    }
}

/// A reviewer's current decision on an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemDecision {
    /// Approve or revoke.
    pub decision: Decision,
    /// Who.
    pub by: AccountId,
    /// Why.
    pub comment: Option<String>,
    /// When.
    pub at: Timestamp,
}

/// Where the removal of a revoked item stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Remediation {
    /// Its command is issued; no sync has confirmed it yet.
    Issued {
        /// The remove command.
        command: CommandId,
        /// The log's head when it was issued.
        position: u64,
    },
    /// A completed sync no longer saw the grant.
    Verified {
        /// The remove command.
        command: CommandId,
        /// The run.
        run: SyncRunId,
        /// Its `SyncCompleted`'s position.
        position: u64,
    },
}

/// One item of a launched campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// Its number (`i<N>`).
    pub id: u32,
    /// The grant reviewed.
    pub grant: Grant,
    /// The reviewer now.
    pub reviewer: AccountId,
    /// The reviewer rule that named the first reviewer.
    pub rule: u32,
    /// The current decision.
    pub decision: Option<ItemDecision>,
    /// How many decisions were recorded (changes included).
    pub decisions: u32,
    /// How many times it changed reviewer (automatic ones included).
    pub reassignments: u32,
    /// Whether it went to the fallback because its reviewer was its principal.
    pub self_review_reassigned: bool,
    /// Its removal, once a command was issued.
    pub remediation: Option<Remediation>,
    /// Why its removal needs a person, once flagged.
    pub flagged: Option<FlagReason>,
}

impl Item {
    /// The user this item is about, when the principal is a user.
    pub fn user(&self) -> Option<&AccountId> {
        match &self.grant.principal {
            Principal::User(a) => Some(a),
            Principal::Group(_) => None,
        }
    }
}

/// What an item ends as: its decision, or the undecided rule after close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Approved by its reviewer.
    Approved,
    /// Revoked by its reviewer.
    Revoked,
    /// No decision yet (open), or none by close.
    Undecided,
}

impl Outcome {
    /// Its name as shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Approved => "approved",
            Outcome::Revoked => "revoked",
            Outcome::Undecided => "undecided",
        }
    }
}

/// One campaign, folded from its stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Campaign {
    /// Its id.
    pub id: CampaignId,
    /// Its definition (`None` before `CampaignCreated`).
    pub definition: Option<CampaignCreated>,
    /// Where it is.
    pub status: Status,
    /// The launch (position, head, count, digest).
    pub launch: Option<CampaignLaunched>,
    /// The items, item `i<N>` at index N-1.
    pub items: Vec<Item>,
    /// The close.
    pub closed: Option<CampaignClosed>,
    /// When its last event was decided.
    pub updated_at: Timestamp,
    /// The number of events folded (the stream's version).
    pub version: u64,
}

impl Default for Campaign {
    /// The state before the campaign's first event.
    fn default() -> Self {
        Campaign {
            id: CampaignId::new(""),
            definition: None,
            status: Status::Absent,
            launch: None,
            items: Vec::new(),
            closed: None,
            updated_at: Timestamp::default(),
            version: 0,
        }
    }
}

/// The id of the command that removes a revoked item's grant: derived from the
/// campaign and the item, so issuing it twice adds nothing.
pub fn revocation_command_id(campaign: &CampaignId, item: u32) -> CommandId {
    CommandId::new(format!("{campaign}-i{item}-revoke"))
}

/// Parses `i17` or `17` into an item number.
pub fn parse_item(raw: &str) -> Option<u32> {
    let t = raw.trim();
    let digits = t
        .strip_prefix('i')
        .or_else(|| t.strip_prefix('I'))
        .unwrap_or(t);
    digits.parse::<u32>().ok().filter(|n| *n > 0)
}

impl Campaign {
    /// Folds a stream's events.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> Campaign {
        let mut c = Campaign::default();
        for e in events {
            c.apply(e);
        }
        c
    }

    /// The definition; panics on a campaign with no events (callers load
    /// existing campaigns only).
    pub fn def(&self) -> &CampaignCreated {
        self.definition
            .as_ref()
            .expect("a loaded campaign has its CampaignCreated")
    }

    /// The item numbered `n`.
    pub fn item(&self, n: u32) -> Option<&Item> {
        self.items.get((n as usize).checked_sub(1)?)
    }

    fn item_mut(&mut self, n: u32) -> Option<&mut Item> {
        self.items.get_mut((n as usize).checked_sub(1)?)
    }

    /// The fallback reviewer, when the rules have one.
    pub fn fallback(&self) -> Option<&AccountId> {
        self.definition
            .as_ref()?
            .reviewers
            .iter()
            .find_map(|r| match r {
                ReviewerRule::Fallback { reviewer } => Some(reviewer),
                _ => None,
            })
    }

    /// What the item ends as: its decision; after close, undecided items follow
    /// the campaign's rule only through [`Campaign::is_revoked`].
    pub fn outcome(&self, item: &Item) -> Outcome {
        match item.decision.as_ref().map(|d| d.decision) {
            Some(Decision::Approve) => Outcome::Approved,
            Some(Decision::Revoke) => Outcome::Revoked,
            None => Outcome::Undecided,
        }
    }

    /// Whether the item's grant is to be removed: revoked by its reviewer, or
    /// undecided at close under the rule "revoke".
    pub fn is_revoked(&self, item: &Item) -> bool {
        match self.outcome(item) {
            Outcome::Revoked => self.status == Status::Closed,
            Outcome::Undecided => {
                self.status == Status::Closed
                    && self.definition.as_ref().map(|d| d.undecided) == Some(UndecidedRule::Revoke)
            }
            Outcome::Approved => false,
        }
    }

    /// Folds one event of this campaign's stream.
    pub fn apply(&mut self, event: &Event) {
        self.version += 1;
        match event {
            Event::CampaignCreated(e) => {
                self.id = e.campaign.clone();
                self.definition = Some(e.clone());
                self.status = Status::Draft;
                self.updated_at = e.at;
            }
            Event::CampaignLaunched(e) => {
                self.launch = Some(e.clone());
                self.status = Status::Open;
                self.items.reserve(e.item_count as usize);
                self.updated_at = e.at;
            }
            Event::CampaignItemsFrozen(e) => {
                self.items.extend(e.items.iter().map(|i| Item {
                    id: i.item,
                    grant: i.grant.clone(),
                    reviewer: i.reviewer.clone(),
                    rule: i.rule,
                    decision: None,
                    decisions: 0,
                    reassignments: 0,
                    self_review_reassigned: false,
                    remediation: None,
                    flagged: None,
                }));
            }
            Event::ItemDecided(e) => {
                if let Some(item) = self.item_mut(e.item) {
                    item.decision = Some(ItemDecision {
                        decision: e.decision,
                        by: e.by.clone(),
                        comment: e.comment.clone(),
                        at: e.at,
                    });
                    item.decisions += 1;
                }
                self.updated_at = e.at;
            }
            Event::ItemReassigned(e) => {
                if let Some(item) = self.item_mut(e.item) {
                    item.reviewer = e.to.clone();
                    item.decision = None;
                    item.reassignments += 1;
                    if e.reason == ReassignReason::SelfReview {
                        item.self_review_reassigned = true;
                    }
                }
                self.updated_at = e.at;
            }
            Event::CampaignClosed(e) => {
                self.closed = Some(e.clone());
                self.status = Status::Closed;
                self.updated_at = e.at;
            }
            Event::RevocationIssued(e) => {
                if let Some(item) = self.item_mut(e.item) {
                    item.remediation = Some(Remediation::Issued {
                        command: e.command.clone(),
                        position: e.position,
                    });
                }
                self.updated_at = e.at;
            }
            Event::RemediationVerified(e) => {
                if let Some(item) = self.item_mut(e.item) {
                    let command = match &item.remediation {
                        Some(Remediation::Issued { command, .. })
                        | Some(Remediation::Verified { command, .. }) => command.clone(),
                        None => revocation_command_id(&e.campaign, e.item),
                    };
                    item.remediation = Some(Remediation::Verified {
                        command,
                        run: e.run.clone(),
                        position: e.position,
                    });
                    item.flagged = None;
                }
                self.updated_at = e.at;
            }
            Event::RemediationFlagged(e) => {
                if let Some(item) = self.item_mut(e.item) {
                    item.flagged = Some(e.reason.clone());
                }
                self.updated_at = e.at;
            }
            _ => self.version -= 1,
        }
    }

    fn refuse(&self, action: &'static str) -> ReviewError {
        ReviewError::NotAllowedInState {
            campaign: self.id.clone(),
            action,
            status: self.status.as_str(),
        }
    }

    fn open_item(&self, item: u32, action: &'static str) -> Result<&Item, ReviewError> {
        if self.status != Status::Open {
            return Err(self.refuse(action));
        }
        self.item(item).ok_or_else(|| ReviewError::NoSuchItem {
            campaign: self.id.clone(),
            item: format!("i{item}"),
        })
    }
}

/// Defines a campaign.
pub fn create(state: &Campaign, def: CampaignCreated) -> Result<Vec<Event>, ReviewError> {
    if state.status != Status::Absent {
        return Err(ReviewError::AlreadyExists(def.campaign));
    }
    if def.name.trim().is_empty() {
        return Err(ReviewError::InvalidDefinition(
            "the campaign needs a name".into(),
        ));
    }
    if def.scope.selectors.is_empty() {
        return Err(ReviewError::InvalidDefinition(
            "the scope selects nothing: name groups, privileged groups, projects, products, or all grants".into(),
        ));
    }
    if def.scope.account_types.is_empty() {
        return Err(ReviewError::InvalidDefinition(
            "no account type is kept: humans (atlassian) are kept by default".into(),
        ));
    }
    if def.reviewers.is_empty() {
        return Err(ReviewError::InvalidDefinition(
            "no reviewer rule: name owners in the config file, a manager mapping or a fallback reviewer".into(),
        ));
    }
    let fallbacks = def
        .reviewers
        .iter()
        .filter(|r| matches!(r, ReviewerRule::Fallback { .. }))
        .count();
    if fallbacks > 1 {
        return Err(ReviewError::InvalidDefinition(
            "more than one fallback reviewer".into(),
        ));
    }
    if def.remediation_sync_limit == 0 {
        return Err(ReviewError::InvalidDefinition(
            "the remediation sync limit must be at least 1".into(),
        ));
    }
    if def.due.is_some_and(|d| d <= def.at) {
        return Err(ReviewError::InvalidDefinition(
            "the due date is not in the future".into(),
        ));
    }
    Ok(vec![def.into()])
}

/// The population the caller froze from the site's state: items in canonical
/// order with the reviewer the rules named (see [`crate::scope`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frozen {
    /// The log position the state was taken at.
    pub position: u64,
    /// The hash of the record there (lowercase hex).
    pub head_hash: String,
    /// The position "since" resolved to.
    pub since_position: Option<u64>,
    /// SHA-256 of the canonical item lines.
    pub digest: String,
    /// The items: grant, reviewer (None when no rule named one), rule index.
    pub items: Vec<(Grant, Option<(AccountId, u32)>)>,
}

/// Launches a draft: freezes the items, and hands every item whose reviewer is
/// its own principal to the fallback reviewer (recorded as [`ItemReassigned`]
/// with [`ReassignReason::SelfReview`]).
pub fn launch(
    state: &Campaign,
    frozen: Frozen,
    by: &str,
    at: Timestamp,
) -> Result<Vec<Event>, ReviewError> {
    if state.status != Status::Draft {
        return Err(state.refuse("launch"));
    }
    let unassigned = frozen.items.iter().filter(|(_, r)| r.is_none()).count();
    if unassigned > 0 {
        return Err(ReviewError::Unassigned { count: unassigned });
    }
    let fallback = state.fallback();
    let mut items = Vec::with_capacity(frozen.items.len());
    let mut reassigned = Vec::new();
    for (n, (grant, reviewer)) in frozen.items.into_iter().enumerate() {
        let id = u32::try_from(n + 1)
            .map_err(|_| ReviewError::InvalidDefinition("more than 4 billion items".into()))?;
        let (reviewer, rule) = reviewer.expect("checked above");
        if let Principal::User(holder) = &grant.principal {
            if *holder == reviewer {
                match fallback {
                    Some(f) if f != holder => reassigned.push(ItemReassigned {
                        campaign: state.id.clone(),
                        item: id,
                        from: reviewer.clone(),
                        to: f.clone(),
                        by: None,
                        reason: ReassignReason::SelfReview,
                        comment: None,
                        at,
                    }),
                    _ => {
                        return Err(ReviewError::NoFallbackForSelfReview {
                            grant: grant.to_string(),
                        })
                    }
                }
            }
        }
        items.push(CampaignItem {
            item: id,
            grant,
            reviewer,
            rule,
        });
    }
    let chunks: Vec<Vec<CampaignItem>> = items
        .chunks(ITEMS_PER_CHUNK)
        .map(<[CampaignItem]>::to_vec)
        .collect();
    let mut events: Vec<Event> = Vec::with_capacity(chunks.len() + reassigned.len() + 1);
    events.push(
        CampaignLaunched {
            campaign: state.id.clone(),
            position: frozen.position,
            head_hash: frozen.head_hash,
            since_position: frozen.since_position,
            item_count: items.len() as u64,
            digest: frozen.digest,
            chunks: chunks.len() as u32,
            launched_by: by.to_owned(),
            at,
        }
        .into(),
    );
    for (i, chunk) in chunks.into_iter().enumerate() {
        events.push(
            CampaignItemsFrozen {
                campaign: state.id.clone(),
                chunk: i as u32,
                items: chunk,
            }
            .into(),
        );
    }
    events.extend(reassigned.into_iter().map(Event::from));
    Ok(events)
}

/// The assigned reviewer decides an item (or changes their decision). The same
/// decision with the same comment again records nothing.
pub fn decide(
    state: &Campaign,
    item: u32,
    actor: &AccountId,
    decision: Decision,
    comment: Option<String>,
    at: Timestamp,
) -> Result<Vec<Event>, ReviewError> {
    let it = state.open_item(item, "take decisions")?;
    if it.user() == Some(actor) {
        return Err(ReviewError::SelfReview { item });
    }
    if it.reviewer != *actor {
        return Err(ReviewError::NotReviewer {
            item,
            reviewer: it.reviewer.clone(),
        });
    }
    let comment = comment.filter(|c| !c.trim().is_empty());
    if decision == Decision::Revoke && comment.is_none() && state.def().comment_required_for_revoke
    {
        return Err(ReviewError::CommentRequired(state.id.clone()));
    }
    if let Some(d) = &it.decision {
        if d.decision == decision && d.comment == comment {
            return Ok(Vec::new());
        }
    }
    Ok(vec![ItemDecided {
        campaign: state.id.clone(),
        item,
        decision,
        by: actor.clone(),
        comment,
        at,
    }
    .into()])
}

/// The assigned reviewer hands an item to someone else; handing it to its own
/// principal sends it to the fallback reviewer instead (recorded as a
/// self-review reassignment). Its decision, if any, is dropped.
pub fn reassign(
    state: &Campaign,
    item: u32,
    actor: &AccountId,
    to: &AccountId,
    comment: Option<String>,
    at: Timestamp,
) -> Result<Vec<Event>, ReviewError> {
    let it = state.open_item(item, "reassign items")?;
    if it.reviewer != *actor {
        return Err(ReviewError::NotReviewer {
            item,
            reviewer: it.reviewer.clone(),
        });
    }
    let (to, reason) = if it.user() == Some(to) {
        match state.fallback() {
            Some(f) if Some(f) != it.user() => (f.clone(), ReassignReason::SelfReview),
            _ => {
                return Err(ReviewError::NoFallbackForSelfReview {
                    grant: format!("i{item}"),
                })
            }
        }
    } else {
        (to.clone(), ReassignReason::Requested)
    };
    if to == it.reviewer {
        return Err(ReviewError::SameReviewer { item });
    }
    Ok(vec![ItemReassigned {
        campaign: state.id.clone(),
        item,
        from: it.reviewer.clone(),
        to,
        by: Some(actor.clone()),
        reason,
        comment: comment.filter(|c| !c.trim().is_empty()),
        at,
    }
    .into()])
}

/// Closes an open campaign at the log's head `(position, hash)`.
pub fn close(
    state: &Campaign,
    by: &str,
    head: (u64, String),
    at: Timestamp,
) -> Result<Vec<Event>, ReviewError> {
    if state.status != Status::Open {
        return Err(state.refuse("close"));
    }
    let undecided = state.items.iter().filter(|i| i.decision.is_none()).count() as u64;
    Ok(vec![CampaignClosed {
        campaign: state.id.clone(),
        closed_by: by.to_owned(),
        undecided,
        head_position: head.0,
        head_hash: head.1,
        at,
    }
    .into()])
}

/// The revoked items of a closed campaign whose command is not issued yet, with
/// the command id each gets.
pub fn pending_revocations(state: &Campaign) -> Vec<(&Item, CommandId)> {
    if state.status != Status::Closed {
        return Vec::new();
    }
    state
        .items
        .iter()
        .filter(|i| i.remediation.is_none() && state.is_revoked(i))
        .map(|i| (i, revocation_command_id(&state.id, i.id)))
        .collect()
}

/// Records that a revoked item's command was issued (at the log's head
/// `position`).
pub fn revocation_issued(
    state: &Campaign,
    item: u32,
    position: u64,
    at: Timestamp,
) -> Result<Vec<Event>, ReviewError> {
    if state.status != Status::Closed {
        return Err(state.refuse("issue revocations"));
    }
    let it = state.item(item).ok_or_else(|| ReviewError::NoSuchItem {
        campaign: state.id.clone(),
        item: format!("i{item}"),
    })?;
    if it.remediation.is_some() || !state.is_revoked(it) {
        return Ok(Vec::new());
    }
    Ok(vec![RevocationIssued {
        campaign: state.id.clone(),
        item,
        command: revocation_command_id(&state.id, item),
        position,
        at,
    }
    .into()])
}

/// How a revocation's command ended, as the outbox tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandFact {
    /// No outcome yet (not driven, or unfinished).
    Unfinished,
    /// Succeeded; its outcome is at this position.
    Succeeded {
        /// The outcome's position.
        position: u64,
    },
    /// Failed, with the reason.
    Failed {
        /// The command's reason.
        reason: String,
    },
}

/// The verification step: for every issued revocation, compares the site's
/// state (folded up to the log's head) with the command's outcome and the
/// completed syncs since. A grant absent after a sync that started after the
/// command's outcome is [`RemediationVerified`] by that run; a grant still there
/// after `remediation_sync_limit` completed syncs since the command was issued,
/// a grant added again after its removal, and a failed command are
/// [`RemediationFlagged`] (once each).
pub fn remediate(
    state: &Campaign,
    site: &SiteState,
    command: &dyn Fn(&CommandId) -> CommandFact,
    at: Timestamp,
) -> Vec<Event> {
    if state.status != Status::Closed {
        return Vec::new();
    }
    let limit = state.def().remediation_sync_limit;
    let completed: Vec<(&SyncRunId, u64, u64)> = site
        .completed_runs()
        .filter_map(|r| Some((&r.run, r.started, r.ended?.position)))
        .collect();
    let mut out = Vec::new();
    let flag = |item: u32, reason: FlagReason| -> Event {
        RemediationFlagged {
            campaign: state.id.clone(),
            item,
            reason,
            at,
        }
        .into()
    };
    for item in &state.items {
        let Some(rem) = &item.remediation else {
            continue;
        };
        let held = site.has_grant(&item.grant);
        match rem {
            Remediation::Verified { position, .. } => {
                if held {
                    let again = site.last_change(&item.grant).unwrap_or(*position);
                    let reason = FlagReason::Reappeared { position: again };
                    if item.flagged.as_ref() != Some(&reason) {
                        out.push(flag(item.id, reason));
                    }
                }
            }
            Remediation::Issued {
                command: cmd,
                position: issued_at,
            } => match command(cmd) {
                CommandFact::Failed { reason } => {
                    let reason = FlagReason::CommandFailed { reason };
                    if item.flagged.as_ref() != Some(&reason) {
                        out.push(flag(item.id, reason));
                    }
                }
                fact => {
                    let done_at = match fact {
                        CommandFact::Succeeded { position } => Some(position),
                        _ => None,
                    };
                    if let Some(done) = done_at {
                        if held && site.last_change(&item.grant).is_some_and(|p| p > done) {
                            let reason = FlagReason::Reappeared {
                                position: site.last_change(&item.grant).unwrap_or(done),
                            };
                            if item.flagged.as_ref() != Some(&reason) {
                                out.push(flag(item.id, reason));
                            }
                            continue;
                        }
                        if !held {
                            if let Some((run, _, end)) =
                                completed.iter().find(|(_, started, _)| *started > done)
                            {
                                out.push(
                                    RemediationVerified {
                                        campaign: state.id.clone(),
                                        item: item.id,
                                        run: (*run).clone(),
                                        position: *end,
                                        at,
                                    }
                                    .into(),
                                );
                                continue;
                            }
                        }
                    }
                    let syncs = completed
                        .iter()
                        .filter(|(_, started, _)| started > issued_at)
                        .count() as u32;
                    if syncs >= limit && held {
                        let reason = FlagReason::NotRemoved { syncs: limit };
                        if item.flagged.is_none() {
                            out.push(flag(item.id, reason));
                        }
                    }
                }
            },
        }
    }
    out
}

/// Per reviewer: (assigned, decided, approved, revoked).
pub fn progress(state: &Campaign) -> BTreeMap<AccountId, [u64; 4]> {
    let mut out: BTreeMap<AccountId, [u64; 4]> = BTreeMap::new();
    for item in &state.items {
        let row = out.entry(item.reviewer.clone()).or_default();
        row[0] += 1;
        match state.outcome(item) {
            Outcome::Approved => {
                row[1] += 1;
                row[2] += 1;
            }
            Outcome::Revoked => {
                row[1] += 1;
                row[3] += 1;
            }
            Outcome::Undecided => {}
        }
    }
    out
}

#[cfg(test)]
#[path = "campaign_tests.rs"]
mod tests;
