//! A scripted loopback server and a fake clock, for transport tests.

use super::*;

use crate::config::RetryPolicy;
use crate::secret::ApiToken;
use std::sync::Mutex as StdMutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The fake clock of the transport tests: sleeps return at once, move time
/// forward and are recorded.
pub(crate) type FakeClock = grantledger_clock::ManualClock;

/// A [`FakeClock`] at 2026-06-05T05:59:00Z (a minute before the reset the
/// rate-limit tests send).
pub(crate) fn fake_clock() -> Arc<FakeClock> {
    let at = chrono::DateTime::parse_from_rfc3339("2026-06-05T05:59:00Z")
        .unwrap()
        .timestamp_micros();
    Arc::new(grantledger_clock::ManualClock::auto_advancing(
        grantledger_model::Timestamp::from_micros(at),
    ))
}

/// Serves one scripted response per connection (`None` = close without
/// answering), and records each request's first line.
pub(crate) async fn scripted(script: Vec<Option<String>>) -> (String, Arc<StdMutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(StdMutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        for reply in script {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let text = String::from_utf8_lossy(&buf).to_string();
            log.lock()
                .unwrap()
                .push(text.lines().next().unwrap_or("").to_owned());
            if let Some(r) = reply {
                let _ = sock.write_all(r.as_bytes()).await;
            }
            let _ = sock.shutdown().await;
        }
    });
    (format!("http://{addr}"), seen)
}

pub(crate) fn reply(status: &str, headers: &[&str], body: &str) -> Option<String> {
    let mut s = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        s.push_str(h);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s.push_str(body);
    Some(s)
}

pub(crate) const ME: &str =
    r#"{"accountId":"abc","accountType":"atlassian","active":true,"displayName":"A"}"#;

pub(crate) fn client(base: &str, clock: Arc<FakeClock>, retry: RetryPolicy) -> JiraClient {
    let mut c = JiraConfig::for_base_url(base, "a@b.c", ApiToken::new("SECRET-tok")).unwrap();
    c.retry = retry;
    c.timeout = Duration::from_secs(5);
    JiraClient::with_clock(c, clock).unwrap()
}
