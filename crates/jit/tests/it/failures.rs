//! Jira refusing a request's changes, against the simulator over loopback: a
//! 403 (grantledger's credential is not a site admin), a 429 storm shorter and
//! longer than the executor's budget, dropped connections on the grant and on
//! the expiry's removal. Every wait goes through a manual clock.

use std::sync::Arc;
use std::time::Duration;

use grantledger_clock::ManualClock;
use grantledger_ingest::SyncOptions;
use grantledger_jira::JiraClient;
use grantledger_jira_sim::{Credential, Faults, Org};
use grantledger_jit::{run_once, CreateArgs, Jit, PassReport, Policies, Request};
use grantledger_model::*;
use grantledger_outbox::{DrivePolicy, Executor};
use grantledger_testkit::{client_with, start_sim, Harness, Preset, SITE};

pub const ADD_MEMBER: &str = "POST /rest/api/3/group/user";
pub const REMOVE_MEMBER: &str = "DELETE /rest/api/3/group/user";

/// The executor's budget in these tests: 3 attempts, 1 s then 2 s apart.
fn policy() -> DrivePolicy {
    DrivePolicy {
        max_attempts: 3,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(4),
        max_retry_after: Duration::from_secs(10),
    }
}

pub struct World {
    pub h: Harness,
    pub clock: Arc<ManualClock>,
    pub jit: Arc<Jit>,
    pub policies: String,
    pub group: String,
    pub group_name: String,
    /// Active non-admins outside the group.
    pub outsiders: Vec<String>,
    pub approver: String,
}

/// A synced small org, a group that is not an admin group, accounts outside it,
/// an approver and a policy for the group. `clock` is the world's clock (manual,
/// auto-advancing or not).
pub async fn world(clock: ManualClock) -> World {
    let org = Org::generate(Preset::Small, 11);
    let h = Harness::with_org(org, Faults::default()).await;
    let clock = Arc::new(clock);
    grantledger_ingest::sync(
        &h.log,
        &h.client,
        SyncOptions {
            clock: clock.clone(),
            ..SyncOptions::new(SITE)
        },
    )
    .await
    .expect("the first sync");
    let org = h.sim.org();
    let admin = Credential::admin_of(&org).account_id;
    let admin_groups = ["site-admins", "jira-administrators", "org-admins"];
    let (group, outsiders) = org
        .groups
        .iter()
        .filter(|g| !admin_groups.contains(&g.name.as_str()))
        .map(|g| {
            let members = org
                .memberships
                .get(&g.group_id)
                .cloned()
                .unwrap_or_default();
            let outsiders: Vec<String> = org
                .active_humans()
                .filter(|u| u.account_id != admin && !org.is_admin(&u.account_id))
                .filter(|u| !members.contains(&u.account_id))
                .map(|u| u.account_id.clone())
                .take(12)
                .collect();
            (g.group_id.clone(), outsiders)
        })
        .max_by_key(|(_, o)| o.len())
        .expect("a group");
    assert!(outsiders.len() >= 12, "enough accounts outside a group");
    let (approver, outsiders) = (outsiders[0].clone(), outsiders[1..].to_vec());
    let group_name = org.group_name(&group).unwrap().to_owned();
    let policies = format!(
        "[jit]\n[[jit.policy]]\nname = \"team\"\ngroups = [\"{group_name}\"]\napprovers = [\"{approver}\"]\nmax_duration = \"8h\"\n"
    );
    let jit = Arc::new(Jit::new(
        h.log.clone(),
        SITE,
        Policies::parse(&policies).expect("the policies"),
        clock.clone(),
    ));
    World {
        h,
        clock,
        jit,
        policies,
        group,
        group_name,
        outsiders,
        approver,
    }
}

impl World {
    /// A client on the world's clock, signed in as `email` / `token`.
    pub fn client(&self, email: &str, token: &str) -> JiraClient {
        let clock = self.clock.clone();
        let config = {
            let mut c = None;
            client_with(&self.h.sim, email, token, |config| c = Some(config.clone()));
            c.unwrap()
        };
        JiraClient::with_clock(config, clock).unwrap()
    }

    pub fn executor(&self, client: JiraClient) -> Executor {
        Executor::new(self.h.log.clone(), self.clock.clone(), policy()).with_site(SITE, client)
    }

    /// A request of `who` for the group, for two hours, approved.
    pub fn approved(&self, who: &str) -> Request {
        let r = self
            .jit
            .create(CreateArgs {
                actor: who.into(),
                entitlement: self.group_name.clone(),
                duration_secs: 2 * 3600,
                justification: Some("incident".into()),
                ..CreateArgs::default()
            })
            .unwrap();
        self.jit
            .approve(r.id.as_str(), &self.approver, None)
            .unwrap()
    }

