//! A fault-injecting HTTP/1.1 proxy on a loopback port, in front of a real KMS endpoint
//! (LocalStack).
//!
//! Each request the proxy reads is either forwarded to the upstream server and its answer
//! relayed back, or — drawn from a seeded random generator at the rates of the current
//! [`FaultPlan`] — answered by the proxy itself with a fault, as AWS would:
//!
//! - [`Fault::Throttle`]: HTTP 400, `x-amzn-ErrorType: ThrottlingException` and the AWS JSON
//!   1.1 body `{"__type":"ThrottlingException","message":"Rate exceeded"}`;
//! - [`Fault::InternalError`]: HTTP 500, `KMSInternalException`;
//! - [`Fault::Unavailable`]: HTTP 503, `ServiceUnavailableException`;
//! - [`Fault::Reset`]: the connection is reset (TCP RST) without an answer;
//! - [`Fault::Hang`]: the connection is held open and never answered;
//! - [`Fault::Slow`]: the request is forwarded after a delay;
//! - [`Fault::LoseAnswer`]: the request is forwarded and done, but its answer is lost (the
//!   connection is reset instead).
//!
//! Before any random draw, two deterministic rules apply: answers scripted for an operation
//! ([`FaultProxy::script`], each a [`Canned`] answer given once, in order) and a deny list
//! ([`FaultProxy::deny_all_but`]: every other operation gets `AccessDeniedException`, as KMS
//! answers a caller whose IAM policy lacks the permission). Both are counted as
//! [`Outcome::Scripted`] and [`Outcome::Denied`] and never reach the upstream server.
//!
//! Except for [`Fault::Slow`] and [`Fault::LoseAnswer`], injected faults never reach the
//! upstream server: LocalStack did not see the request, though the client cannot know that
//! after a 5xx, a reset or silence. Every outcome is counted
//! per kind and per KMS operation (the `X-Amz-Target` header, `TrentService.Sign`…), and the
//! plan can be changed while the proxy runs.
//!
//! The proxy runs on its own OS threads (one per connection), independent of the test's
//! async runtime; it stops when dropped. It understands what the AWS SDK sends: a request
//! head and a `Content-Length` body (a chunked request is refused with HTTP 501, counted as
//! [`Outcome::Unsupported`]); answers are relayed with their `Content-Length` or chunked
//! framing.

mod canned;
mod connection;
mod http;
mod plan;
mod stats;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

pub use self::canned::Canned;
use self::connection::serve;
pub use self::plan::{Fault, FaultPlan, Outcome};
use self::plan::{XorShift, target};
pub use self::stats::ProxyStats;

struct Shared {
    upstream: SocketAddr,
    plan: Mutex<FaultPlan>,
    scripts: Mutex<BTreeMap<String, std::collections::VecDeque<Canned>>>,
    allowed: Mutex<Option<Vec<String>>>,
    last_bodies: Mutex<BTreeMap<String, Vec<u8>>>,
    rng: Mutex<XorShift>,
    counts: Mutex<BTreeMap<(String, Outcome), u64>>,
    stop: AtomicBool,
    request_ids: AtomicU64,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking connection thread must not take the proxy down with it.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn count(&self, operation: &str, outcome: Outcome) {
        *lock(&self.counts)
            .entry((operation.to_string(), outcome))
            .or_insert(0) += 1;
    }

