//! `sync --refresh` against a full sync (ADR 0020): on a simulated site with k
//! changes made through the API (k = 0, 10, 100), the requests a refresh sends
//! against its bound (audit pages + the cheap lists + the pages of the k
//! affected scopes) and against a full sync's, and its wall time at the
//! injected latency. After the last refresh, a full sync must record nothing.
//!
//! `cargo bench -p grantledger-benches --bench refresh`
//! Settings: `GL_BENCH_PRESET` (default large), `GL_BENCH_LATENCY_MS` (default
//! 30), `GL_BENCH_CONCURRENCY` (default 8), `GL_BENCH_SEED` (default 42).

use std::str::FromStr;
use std::time::Instant;

use grantledger_benches::env_u64;
use grantledger_eventlog::EventLog;
use grantledger_ingest::{minimum_requests, sync, Outcome, Scope, SyncOptions, SyncReport};
use grantledger_jira::{ApiToken, JiraClient, JiraConfig};
use grantledger_jira_sim::{Credential, Faults, Org, Preset, SimServer, SplitMix64};
use grantledger_model::{AccountId, GroupId, Principal, ProjectId, RoleId};

const SITE: &str = "sim.atlassian.net";

fn client(base: &str, concurrency: usize) -> JiraClient {
    let mut config = JiraConfig::for_base_url(
        base,
        Credential::DEFAULT_EMAIL,
        ApiToken::new(Credential::DEFAULT_TOKEN),
    )
    .expect("a client config");
    config.concurrency = concurrency;
    JiraClient::new(config).expect("a client")
}

async fn run(log: &EventLog, c: &JiraClient, refresh: bool, concurrency: usize) -> SyncReport {
    let mut opts = SyncOptions::new(SITE);
    opts.refresh = refresh;
    opts.concurrency = concurrency;
    let r = sync(log, c, opts).await.expect("the sync runs");
    assert_eq!(r.outcome, Outcome::Completed, "{:?}", r.outcome);
    r
}

/// Makes `k` changes through the API, alternately a member added to a group
/// and a user added as a role actor, each in a scope of its own; returns the
/// pages their scopes cost to list (after the change).
async fn changes(sim: &SimServer, c: &JiraClient, k: usize, rng: &mut SplitMix64) -> u64 {
    let org = sim.org();
    let humans: Vec<&str> = org.active_humans().map(|u| u.account_id.as_str()).collect();
    let mut pages = 0;
    let mut used_groups = std::collections::BTreeSet::new();
    let mut used_roles = std::collections::BTreeSet::new();
    let mut made = 0;
    while made < k {
        let who = humans[rng.below(humans.len())];
        if made % 2 == 0 {
            let g = &org.groups[rng.below(org.groups.len())];
            let members = org.memberships.get(&g.group_id);
            if members.is_some_and(|m| m.contains(who)) || !used_groups.insert(g.group_id.clone()) {
                continue;
            }
            c.add_group_member(&GroupId::from(g.group_id.as_str()), &AccountId::from(who))
                .await
                .expect("a member added");
            let n = members.map_or(0, |m| m.len()) as u64 + 1;
            pages += minimum_requests(&Scope::Members(GroupId::from(g.group_id.as_str())), n);
        } else {
            let p = &org.projects[rng.below(org.projects.len())];
            if p.roles.is_empty() {
                continue;
            }
            let r = &p.roles[rng.below(p.roles.len())];
            if r.user_actors.contains(who) || !used_roles.insert((p.id.clone(), r.id)) {
                continue;
            }
            c.add_role_actor(
                &ProjectId::from(p.id.as_str()),
                &RoleId::from(r.id.to_string().as_str()),
                &Principal::User(AccountId::from(who)),
            )
            .await
            .expect("a role actor added");
            pages += 1;
        }
        made += 1;
    }
    pages
}

fn main() {
    let preset = Preset::from_str(&std::env::var("GL_BENCH_PRESET").unwrap_or("large".into()))
        .expect("GL_BENCH_PRESET: small, medium or large");
    let latency = env_u64("GL_BENCH_LATENCY_MS", 30);
    let concurrency = env_u64("GL_BENCH_CONCURRENCY", 8) as usize;
    let seed = env_u64("GL_BENCH_SEED", 42);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let org = Org::generate(preset, seed);
        let cheap = minimum_requests(&Scope::Users, org.users.len() as u64)
            + minimum_requests(&Scope::Groups, org.groups.len() as u64)
            + minimum_requests(&Scope::Projects, org.projects.len() as u64)
            + 1;
        let faults = Faults {
            latency: std::time::Duration::from_millis(latency),
            ..Faults::default()
        };
        let sim = grantledger_testkit::start_sim(org, Vec::new(), faults).await;
        let c = client(&sim.base_url(), concurrency);
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = EventLog::open(dir.path()).expect("a log");

        let t = Instant::now();
        let full = run(&log, &c, false, concurrency).await;
        let full_time = t.elapsed();
        println!(
            "refresh bench: preset {preset}, latency {latency} ms, concurrency {concurrency}"
        );
        println!(
            "full sync: {} requests in {:.1} s ({} audit records)",
            full.stats.requests,
            full_time.as_secs_f64(),
            full.audit.as_ref().map_or(0, |a| a.new)
        );
        // A second full sync, unchanged site: the cost a refresh replaces.
        let t = Instant::now();
        let again = run(&log, &c, false, concurrency).await;
        let again_time = t.elapsed();
        println!(
            "full sync, nothing changed: {} requests in {:.1} s",
            again.stats.requests,
            again_time.as_secs_f64()
        );
        let mut rng = SplitMix64::new(seed ^ 0x5eed);
        let mut ok = true;
        for k in [0usize, 10, 100] {
            let scope_pages = changes(&sim, &c, k, &mut rng).await;
            let t = Instant::now();
            let refresh = run(&log, &c, true, concurrency).await;
            let took = t.elapsed();
            let audit_pages = refresh.audit.as_ref().map_or(0, |a| a.pages);
            let bound = audit_pages + cheap + scope_pages;
            let ratio = refresh.stats.requests as f64 / again.stats.requests as f64;
            let within = refresh.stats.requests <= bound && ratio <= 0.02;
            ok &= within;
            println!(
                "k = {k:>3}: refresh {} requests (bound {bound} = {audit_pages} audit + {cheap} cheap lists + {scope_pages} affected scope pages), {:.2} % of a full sync, {:.2} s wall, {} events{}",
                refresh.stats.requests,
                ratio * 100.0,
                took.as_secs_f64(),
                refresh.stats.events_written,
                if within { "" } else { "  <-- over the target" }
            );
        }
        let after = run(&log, &c, false, concurrency).await;
        println!(
            "full sync after the refreshes: {} events recorded (0 expected), missed_by_refresh {:?}",
            after.stats.events_written, after.missed_by_refresh
        );
        ok &= after.stats.events_written == 0;
        println!("{}", if ok { "ok: every target met" } else { "NOT MET: see above" });
    });
}
