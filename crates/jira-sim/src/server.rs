//! The HTTP server: listener, routes, middleware and lifecycle.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use grantledger_clock::Clock;
use grantledger_model::Timestamp;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::faults::{Fault, Faults, PagingFault, SimStats};
use crate::handlers::{self, ApiError};
use crate::org::Org;
use crate::paging_faults;
use crate::state::{Index, Shared};
use crate::Credential;

/// One accepted connection's handle: where it comes from, and a switch that
/// makes every later write on it fail, which makes hyper drop it unanswered.
#[derive(Debug, Clone)]
pub(crate) struct ConnHandle {
    #[allow(dead_code)]
    remote: SocketAddr,
    kill: Arc<AtomicBool>,
}

/// A TCP stream that can be killed from a handler.
struct KillableStream {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

fn killed() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection dropped by fault injection",
    )
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

struct SimListener {
    inner: TcpListener,
}

impl axum::serve::Listener for SimListener {
    type Io = KillableStream;
    type Addr = ConnHandle;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, remote)) => {
                    let _ = stream.set_nodelay(true);
                    let kill = Arc::new(AtomicBool::new(false));
                    let handle = ConnHandle {
                        remote,
                        kill: kill.clone(),
                    };
                    return (
                        KillableStream {
                            inner: stream,
                            kill,
                        },
                        handle,
                    );
                }
                Err(e) => {
                    tracing::debug!(error = %e, "jira-sim: accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(ConnHandle {
            remote: self.inner.local_addr()?,
            kill: Arc::new(AtomicBool::new(false)),
        })
    }
}

impl Connected<axum::serve::IncomingStream<'_, SimListener>> for ConnHandle {
    fn connect_info(stream: axum::serve::IncomingStream<'_, SimListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A running simulator on 127.0.0.1.
pub struct SimServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<io::Result<()>>,
}

impl std::fmt::Debug for SimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SimServer {
    /// Serves `org` on `127.0.0.1` at a free port.
    pub async fn start(
        org: Org,
        credentials: Vec<Credential>,
        faults: Faults,
    ) -> io::Result<SimServer> {
        Self::start_on(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            org,
            credentials,
            faults,
        )
        .await
    }

