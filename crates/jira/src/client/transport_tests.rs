//! The retry loop against a scripted loopback server and a fake clock.

use super::*;

use super::fakes::*;
use crate::config::RetryPolicy;

#[tokio::test]
async fn retry_after_then_backoff_then_success() {
    let (base, seen) = scripted(vec![
        reply("429 Too Many Requests", &["Retry-After: 7"], ""),
        reply("503 Service Unavailable", &[], ""),
        reply("200 OK", &["Content-Type: application/json"], ME),
    ])
    .await;
    let clock = fake_clock();
    let policy = RetryPolicy {
        base_delay: Duration::from_millis(100),
        ..RetryPolicy::default()
    };
    let c = client(&base, clock.clone(), policy);
    let me = c.myself().await.unwrap();
    assert_eq!(me.account_id, "abc");
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 2, "{sleeps:?}");
    assert_eq!(sleeps[0], Duration::from_secs(7));
    // Second retry: base × 2 with jitter 0.7–1.3.
    assert!(
        sleeps[1] >= Duration::from_millis(140) && sleeps[1] <= Duration::from_millis(260),
        "{sleeps:?}"
    );
    let m = c.metrics();
    assert_eq!((m.requests, m.retries, m.rate_limited), (3, 2, 1));
    assert!(m.wait_ms >= 7140, "{m:?}");
    assert_eq!(c.sent(), 3);
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn rate_limit_reset_header_is_honoured() {
    let (base, _) = scripted(vec![
        reply(
            "429 Too Many Requests",
            &["X-RateLimit-Reset: 2026-06-05T06:00Z"],
            "",
        ),
        reply("200 OK", &[], ME),
    ])
    .await;
    let clock = fake_clock();
    let c = client(&base, clock.clone(), RetryPolicy::default());
    c.myself().await.unwrap();
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(60)]);
}

#[tokio::test]
async fn retry_after_beyond_the_budget_fails_at_once() {
    let (base, _) = scripted(vec![reply(
        "429 Too Many Requests",
        &["Retry-After: 600"],
        "",
    )])
    .await;
    let clock = fake_clock();
    let policy = RetryPolicy {
        max_total_wait: Duration::from_secs(60),
        ..RetryPolicy::default()
    };
    let c = client(&base, clock.clone(), policy);
    let e = c.myself().await.unwrap_err();
    match &e {
        JiraError::RateLimited {
            attempts,
            retry_after,
            ..
        } => {
            assert_eq!(*attempts, 1);
            assert_eq!(*retry_after, Some(Duration::from_secs(600)));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(clock.sleeps().is_empty());
    assert!(!e.to_string().contains("SECRET"));
}

#[tokio::test]
async fn attempts_are_capped() {
    let script = (0..3)
        .map(|_| reply("502 Bad Gateway", &[], "{\"errorMessages\":[\"upstream\"]}"))
        .collect();
    let (base, _) = scripted(script).await;
    let clock = fake_clock();
    let policy = RetryPolicy {
        max_attempts: 3,
        ..RetryPolicy::default()
    };
    let c = client(&base, clock.clone(), policy);
    let e = c.myself().await.unwrap_err();
    assert!(
        matches!(
            e,
            JiraError::Server {
                status: 502,
                attempts: 3,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("upstream"));
    assert_eq!(clock.sleeps().len(), 2);
}

#[tokio::test]
async fn a_write_is_not_resent_blindly_after_a_dropped_connection() {
    // POST dropped; the client re-checks membership (the account's groups, one
    // request) and finds the group there, so it does not POST again.
    let groups =
        r#"[{"name":"team","groupId":"g1","self":"http://x/rest/api/3/group?groupId=g1"}]"#;
    let (base, seen) = scripted(vec![None, reply("200 OK", &[], groups)]).await;
    let clock = fake_clock();
    let c = client(&base, clock, RetryPolicy::default());
    let out = c
        .add_group_member(&"g1".into(), &"u1".into())
        .await
        .unwrap();
    assert_eq!(out, crate::types::WriteOutcome::ConfirmedAfterRetry);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0].starts_with("POST /rest/api/3/group/user?groupId=g1"),
        "{seen:?}"
    );
    assert!(
        seen[1].starts_with("GET /rest/api/3/user/groups?accountId=u1"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn status_errors_are_typed() {
    let (base, _) = scripted(vec![
        reply("401 Unauthorized", &[], ""),
        reply("403 Forbidden", &[], r#"{"errorMessages":["Browse users and groups permission is required to view groups."],"errors":{}}"#),
        reply("404 Not Found", &[], r#"{"errorMessages":["Role with given id not found."],"errors":{}}"#),
        reply("200 OK", &[], "{\"accountId\": tru"),
    ])
    .await;
    let c = client(&base, fake_clock(), RetryPolicy::default());
    let e = c.myself().await.unwrap_err();
    assert!(
        e.to_string().contains("check the email and API token"),
        "{e}"
    );
    let e = c.groups().await.unwrap_err();
    assert!(matches!(e, JiraError::Forbidden { .. }));
    assert!(e.to_string().contains("Browse users and groups"), "{e}");
    let e = c.role("MKY", "999").await.unwrap_err();
    assert!(e.to_string().contains("role 999 of project 'MKY'"), "{e}");
    let e = c.myself().await.unwrap_err();
    assert!(
        matches!(
            e,
            JiraError::Decode {
                endpoint: "GET /rest/api/3/myself",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("{\\\"accountId\\\": tru"), "{e}");
}