    /// The additions and removals Jira carried out (a write Jira refuses, with
    /// a 429 say, changes nothing).
    pub fn writes(&self) -> (u64, u64) {
        let stats = self.h.sim.stats();
        let n = |op: &str| stats.changes.get(op).copied().unwrap_or(0);
        (n(ADD_MEMBER), n(REMOVE_MEMBER))
    }

    pub fn in_group(&self, account: &str) -> bool {
        self.h
            .sim
            .org()
            .memberships
            .get(&self.group)
            .is_some_and(|m| m.contains(account))
    }

    pub fn story(&self, r: &RequestId) -> Vec<&'static str> {
        self.h
            .log
            .read_stream(&StreamId::request(r), 1)
            .unwrap()
            .iter()
            .map(|r| r.event.event_type())
            .collect()
    }
}

#[tokio::test]
async fn a_grant_refused_403_ends_failed_with_what_to_do_and_jira_unchanged() {
    let w = world(ManualClock::auto_advancing(Timestamp(
        1_764_288_000_000_000,
    )))
    .await;
    // grantledger's credential belongs to an active user who is not a site admin.
    let plain = w.outsiders.last().unwrap().clone();
    let token = "plain-token";
    let sim = start_sim(
        w.h.sim.org(),
        vec![Credential::new("plain@example.test", token, plain.as_str())],
        Faults::default(),
    )
    .await;
    let config = {
        let mut c = None;
        client_with(&sim, "plain@example.test", token, |config| {
            c = Some(config.clone())
        });
        c.unwrap()
    };
    let exec = w.executor(JiraClient::with_clock(config, w.clock.clone()).unwrap());
    let who = &w.outsiders[0];
    let r = w.approved(who);
    let report = run_once(&w.jit, &exec).await.unwrap();
    assert_eq!(report.failed, vec![r.id.clone()]);
    let failed = w.jit.load(r.id.as_str()).unwrap();
    assert_eq!(failed.status.as_str(), "failed");
    assert!(failed.status.is_final());
    let reason = failed.outcome.clone().unwrap_or_default();
    // What `request show` prints as the outcome: the change, Jira's reason, what to do.
    assert!(reason.contains(&w.group), "{reason}");
    assert!(reason.contains("site administration"), "{reason}");
    assert!(
        reason.contains("give grantledger's Jira account that permission"),
        "{reason}"
    );
    let stats = sim.stats();
    assert_eq!(
        stats.by_operation.get(ADD_MEMBER).copied(),
        Some(1),
        "one attempt, refused at once"
    );
    assert!(!sim
        .org()
        .memberships
        .get(&w.group)
        .is_some_and(|m| m.contains(who.as_str())));
    assert_eq!(
        sim.org().audit.len(),
        w.h.sim.org().audit.len(),
        "nothing changed in Jira"
    );
    assert_eq!(
        w.story(&r.id),
        [
            "AccessRequested",
            "ApprovalGiven",
            "RequestApproved",
            "RequestFailed"
        ]
    );
    // A later pass leaves it alone: no retry of a refusal.
    let report = run_once(&w.jit, &exec).await.unwrap();
    assert_eq!(report, PassReport::default());
    assert_eq!(sim.stats().by_operation.get(ADD_MEMBER).copied(), Some(1));
}