    /// Serves `org` at `addr` (e.g. a fixed port for the CLI's `sim` command).
    /// The org is validated first; an inconsistent org is refused with
    /// `InvalidInput`.
    pub async fn start_on(
        addr: SocketAddr,
        org: Org,
        credentials: Vec<Credential>,
        faults: Faults,
    ) -> io::Result<SimServer> {
        org.validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(
            format!("http://{addr}"),
            org,
            credentials,
            faults,
        ));
        let app = router(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(
                SimListener { inner: listener },
                app.into_make_service_with_connect_info::<ConnHandle>(),
            )
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
        });
        Ok(SimServer {
            addr,
            shared,
            shutdown: Some(tx),
            task,
        })
    }

    /// `http://127.0.0.1:PORT`, the base URL to give a client.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A snapshot of the current state, writes included.
    pub fn org(&self) -> Org {
        self.shared.read().org.clone()
    }

    /// Sets the clock that stamps audit records and rate-limit reset headers
    /// (the system clock by default): one manual clock can drive a whole test.
    pub fn set_clock(&self, clock: Arc<dyn Clock>) {
        self.shared.write().clock = clock;
    }

    /// Replaces the fault settings; applies to the next request. The request
    /// sequence that `*_every` and `rate_limit_ratio` count goes on from
    /// server start (it is not restarted here, nor by [`Self::reset_stats`]).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.set_faults(faults);
    }

    /// Request counts so far.
    pub fn stats(&self) -> SimStats {
        self.shared.stats().clone()
    }

    /// Zeroes the request counts (the fault sequence keeps counting).
    pub fn reset_stats(&self) {
        *self.shared.stats() = SimStats::default();
    }

    /// Accepts `credential` from the next request on: a test or a fixture
    /// acts as a named admin through the API with it, and the audit records
    /// of its writes name that admin as their author.
    pub fn add_credential(&self, credential: Credential) {
        self.shared.add_credential(credential);
    }

    /// Deactivates (`active: false`) or reactivates an account as Jira Cloud
    /// records it: a `User updated` audit record (`Active / Inactive`) by
    /// `author`, or without an author when `None` (a change made in
    /// admin.atlassian.com or by the system, as such changes appear in Jira's
    /// log). Returns false, recording nothing, for an unknown account or one
    /// already in that state.
    pub fn set_user_active(&self, account_id: &str, active: bool, author: Option<&str>) -> bool {
        let mut world = self.shared.write();
        let Some(&i) = world.index.user_by_id.get(account_id) else {
            return false;
        };
        if world.org.users[i].active == active {
            return false;
        }
        world.org.users[i].active = active;
        world.index = Index::build(&world.org);
        crate::handlers::record_user_activity(&mut world, account_id, active, author);
        true
    }

    /// Changes the state directly (deactivate a user, rename a group, ...);
    /// the lookup tables are rebuilt afterwards. Writes no audit record: a
    /// change Jira's audit log would not show.
    pub fn mutate(&self, f: impl FnOnce(&mut Org)) {
        let mut world = self.shared.write();
        f(&mut world.org);
        world.index = Index::build(&world.org);
    }

    /// Serves until the server task ends (it does not end on its own; use
    /// this from a CLI that is stopped by a signal).
    pub async fn wait(mut self) -> io::Result<()> {
        let _keep = self.shutdown.take();
        match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => Err(io::Error::other(e)),
        }
    }

    /// Stops accepting, lets in-flight requests finish (up to 5 s), then stops.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        if self.shutdown.is_some() {
            self.task.abort();
        }
    }
}

/// Serves `org` at `addr` until the process ends: what `grantledger sim` runs.
pub async fn serve_forever(
    addr: SocketAddr,
    org: Org,
    credentials: Vec<Credential>,
    faults: Faults,
) -> io::Result<()> {
    let server = SimServer::start_on(addr, org, credentials, faults).await?;
    tracing::info!(base_url = %server.base_url(), "jira-sim serving");
    server.wait().await
}

fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/rest/api/3/myself", get(handlers::myself))
        .route("/rest/api/3/users/search", get(handlers::users_search))
        .route("/rest/api/3/user", get(handlers::user))
        .route("/rest/api/3/user/groups", get(handlers::user_groups))
        .route("/rest/api/3/group/bulk", get(handlers::group_bulk))
        .route("/rest/api/3/group/member", get(handlers::group_member))
        .route(
            "/rest/api/3/group/user",
            post(handlers::group_user_add).delete(handlers::group_user_remove),
        )
        .route("/rest/api/3/project/search", get(handlers::project_search))
        .route(
            "/rest/api/3/project/{project}/role",
            get(handlers::project_roles),
        )
        .route(
            "/rest/api/3/project/{project}/role/{id}",
            get(handlers::project_role)
                .post(handlers::role_actor_add)
                .delete(handlers::role_actor_remove),
        )
        .route(
            "/rest/api/3/applicationrole",
            get(handlers::application_roles),
        )
        .route("/rest/api/3/auditing/record", get(handlers::audit_records))
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            rest_middleware,
        ));
    let edge = Router::new()
        .route("/_edge/tenant_info", get(handlers::tenant_info))
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            edge_middleware,
        ));
    let control = Router::new()
        .route("/__sim/stats", get(sim_stats))
        .route("/__sim/stats/reset", post(sim_stats_reset));
    api.merge(edge)
        .merge(control)
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(shared)
}

async fn sim_stats(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.stats().clone()).into_response()
}

async fn sim_stats_reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    *shared.stats() = SimStats::default();
    StatusCode::NO_CONTENT
}

fn op_name(req: &Request) -> String {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().replace("{project}", "{projectIdOrKey}"))
        .unwrap_or_else(|| req.uri().path().to_owned());
    format!("{} {}", req.method(), path)
}