    fn draw(&self, operation: &str) -> (Option<Fault>, Duration) {
        let u = lock(&self.rng).next_f64();
        let plan = lock(&self.plan);
        (plan.choose(operation, u), plan.slow_delay)
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// The deterministic answer for a request of `operation`, if a rule gives one.
    fn rule(&self, operation: &str) -> Option<(Outcome, Canned)> {
        if let Some(answer) = lock(&self.scripts)
            .get_mut(operation)
            .and_then(|q| q.pop_front())
        {
            return Some((Outcome::Scripted, answer));
        }
        let allowed = lock(&self.allowed);
        let allowed = allowed.as_ref()?;
        if allowed.iter().any(|o| o == operation) {
            return None;
        }
        let action = operation.strip_prefix("TrentService.").unwrap_or(operation);
        Some((
            Outcome::Denied,
            Canned::error(
                400,
                "AccessDeniedException",
                &format!(
                    "User: arn:aws:iam::111122223333:user/least-privilege is not authorized \
                     to perform: kms:{action} because no identity-based policy allows the \
                     kms:{action} action"
                ),
            ),
        ))
    }
}

/// A running fault proxy; stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.shared.upstream)
            .field("plan", &*lock(&self.shared.plan))
            .finish()
    }
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1:0` in front of `upstream` (`http://HOST:PORT` or
    /// `HOST:PORT`), drawing faults with a generator seeded by `seed`. Panics when it cannot
    /// listen or the upstream address is not one.
    pub fn start(upstream: &str, seed: u64, plan: FaultPlan) -> FaultProxy {
        let authority = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let upstream: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(&authority)
            .ok()
            .and_then(|mut a| a.next())
            .unwrap_or_else(|| {
                panic!("fault proxy: {authority:?} is not a HOST:PORT to forward to")
            });
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|e| panic!("fault proxy: cannot listen on 127.0.0.1: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("fault proxy: no local address: {e}"));
        let shared = Arc::new(Shared {
            upstream,
            plan: Mutex::new(plan),
            scripts: Mutex::new(BTreeMap::new()),
            allowed: Mutex::new(None),
            last_bodies: Mutex::new(BTreeMap::new()),
            rng: Mutex::new(XorShift::new(seed)),
            counts: Mutex::new(BTreeMap::new()),
            stop: AtomicBool::new(false),
            request_ids: AtomicU64::new(0),
        });
        let s = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name(format!("fault-proxy-{}", addr.port()))
            .spawn(move || {
                for stream in listener.incoming() {
                    if s.stopped() {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let s = s.clone();
                    let spawned = std::thread::Builder::new()
                        .name("fault-proxy-conn".into())
                        .spawn(move || serve(stream, &s));
                    if let Err(e) = spawned {
                        eprintln!("fault proxy: cannot start a connection thread: {e}");
                    }
                }
            })
            .unwrap_or_else(|e| panic!("fault proxy: cannot start its thread: {e}"));
        FaultProxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:PORT`, the endpoint to give the client.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Replaces the plan; requests read from now on follow it.
    pub fn set_plan(&self, plan: FaultPlan) {
        *lock(&self.shared.plan) = plan;
    }

    /// The current plan.
    pub fn plan(&self) -> FaultPlan {
        lock(&self.shared.plan).clone()
    }

    /// A snapshot of the counts.
    pub fn stats(&self) -> ProxyStats {
        ProxyStats {
            counts: lock(&self.shared.counts).clone(),
        }
    }

    /// Forgets the counts.
    pub fn reset_stats(&self) {
        lock(&self.shared.counts).clear();
    }

    /// Queues answers for the next requests of `operation` (`Sign` or `TrentService.Sign`):
    /// each is given once, in order, instead of forwarding; then requests are forwarded again.
    pub fn script(&self, operation: &str, answers: impl IntoIterator<Item = Canned>) {
        lock(&self.shared.scripts)
            .entry(target(operation))
            .or_default()
            .extend(answers);
    }

    /// Refuses every operation but these with `AccessDeniedException` (HTTP 400), as KMS
    /// refuses a caller whose policy grants only these permissions.
    pub fn deny_all_but<I, S>(&self, operations: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        *lock(&self.shared.allowed) =
            Some(operations.into_iter().map(|s| target(s.as_ref())).collect());
    }

    /// The body of the last request of `operation` the proxy read (whatever its outcome), as
    /// text: to check what the client sent.
    pub fn last_body(&self, operation: &str) -> Option<String> {
        lock(&self.shared.last_bodies)
            .get(&target(operation))
            .map(|b| String::from_utf8_lossy(b).to_string())
    }

    /// Lifts [`FaultProxy::deny_all_but`] and drops every scripted answer not given yet.
    pub fn clear_rules(&self) {
        *lock(&self.shared.allowed) = None;
        lock(&self.shared.scripts).clear();
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}