/// Runs a pass in a task while the test moves the clock: every time the pass
/// sleeps, `between` is called with the simulator's count of 429s so far, then
/// the clock is moved past the sleep.
async fn pass_through_storm(
    w: &World,
    exec: Arc<Executor>,
    mut between: impl FnMut(u64),
) -> PassReport {
    let jit = w.jit.clone();
    let task = tokio::spawn(async move { run_once(&jit, &*exec).await });
    let wall = std::time::Instant::now();
    while !task.is_finished() {
        assert!(
            wall.elapsed() < Duration::from_secs(20),
            "the pass is stuck"
        );
        if w.clock.sleepers() > 0 {
            let limited =
                w.h.sim
                    .stats()
                    .faults_by_kind
                    .get("rate_limited")
                    .copied()
                    .unwrap_or(0);
            between(limited);
            w.clock.advance(Duration::from_secs(60));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    task.await.unwrap().unwrap()
}

fn storm() -> Faults {
    Faults {
        rate_limit_every: Some(1),
        retry_after_secs: 1,
        ..Faults::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_shorter_than_the_budget_ends_granted_with_one_add() {
    let w = world(ManualClock::new(Timestamp(1_764_288_000_000_000))).await;
    let exec = Arc::new(w.executor(w.client(Credential::DEFAULT_EMAIL, Credential::DEFAULT_TOKEN)));
    let who = w.outsiders[0].clone();
    let r = w.approved(&who);
    w.h.sim.reset_stats();
    w.h.sim.set_faults(storm());
    // The storm outlasts the client's own retries (8) and ends within the
    // executor's second attempt.
    let report = pass_through_storm(&w, exec.clone(), |limited| {
        if limited >= 10 {
            w.h.sim.set_faults(Faults::default());
        }
    })
    .await;
    let limited = w.h.sim.stats().faults_by_kind.get("rate_limited").copied();
    assert!(limited >= Some(10), "{limited:?}: the storm happened");
    assert_eq!(report.granted, vec![r.id.clone()]);
    let granted = w.jit.load(r.id.as_str()).unwrap();
    assert_eq!(granted.status.as_str(), "granted");
    assert!(granted.owns_access);
    assert!(w.in_group(&who));
    assert_eq!(w.writes(), (1, 0), "exactly one add went through");
    let command = exec
        .status(&CommandId::from(format!("{}-grant", r.id)))
        .unwrap()
        .unwrap();
    assert!(
        matches!(
            command.outcome,
            Some(grantledger_outbox::Outcome::Succeeded(ref s)) if s.attempts >= 2 && s.jira == JiraOutcome::Changed
        ),
        "{:?}",
        command.outcome
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_past_the_budget_ends_the_request_failed_gave_up_and_jira_unchanged() {
    let w = world(ManualClock::new(Timestamp(1_764_288_000_000_000))).await;
    let exec = Arc::new(w.executor(w.client(Credential::DEFAULT_EMAIL, Credential::DEFAULT_TOKEN)));
    let who = w.outsiders[0].clone();
    let r = w.approved(&who);
    w.h.sim.reset_stats();
    w.h.sim.set_faults(storm());
    let report = pass_through_storm(&w, exec.clone(), |_| {}).await;
    w.h.sim.set_faults(Faults::default());
    assert_eq!(report.failed, vec![r.id.clone()]);
    // ADR 0011 §4: past the budget the command fails `GaveUp`; ADR 0013: the
    // request records that failure and is final (a person asks again).
    let command = exec
        .status(&CommandId::from(format!("{}-grant", r.id)))
        .unwrap()
        .unwrap();
    let Some(grantledger_outbox::Outcome::Failed(f)) = &command.outcome else {
        panic!("{:?}", command.outcome);
    };
    assert_eq!(f.kind, CommandFailureKind::GaveUp);
    assert_eq!(f.attempts, 3);
    let failed = w.jit.load(r.id.as_str()).unwrap();
    assert_eq!(failed.status.as_str(), "failed");
    let reason = failed.outcome.clone().unwrap_or_default();
    assert!(reason.contains("gave up after 3 attempts"), "{reason}");
    assert!(reason.contains("Jira was not changed"), "{reason}");
    assert!(!w.in_group(&who));
    assert_eq!(w.writes(), (0, 0), "the storm never let a write through");
    // The storm is over: a later pass does not retry a failed request.
    let report = run_once(&w.jit, &*exec).await.unwrap();
    assert!(report.granted.is_empty() && report.failed.is_empty());
    assert_eq!(w.writes(), (0, 0));
}

#[tokio::test]
async fn dropped_connections_on_the_grant_and_the_removal_make_one_add_and_one_remove() {
    let w = world(ManualClock::auto_advancing(Timestamp(
        1_764_288_000_000_000,
    )))
    .await;
    let exec = w.executor(w.client(Credential::DEFAULT_EMAIL, Credential::DEFAULT_TOKEN));
    let who = w.outsiders[0].clone();
    let r = w.approved(&who);
    let audit_before = w.h.sim.org().audit.len();
    // `drop_every` counts requests from the server's start: make the count so
    // far odd, so the drops fall on the same requests whatever the first sync
    // sent (it reads the audit log too, ADR 0019).
    if w.h.sim.stats().total % 2 == 0 {
        w.h.client.myself().await.unwrap();
    }
    w.h.sim.reset_stats();
    // Every second request is carried out and its connection closed unanswered,
    // the first one included: the write itself (a first attempt writes at once),
    // whose effect the client must find out by reading (the read is answered).
    let drops = Faults {
        drop_every: Some(2),
        ..Faults::default()
    };
    let dropped = |w: &World| {
        w.h.sim
            .stats()
            .faults_by_kind
            .get("dropped_connection")
            .copied()
            .unwrap_or(0)
    };
    w.h.sim.set_faults(drops.clone());
    let report = run_once(&w.jit, &exec).await.unwrap();
    w.h.sim.set_faults(Faults::default());
    assert!(dropped(&w) >= 1, "{} dropped", dropped(&w));
    assert_eq!(report.granted, vec![r.id.clone()], "{report:?}");
    let granted = w.jit.load(r.id.as_str()).unwrap();
    assert_eq!(granted.status.as_str(), "granted", "{:?}", granted.outcome);
    assert!(granted.owns_access, "the add is the request's own");
    assert!(w.in_group(&who));
    assert_eq!(w.writes(), (1, 0), "one add");
    assert_eq!(w.h.sim.org().audit.len(), audit_before + 1);

    // The deadline: the removal's connections are dropped the same way.
    w.clock.set(granted.expires_at.unwrap());
    w.h.sim.reset_stats();
    w.h.sim.set_faults(drops);
    let report = run_once(&w.jit, &exec).await.unwrap();
    w.h.sim.set_faults(Faults::default());
    assert!(dropped(&w) >= 1, "{} dropped", dropped(&w));
    assert_eq!(report.expired, vec![r.id.clone()]);
    assert_eq!(report.revoked, vec![r.id.clone()], "{report:?}");
    let done = w.jit.load(r.id.as_str()).unwrap();
    assert_eq!(done.status.as_str(), "revoked", "{:?}", done.outcome);
    assert!(!w.in_group(&who));
    assert_eq!(w.writes(), (0, 1), "one remove");
    assert_eq!(
        w.h.sim.org().audit.len(),
        audit_before + 2,
        "two changes in all"
    );
    assert_eq!(
        w.story(&r.id),
        [
            "AccessRequested",
            "ApprovalGiven",
            "RequestApproved",
            "AccessGranted",
            "AccessExpired",
            "AccessRevoked"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_past_the_budget_on_the_removal_is_retried_by_the_scheduler_after_a_wait() {
    let w = world(ManualClock::new(Timestamp(1_764_288_000_000_000))).await;
    let exec = Arc::new(w.executor(w.client(Credential::DEFAULT_EMAIL, Credential::DEFAULT_TOKEN)));
    let who = w.outsiders[0].clone();
    let r = w.approved(&who);
    run_once(&w.jit, &*exec).await.unwrap();
    let granted = w.jit.load(r.id.as_str()).unwrap();
    assert_eq!(granted.status.as_str(), "granted");
    w.clock.set(granted.expires_at.unwrap());
    w.h.sim.reset_stats();
    w.h.sim.set_faults(storm());
    let report = pass_through_storm(&w, exec.clone(), |_| {}).await;
    w.h.sim.set_faults(Faults::default());
    assert_eq!(report.expired, vec![r.id.clone()]);
    assert_eq!(report.failed, vec![r.id.clone()]);
    let stuck = w.jit.load(r.id.as_str()).unwrap();
    // Not final: the access is still in Jira and the request says so.
    assert_eq!(stuck.status.as_str(), "revoke-failed");
    assert!(!stuck.status.is_final());
    let reason = stuck.outcome.clone().unwrap_or_default();
    assert!(reason.contains("gave up after 3 attempts"), "{reason}");
    assert!(w.in_group(&who), "the member is still in the group");
    assert_eq!(w.writes(), (0, 0));
    // Before the wait is over a pass leaves it, and says when it comes back.
    let due = grantledger_jit::request::removal_retry_due(&stuck).expect("a retry is planned");
    assert_eq!(
        due.as_micros() - stuck.updated_at.as_micros(),
        grantledger_jit::request::REMOVAL_RETRY_FIRST_SECS as i64 * 1_000_000
    );
    let report = run_once(&w.jit, &*exec).await.unwrap();
    assert!(report.removals_retried.is_empty() && report.revoked.is_empty());
    assert_eq!(report.next_deadline, Some(due));
    assert_eq!(w.writes(), (0, 0));
    // The storm is over and the wait too: the scheduler retries on its own with
    // a new command that keeps the expiry's purpose. One remove, revoked.
    w.clock.set(due);
    let report = run_once(&w.jit, &*exec).await.unwrap();
    assert_eq!(report.removals_retried, vec![r.id.clone()]);
    assert_eq!(report.revoked, vec![r.id.clone()]);
    let done = w.jit.load(r.id.as_str()).unwrap();
    assert_eq!(done.status.as_str(), "revoked", "{:?}", done.outcome);
    assert_eq!(
        done.removal_command.as_ref().map(|c| c.as_str().to_owned()),
        Some(format!("{}-expire-2", r.id))
    );
    assert!(!w.in_group(&who));
    assert_eq!(w.writes(), (0, 1), "one remove");
    // And nothing more afterwards.
    let report = run_once(&w.jit, &*exec).await.unwrap();
    assert!(report.removals_retried.is_empty());
    assert_eq!(w.writes(), (0, 1));
}