async fn edge_middleware(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    shared.count(op_name(&req));
    next.run(req).await
}

/// Counting, fault injection and Basic auth for every `/rest` operation.
async fn rest_middleware(
    State(shared): State<Arc<Shared>>,
    mut req: Request,
    next: Next,
) -> Response {
    let op = op_name(&req);
    let conn = req.extensions().get::<ConnectInfo<ConnHandle>>().cloned();
    let _in_flight = shared.enter();
    shared.count(op.clone());
    let seq = shared.next_seq();
    let faults = shared.faults();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    let fault = faults.pick(seq);
    if let Some(f) = fault {
        shared.count_fault(f);
    }
    match fault {
        Some(Fault::RateLimit) => {
            let now = shared.read().clock.now();
            return rate_limited(faults.retry_after_secs, now);
        }
        Some(Fault::ServerError) => return service_unavailable(faults.retry_after_secs),
        Some(Fault::Slow) => tokio::time::sleep(faults.slow_by).await,
        _ => {}
    }

    let caller = handlers::caller(
        &shared,
        req.headers().get(axum::http::header::AUTHORIZATION),
    );
    let response = match caller {
        None if op.ends_with("/auditing/record") => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "You are not authenticated. Authentication required to perform this operation.",
        )
        .into_response(),
        None => ApiError::bare(StatusCode::UNAUTHORIZED).into_response(),
        Some(caller) => {
            let account_id = caller.0.clone();
            req.extensions_mut().insert(caller);
            let paging = (faults.paging != PagingFault::None
                && if faults.paging_ops.is_empty() {
                    paging_faults::LIST_OPS.contains(&op.as_str())
                } else {
                    faults.paging_ops.contains(&op)
                })
            .then_some(faults.paging);
            let asked = paging.map(|f| paging_faults::before(f, faults.page_cap, &mut req));
            let mut resp = next.run(req).await;
            if let (Some(f), Some(asked)) = (paging, asked) {
                resp = paging_faults::after(f, &op, &asked, &shared.base_url, seq, resp).await;
            }
            if let Ok(v) = HeaderValue::from_str(&account_id) {
                resp.headers_mut().insert("x-aaccountid", v);
            }
            if !op.starts_with("GET ") && resp.status().is_success() {
                shared.count_change(op.clone());
            }
            resp
        }
    };

    match fault {
        Some(Fault::Drop) => {
            // The request was carried out; now the answer is lost.
            if let Some(ConnectInfo(conn)) = conn {
                conn.kill.store(true, Ordering::SeqCst);
            }
            response
        }
        Some(Fault::Malformed) => malformed(response).await,
        _ => response,
    }
}

fn rate_limited(retry_after: u64, now: Timestamp) -> Response {
    let mut resp = StatusCode::TOO_MANY_REQUESTS.into_response();
    let h = resp.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from_static("100"));
    h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
    h.insert(
        "ratelimit-reason",
        HeaderValue::from_static("jira-burst-based"),
    );
    if retry_after > 0 {
        h.insert("retry-after", HeaderValue::from(retry_after));
        let reset =
            grantledger_clock::utc(now) + chrono::Duration::seconds(retry_after as i64 + 59);
        if let Ok(v) = HeaderValue::from_str(&reset.format("%Y-%m-%dT%H:%MZ").to_string()) {
            h.insert("x-ratelimit-reset", v);
        }
    }
    resp
}

fn service_unavailable(retry_after: u64) -> Response {
    let mut resp = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "Service temporarily unavailable.",
    )
    .into_response();
    if retry_after > 0 {
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from(retry_after));
    }
    resp
}

async fn malformed(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let cut = if bytes.len() < 2 {
        b"{\"values\": [".to_vec()
    } else {
        bytes[..bytes.len() / 2].to_vec()
    };
    parts.status = StatusCode::OK;
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    Response::from_parts(parts, Body::from(cut))
}
