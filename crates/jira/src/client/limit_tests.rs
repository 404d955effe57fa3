//! Limits: body size, name lengths, the connection budget, strict role bodies.

use super::*;

use super::fakes::*;
use crate::config::RetryPolicy;

#[tokio::test]
async fn a_body_past_the_limit_is_refused_not_held() {
    let big = format!("{{\"accountId\":\"{}\"}}", "x".repeat(5000));
    let (base, _) = scripted(vec![reply("200 OK", &[], &big)]).await;
    let mut c =
        JiraConfig::for_base_url(&base, "a@b.c", crate::secret::ApiToken::new("t")).unwrap();
    c.limits.max_body_bytes = 1000;
    let c = JiraClient::with_clock(c, fake_clock()).unwrap();
    let e = c.myself().await.unwrap_err();
    assert!(matches!(e, JiraError::Limit { limit: 1000, .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("GET /rest/api/3/myself: the response body exceeds the limit of 1000 bytes"),
        "{e}"
    );
}

#[tokio::test]
async fn a_role_body_without_actors_is_not_a_role_without_actors() {
    let (base, _) = scripted(vec![
        reply(
            "200 OK",
            &[],
            r#"{"errorMessages":["Site temporarily unavailable"]}"#,
        ),
        reply("200 OK", &[], "{}"),
        reply(
            "200 OK",
            &[],
            r#"{"id":10002,"name":"Developers","actors":[]}"#,
        ),
    ])
    .await;
    let c = client(&base, fake_clock(), RetryPolicy::default());
    let e = c.role("P", "10002").await.unwrap_err();
    assert!(
        e.to_string()
            .contains("error body: Site temporarily unavailable"),
        "{e}"
    );
    let e = c.role("P", "10002").await.unwrap_err();
    assert!(e.to_string().contains("missing field `actors`"), "{e}");
    assert!(c.role("P", "10002").await.unwrap().actors.is_empty());
}

#[tokio::test]
async fn an_over_long_name_fails_the_listing() {
    let page = format!(
        r#"{{"startAt":0,"maxResults":50,"total":1,"isLast":true,"values":[{{"groupId":"g1","name":"{}"}}]}}"#,
        "n".repeat(300)
    );
    let (base, _) = scripted(vec![reply("200 OK", &[], &page)]).await;
    let mut c =
        JiraConfig::for_base_url(&base, "a@b.c", crate::secret::ApiToken::new("t")).unwrap();
    c.limits.max_name_len = 100;
    let c = JiraClient::with_clock(c, fake_clock()).unwrap();
    let e = c.groups().await.unwrap_err();
    assert!(
        e.to_string().contains(
            "GET /rest/api/3/group/bulk: a name of 300 bytes exceeds the limit of 100 bytes"
        ),
        "{e}"
    );
}

#[tokio::test]
async fn an_unreachable_jira_ends_within_the_budget_and_is_not_rate_limit_waiting() {
    // A port nobody listens on: every connection is refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let clock = fake_clock();
    let mut cfg =
        JiraConfig::for_base_url(&base, "a@b.c", crate::secret::ApiToken::new("t")).unwrap();
    cfg.retry = RetryPolicy {
        max_attempts: 4,
        max_total_wait: Duration::from_secs(600),
        base_delay: Duration::from_secs(2),
        max_delay: Duration::from_secs(8),
    };
    cfg.unreachable_after = Duration::from_secs(30);
    let c = JiraClient::with_clock(cfg, clock.clone()).unwrap();
    // Each call gives up after its attempts; the outage goes on across calls
    // until the budget ends it.
    let mut errors = Vec::new();
    for _ in 0..20 {
        let e = c.myself().await.unwrap_err();
        let done = matches!(e, JiraError::Unreachable { .. });
        errors.push(e);
        if done {
            break;
        }
    }
    let last = errors.last().unwrap();
    assert!(matches!(last, JiraError::Unreachable { .. }), "{errors:?}");
    assert!(
        last.to_string().contains("Jira could not be reached"),
        "{last}"
    );
    assert!(errors.len() > 1, "{errors:?}");
    let slept: Duration = clock.sleeps().iter().sum();
    assert!(slept <= Duration::from_secs(30), "{slept:?}");
    let m = c.metrics();
    assert_eq!(m.wait_ms, 0, "{m:?}");
    // Counted per sleep in whole milliseconds.
    assert!(
        m.connection_wait_ms.abs_diff(slept.as_millis() as u64) <= 10,
        "{m:?}"
    );
    assert_eq!(m.connection_failures, m.requests, "{m:?}");
}
