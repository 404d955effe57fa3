//! Every fault kind is observable by a plain HTTP client.

use crate::common;

use std::time::{Duration, Instant};

use common::start;
use grantledger_jira_sim::{Faults, Preset};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn every_nth_request_is_rate_limited_with_retry_after() {
    let sim = start(Preset::Small).await;
    sim.server.set_faults(Faults {
        rate_limit_every: Some(3),
        retry_after_secs: 7,
        ..Faults::default()
    });
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = sim.get("/rest/api/3/users/search").await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(
                r.headers.get("retry-after").and_then(|v| v.to_str().ok()),
                Some("7")
            );
            let reset = r
                .headers
                .get("x-ratelimit-reset")
                .and_then(|v| v.to_str().ok())
                .expect("reset")
                .to_owned();
            assert!(
                chrono::NaiveDateTime::parse_from_str(&reset, "%Y-%m-%dT%H:%MZ").is_ok(),
                "minute precision: {reset}"
            );
        }
        statuses.push(r.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 429, 200, 200, 429]);

    sim.server.set_faults(Faults {
        rate_limit_every: Some(1),
        ..Faults::default()
    });
    let r = sim.get("/rest/api/3/myself").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.headers.get("retry-after").is_none(),
        "retry_after_secs = 0 omits the header"
    );
    assert!(r.headers.get("x-ratelimit-reset").is_none());
    let stats = sim.server.stats();
    assert_eq!(stats.faults_injected, 3);
    assert_eq!(stats.faults_by_kind["rate_limited"], 3);
}

#[tokio::test]
async fn ratio_rate_limits_are_deterministic() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sim = start(Preset::Small).await;
        sim.server.set_faults(Faults {
            rate_limit_ratio: 0.3,
            retry_after_secs: 1,
            ..Faults::default()
        });
        let mut pattern = Vec::new();
        for _ in 0..100 {
            pattern
                .push(sim.get("/rest/api/3/myself").await.status == StatusCode::TOO_MANY_REQUESTS);
        }
        runs.push(pattern);
    }
    assert_eq!(runs[0], runs[1], "same request sequence, same 429s");
    let hits = runs[0].iter().filter(|h| **h).count();
    assert!((15..=45).contains(&hits), "{hits} of 100 at ratio 0.3");
}

#[tokio::test]
async fn server_errors_and_malformed_bodies() {
    let sim = start(Preset::Small).await;
    sim.server.set_faults(Faults {
        server_error_every: Some(2),
        retry_after_secs: 2,
        ..Faults::default()
    });
    assert_eq!(
        sim.get("/rest/api/3/group/bulk").await.status,
        StatusCode::OK
    );
    let r = sim.get("/rest/api/3/group/bulk").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        r.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("2")
    );

    sim.server.set_faults(Faults {
        malformed_every: Some(1),
        ..Faults::default()
    });
    let r = sim.get("/rest/api/3/group/bulk").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        serde_json::from_str::<serde_json::Value>(&r.text).is_err(),
        "body must not parse: {}",
        r.text
    );
    assert!(r.text.starts_with('{'), "a truncated real body");
    // Even a body-less answer (204) becomes broken JSON.
    let key = sim.server.org().projects[0].key.clone();
    let role = sim.server.org().projects[0].roles[0].clone();
    let user = role.user_actors.iter().next().expect("an actor").clone();
    let r = sim
        .send(
            Method::DELETE,
            &format!("/rest/api/3/project/{key}/role/{}?user={user}", role.id),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(serde_json::from_str::<serde_json::Value>(&r.text).is_err());
}

#[tokio::test]
async fn dropped_connections_are_connection_errors_and_the_write_still_happens() {
    let sim = start(Preset::Small).await;
    let org = sim.server.org();
    let group = org
        .group_by_name("jira-servicedesk-users")
        .expect("group")
        .clone();
    let outsider = org
        .outsider(&group.group_id, &[])
        .unwrap()
        .account_id
        .clone();
    sim.server.set_faults(Faults {
        drop_every: Some(1),
        ..Faults::default()
    });
    let err = sim
        .http
        .post(sim.url(&format!(
            "/rest/api/3/group/user?groupId={}",
            group.group_id
        )))
        .basic_auth(&sim.admin.email, Some(&sim.admin.token))
        .json(&json!({ "accountId": outsider }))
        .send()
        .await
        .expect_err("no response may arrive");
    assert!(
        err.status().is_none(),
        "a connection error, not an HTTP status: {err:?}"
    );
    assert!(
        err.is_request() || err.is_connect() || err.is_body(),
        "{err:?}"
    );
    assert!(
        sim.server.org().memberships[&group.group_id].contains(&outsider),
        "the write took effect"
    );

    // Reads are dropped too; the server stays healthy once the fault is off.
    assert!(sim
        .http
        .get(sim.url("/rest/api/3/myself"))
        .basic_auth(&sim.admin.email, Some(&sim.admin.token))
        .send()
        .await
        .is_err());
    sim.server.set_faults(Faults::default());
    assert_eq!(sim.get("/rest/api/3/myself").await.status, StatusCode::OK);
    assert_eq!(sim.server.stats().faults_by_kind["dropped_connection"], 2);
}

#[tokio::test]
async fn latency_and_slow_responses_delay_answers() {
    let sim = start(Preset::Small).await;
    sim.server.set_faults(Faults {
        latency: Duration::from_millis(120),
        ..Faults::default()
    });
    let t = Instant::now();
    assert_eq!(sim.get("/rest/api/3/myself").await.status, StatusCode::OK);
    assert!(t.elapsed() >= Duration::from_millis(120));

    sim.server.set_faults(Faults {
        slow_every: Some(2),
        slow_by: Duration::from_millis(250),
        ..Faults::default()
    });
    let mut took = Vec::new();
    for _ in 0..2 {
        let t = Instant::now();
        assert_eq!(sim.get("/rest/api/3/myself").await.status, StatusCode::OK);
        took.push(t.elapsed());
    }
    // The sequence counts from server start: the latency probe was request 1,
    // so these are requests 2 (slow) and 3 (not slow).
    assert!(
        took[0] >= Duration::from_millis(250) && took[1] < Duration::from_millis(250),
        "{took:?}"
    );
}

#[tokio::test]
async fn repeat_page_makes_paging_endpoints_ignore_start_at() {
    let sim = start(Preset::Medium).await;
    let first = sim
        .get_ok("/rest/api/3/group/bulk?startAt=0&maxResults=10")
        .await;
    sim.server.set_faults(Faults {
        repeat_page: true,
        ..Faults::default()
    });
    let again = sim
        .get_ok("/rest/api/3/group/bulk?startAt=10&maxResults=10")
        .await;
    assert_eq!(again["startAt"], json!(0));
    assert_eq!(again["values"], first["values"]);
    let users0 = sim
        .get_ok("/rest/api/3/users/search?startAt=0&maxResults=5")
        .await;
    let users1 = sim
        .get_ok("/rest/api/3/users/search?startAt=5&maxResults=5")
        .await;
    assert_eq!(users0, users1);
}
