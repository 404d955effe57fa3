//! Shared test helpers: start a simulator, talk to it over real HTTP.
#![allow(dead_code)]

use grantledger_jira_sim::{Credential, Faults, Org, Preset, SimServer};
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub struct Sim {
    pub server: SimServer,
    pub http: reqwest::Client,
    pub admin: Credential,
}

pub const SEED: u64 = 7;

/// A simulator over a generated org with the admin credential plus a
/// credential for `extra` (an active non-admin user) if asked.
pub async fn start(preset: Preset) -> Sim {
    start_org(Org::generate(preset, SEED), Vec::new()).await
}

pub async fn start_org(org: Org, extra: Vec<Credential>) -> Sim {
    let admin = Credential::admin_of(&org);
    let mut creds = vec![admin.clone()];
    creds.extend(extra);
    let server = SimServer::start(org, creds, Faults::default())
        .await
        .expect("start simulator");
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    Sim {
        server,
        http,
        admin,
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

impl Sim {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.base_url(), path)
    }

    pub async fn send_as(
        &self,
        cred: Option<&Credential>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.http.request(method, self.url(path));
        if let Some(c) = cred {
            req = req.basic_auth(&c.email, Some(&c.token));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent and answered");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        Reply {
            status,
            headers,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send_as(Some(&self.admin.clone()), Method::GET, path, None)
            .await
    }

    pub async fn get_ok(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.text);
        r.json()
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.send_as(Some(&self.admin.clone()), method, path, body)
            .await
    }
}
