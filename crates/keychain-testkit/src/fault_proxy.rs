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

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod canned;
pub use canned::Canned;

/// Longest request or response head the proxy accepts.
const MAX_HEAD: usize = 64 * 1024;
/// Longest body the proxy reads into memory.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// How long a held ([`Fault::Hang`]) connection is kept at most.
const MAX_HANG: Duration = Duration::from_secs(120);
/// How often idle connection threads look at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// A fault the proxy answers with instead of forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// HTTP 400 `ThrottlingException` ("Rate exceeded").
    Throttle,
    /// HTTP 500 `KMSInternalException`.
    InternalError,
    /// HTTP 503 `ServiceUnavailableException`.
    Unavailable,
    /// The connection is reset (RST) after the request was read, without an answer.
    Reset,
    /// The connection is held and never answered.
    Hang,
    /// The request is forwarded after [`FaultPlan::slow_delay`].
    Slow,
    /// The request is forwarded and carried out, then the connection is reset instead of
    /// relaying the answer (a response lost on the way back).
    LoseAnswer,
}

impl Fault {
    /// Every fault, in the order the plan's rates are drawn.
    pub const ALL: [Fault; 7] = [
        Fault::Throttle,
        Fault::InternalError,
        Fault::Unavailable,
        Fault::Reset,
        Fault::Hang,
        Fault::Slow,
        Fault::LoseAnswer,
    ];

    /// Whether the fault leaves the outcome of the request unknown to the client (it cannot
    /// tell whether the server carried it out): everything but throttling and slowness.
    pub fn outcome_unknown(self) -> bool {
        !matches!(self, Fault::Throttle | Fault::Slow)
    }
}

/// What happened to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Forwarded at once and the answer relayed.
    Forwarded,
    /// Answered (or dropped) by the proxy with this fault; [`Fault::Slow`] and
    /// [`Fault::LoseAnswer`] requests were also forwarded.
    Injected(Fault),
    /// Forwarding failed (upstream unreachable or broke off); answered with HTTP 502.
    UpstreamError,
    /// A request the proxy cannot parse or relay (chunked request body…); HTTP 501.
    Unsupported,
    /// Answered with the next [`Canned`] answer scripted for its operation.
    Scripted,
    /// Refused with `AccessDeniedException` by [`FaultProxy::deny_all_but`].
    Denied,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Forwarded => f.write_str("forwarded"),
            Outcome::Injected(fault) => write!(f, "{fault:?}"),
            Outcome::UpstreamError => f.write_str("upstream-error"),
            Outcome::Unsupported => f.write_str("unsupported"),
            Outcome::Scripted => f.write_str("scripted"),
            Outcome::Denied => f.write_str("denied"),
        }
    }
}

/// The rates (0.0 to 1.0) at which faults are injected. Rates are drawn in the order of
/// [`Fault::ALL`] from one uniform number, so their sum should not exceed 1.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    /// Rate of [`Fault::Throttle`].
    pub throttle: f64,
    /// Rate of [`Fault::InternalError`].
    pub internal_error: f64,
    /// Rate of [`Fault::Unavailable`].
    pub unavailable: f64,
    /// Rate of [`Fault::Reset`].
    pub reset: f64,
    /// Rate of [`Fault::Hang`].
    pub hang: f64,
    /// Rate of [`Fault::Slow`].
    pub slow: f64,
    /// Rate of [`Fault::LoseAnswer`].
    pub lose_answer: f64,
    /// The delay of a [`Fault::Slow`] request.
    pub slow_delay: Duration,
    /// When set, only these operations (`TrentService.Sign`…) get faults.
    pub only: Option<Vec<String>>,
    /// Operations that never get a fault whose outcome the client cannot know
    /// ([`Fault::outcome_unknown`]); they can still be throttled or slowed.
    pub spared: Vec<String>,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self::none()
    }
}

impl FaultPlan {
    /// No faults: every request is forwarded.
    pub fn none() -> Self {
        FaultPlan {
            throttle: 0.0,
            internal_error: 0.0,
            unavailable: 0.0,
            reset: 0.0,
            hang: 0.0,
            slow: 0.0,
            lose_answer: 0.0,
            slow_delay: Duration::from_millis(200),
            only: None,
            spared: Vec::new(),
        }
    }

    /// Sets the throttling rate.
    pub fn throttle(mut self, rate: f64) -> Self {
        self.throttle = rate;
        self
    }

    /// Sets the HTTP 500 and HTTP 503 rates.
    pub fn server_errors(mut self, internal_error: f64, unavailable: f64) -> Self {
        self.internal_error = internal_error;
        self.unavailable = unavailable;
        self
    }

    /// Sets the connection reset rate.
    pub fn reset(mut self, rate: f64) -> Self {
        self.reset = rate;
        self
    }

    /// Sets the rate of requests never answered.
    pub fn hang(mut self, rate: f64) -> Self {
        self.hang = rate;
        self
    }

    /// Sets the rate and delay of slow answers.
    pub fn slow(mut self, rate: f64, delay: Duration) -> Self {
        self.slow = rate;
        self.slow_delay = delay;
        self
    }

    /// Sets the rate of requests carried out whose answer is lost.
    pub fn lose_answer(mut self, rate: f64) -> Self {
        self.lose_answer = rate;
        self
    }

    /// Restricts faults to these operations (`TrentService.Sign`, or just `Sign`).
    pub fn only<I, S>(mut self, operations: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.only = Some(operations.into_iter().map(|s| target(s.as_ref())).collect());
        self
    }

    /// Spares these operations every fault of unknown outcome (see [`FaultPlan::spared`]).
    pub fn spare<I, S>(mut self, operations: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.spared
            .extend(operations.into_iter().map(|s| target(s.as_ref())));
        self
    }

    fn rate(&self, fault: Fault) -> f64 {
        match fault {
            Fault::Throttle => self.throttle,
            Fault::InternalError => self.internal_error,
            Fault::Unavailable => self.unavailable,
            Fault::Reset => self.reset,
            Fault::Hang => self.hang,
            Fault::Slow => self.slow,
            Fault::LoseAnswer => self.lose_answer,
        }
    }

    /// The fault for a request of `operation` given a uniform draw `u` in [0, 1).
    fn choose(&self, operation: &str, u: f64) -> Option<Fault> {
        if let Some(only) = &self.only
            && !only.iter().any(|o| o == operation)
        {
            return None;
        }
        let spared = self.spared.iter().any(|o| o == operation);
        let mut edge = 0.0;
        for fault in Fault::ALL {
            edge += self.rate(fault).clamp(0.0, 1.0);
            if u < edge {
                return (!(spared && fault.outcome_unknown())).then_some(fault);
            }
        }
        None
    }
}

/// `TrentService.NAME` for `NAME`, unchanged when already qualified.
fn target(operation: &str) -> String {
    if operation.contains('.') {
        operation.to_string()
    } else {
        format!("TrentService.{operation}")
    }
}

/// A tiny deterministic generator (xorshift64*), enough to draw faults.
#[derive(Debug)]
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        // Never zero, and different seeds spread apart.
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The counts of a proxy: requests per (operation, outcome).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyStats {
    counts: BTreeMap<(String, Outcome), u64>,
}

impl ProxyStats {
    /// Requests of `operation` (`Sign` or `TrentService.Sign`) with `outcome`.
    pub fn of(&self, operation: &str, outcome: Outcome) -> u64 {
        self.counts
            .get(&(target(operation), outcome))
            .copied()
            .unwrap_or(0)
    }

    /// Every request of `operation`, whatever happened to it.
    pub fn requests_of(&self, operation: &str) -> u64 {
        let operation = target(operation);
        self.counts
            .iter()
            .filter(|((op, _), _)| *op == operation)
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests with `outcome`, all operations together.
    pub fn total(&self, outcome: Outcome) -> u64 {
        self.counts
            .iter()
            .filter(|((_, o), _)| *o == outcome)
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests that got `fault`, all operations together.
    pub fn injected(&self, fault: Fault) -> u64 {
        self.total(Outcome::Injected(fault))
    }

    /// Every injected fault (slow answers included).
    pub fn injected_total(&self) -> u64 {
        Fault::ALL.iter().map(|f| self.injected(*f)).sum()
    }

    /// Every request the proxy read.
    pub fn requests(&self) -> u64 {
        self.counts.values().sum()
    }

    /// The operations seen.
    pub fn operations(&self) -> Vec<String> {
        let mut ops: Vec<String> = self.counts.keys().map(|(op, _)| op.clone()).collect();
        ops.dedup();
        ops
    }
}

impl fmt::Display for ProxyStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} requests:", self.requests())?;
        let mut totals = vec![format!("forwarded {}", self.total(Outcome::Forwarded))];
        for fault in Fault::ALL {
            totals.push(format!("{fault:?} {}", self.injected(fault)));
        }
        totals.push(format!(
            "upstream-error {}",
            self.total(Outcome::UpstreamError)
        ));
        writeln!(f, "  total: {}", totals.join(", "))?;
        for op in self.operations() {
            let parts: Vec<String> = self
                .counts
                .iter()
                .filter(|((o, _), _)| *o == op)
                .map(|((_, outcome), n)| format!("{outcome} {n}"))
                .collect();
            writeln!(f, "  {op}: {}", parts.join(", "))?;
        }
        Ok(())
    }
}

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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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

/// One HTTP message head: the start line and the header lines, raw.
struct Head {
    raw: Vec<u8>,
    start: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn content_length(&self) -> Option<usize> {
        self.header("content-length")
            .and_then(|v| v.trim().parse().ok())
    }

    fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }
}

/// Reads a message head. `Ok(None)` at a clean end of stream before any byte.
fn read_head(r: &mut impl BufRead) -> std::io::Result<Option<Head>> {
    let mut raw = Vec::new();
    loop {
        let before = raw.len();
        let n = r.read_until(b'\n', &mut raw)?;
        if n == 0 {
            if raw.is_empty() {
                return Ok(None);
            }
            return Err(std::io::Error::new(
                ErrorKind::UnexpectedEof,
                "end of stream inside a message head",
            ));
        }
        let line = &raw[before..];
        if (line == b"\r\n" || line == b"\n") && before > 0 {
            break;
        }
        if raw.len() > MAX_HEAD {
            return Err(std::io::Error::new(
                ErrorKind::InvalidData,
                "message head too long",
            ));
        }
    }
    let text = String::from_utf8_lossy(&raw).to_string();
    let mut lines = text.lines();
    let start = lines.next().unwrap_or_default().to_string();
    let headers = lines
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    Ok(Some(Head {
        raw,
        start,
        headers,
    }))
}

fn read_body(r: &mut impl Read, len: usize) -> std::io::Result<Vec<u8>> {
    if len > MAX_BODY {
        return Err(std::io::Error::new(
            ErrorKind::InvalidData,
            "body too large",
        ));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok(body)
}

/// Reads a chunked body, returning its raw bytes (chunk framing and trailers included).
fn read_chunked_raw(r: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    loop {
        let start = raw.len();
        if r.read_until(b'\n', &mut raw)? == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        let size_line = String::from_utf8_lossy(&raw[start..]).to_string();
        let size_hex = size_line.trim().split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| std::io::Error::new(ErrorKind::InvalidData, "bad chunk size"))?;
        if raw.len() + size > MAX_BODY {
            return Err(std::io::Error::new(
                ErrorKind::InvalidData,
                "body too large",
            ));
        }
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let line_start = raw.len();
                if r.read_until(b'\n', &mut raw)? == 0 {
                    return Err(ErrorKind::UnexpectedEof.into());
                }
                let line = &raw[line_start..];
                if line == b"\r\n" || line == b"\n" {
                    return Ok(raw);
                }
            }
        }
        let mut chunk = vec![0u8; size + 2];
        r.read_exact(&mut chunk)?;
        raw.extend_from_slice(&chunk);
    }
}

/// The canned AWS JSON 1.1 error answer for a fault.
fn error_response(fault: Fault, request_id: u64) -> Option<Vec<u8>> {
    let (status, reason, code, message) = match fault {
        Fault::Throttle => (400, "Bad Request", "ThrottlingException", "Rate exceeded"),
        Fault::InternalError => (
            500,
            "Internal Server Error",
            "KMSInternalException",
            "An internal error occurred (injected by the fault proxy)",
        ),
        Fault::Unavailable => (
            503,
            "Service Unavailable",
            "ServiceUnavailableException",
            "Service is unavailable (injected by the fault proxy)",
        ),
        Fault::Reset | Fault::Hang | Fault::Slow | Fault::LoseAnswer => return None,
    };
    let body = format!(r#"{{"__type":"{code}","message":"{message}"}}"#);
    Some(
        format!(
            "HTTP/1.1 {status} {reason}\r\n\
             x-amzn-RequestId: 00000000-0000-4000-8000-{request_id:012x}\r\n\
             x-amzn-ErrorType: {code}\r\n\
             Content-Type: application/x-amz-json-1.1\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

fn plain_response(status: u16, reason: &str, message: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{message}",
        message.len()
    )
    .into_bytes()
}

/// Serves one client connection: request after request until it closes.
fn serve(client: TcpStream, shared: &Shared) {
    // Idle reads wake up regularly so a stopped proxy lets its threads go.
    if client.set_read_timeout(Some(POLL)).is_err() {
        return;
    }
    let _ = client.set_nodelay(true);
    let Ok(write_half) = client.try_clone() else {
        return;
    };
    let mut writer = write_half;
    let mut reader = BufReader::new(client);
    let mut upstream: Option<(BufReader<TcpStream>, TcpStream)> = None;
    loop {
        let head = match read_head_patiently(&mut reader, shared) {
            Some(h) => h,
            None => return,
        };
        let operation = head
            .header("x-amz-target")
            .unwrap_or("(no X-Amz-Target)")
            .to_string();
        if head.chunked() {
            shared.count(&operation, Outcome::Unsupported);
            let _ = writer.write_all(&plain_response(
                501,
                "Not Implemented",
                "the fault proxy needs a Content-Length request body",
            ));
            return;
        }
        let body = match read_body_patiently(&mut reader, head.content_length().unwrap_or(0)) {
            Ok(b) => b,
            Err(_) => return,
        };
        let request_id = shared.request_ids.fetch_add(1, Ordering::SeqCst);
        lock(&shared.last_bodies).insert(operation.clone(), body.clone());
        if let Some((outcome, answer)) = shared.rule(&operation) {
            shared.count(&operation, outcome);
            if writer.write_all(&answer.to_bytes(request_id)).is_err() {
                return;
            }
            continue;
        }
        let (fault, slow_delay) = shared.draw(&operation);
        match fault {
            Some(f @ (Fault::Throttle | Fault::InternalError | Fault::Unavailable)) => {
                shared.count(&operation, Outcome::Injected(f));
                let Some(answer) = error_response(f, request_id) else {
                    return;
                };
                if writer.write_all(&answer).is_err() {
                    return;
                }
                continue;
            }
            Some(Fault::Reset) => {
                shared.count(&operation, Outcome::Injected(Fault::Reset));
                reset(writer);
                return;
            }
            Some(Fault::Hang) => {
                shared.count(&operation, Outcome::Injected(Fault::Hang));
                hold(reader.into_inner(), shared);
                return;
            }
            Some(Fault::Slow) => {
                shared.count(&operation, Outcome::Injected(Fault::Slow));
                std::thread::sleep(slow_delay);
            }
            Some(Fault::LoseAnswer) | None => {}
        }
        match forward(&mut upstream, shared.upstream, &head, &body) {
            Ok(_) if fault == Some(Fault::LoseAnswer) => {
                shared.count(&operation, Outcome::Injected(Fault::LoseAnswer));
                reset(writer);
                return;
            }
            Ok((answer, keep_alive)) => {
                if fault.is_none() {
                    shared.count(&operation, Outcome::Forwarded);
                }
                if writer.write_all(&answer).is_err() || !keep_alive {
                    return;
                }
            }
            Err(e) => {
                shared.count(&operation, Outcome::UpstreamError);
                let _ = writer.write_all(&plain_response(
                    502,
                    "Bad Gateway",
                    &format!("the fault proxy could not forward the request: {e}"),
                ));
                return;
            }
        }
    }
}

/// Resets a connection: with SO_LINGER 0, closing sends RST instead of FIN. (The reader
/// half, a clone of the same socket, is closed by the caller's return.)
fn reset(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// Waits for the next request head, looking at the stop flag between read timeouts.
fn read_head_patiently(reader: &mut BufReader<TcpStream>, shared: &Shared) -> Option<Head> {
    loop {
        if shared.stopped() {
            return None;
        }
        match read_head(reader) {
            Ok(h) => return h,
            // A timeout before any byte of the head: keep waiting. (A timeout inside a head
            // loses what was read; clients write heads at once, so this does not happen.)
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return None,
        }
    }
}

fn read_body_patiently(reader: &mut BufReader<TcpStream>, len: usize) -> std::io::Result<Vec<u8>> {
    // The body follows the head at once; allow a generous read timeout for it.
    reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = read_body(reader, len);
    reader.get_ref().set_read_timeout(Some(POLL))?;
    body
}

/// Holds a connection without answering, until the client closes it, the proxy stops, or
/// [`MAX_HANG`] passes.
fn hold(mut client: TcpStream, shared: &Shared) {
    let started = Instant::now();
    let mut sink = [0u8; 4096];
    while !shared.stopped() && started.elapsed() < MAX_HANG {
        match client.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
    let _ = client.shutdown(Shutdown::Both);
}

/// Sends the request upstream (on the connection's upstream connection, made on first use)
/// and reads the whole answer. Returns the raw answer and whether the connection stays open.
fn forward(
    upstream: &mut Option<(BufReader<TcpStream>, TcpStream)>,
    addr: SocketAddr,
    head: &Head,
    body: &[u8],
) -> std::io::Result<(Vec<u8>, bool)> {
    // A kept-alive upstream connection may have been closed meanwhile: retry once on a new
    // one when the old one fails before any answer.
    for fresh in [false, true] {
        if fresh || upstream.is_none() {
            let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
            stream.set_read_timeout(Some(Duration::from_secs(60)))?;
            let _ = stream.set_nodelay(true);
            let reader = BufReader::new(stream.try_clone()?);
            *upstream = Some((reader, stream));
        }
        let Some((reader, writer)) = upstream.as_mut() else {
            continue;
        };
        let mut request = head.raw.clone();
        request.extend_from_slice(body);
        if writer.write_all(&request).is_err() {
            *upstream = None;
            continue;
        }
        let answer_head = match read_head(reader) {
            Ok(Some(h)) => h,
            Ok(None) | Err(_) if !fresh => {
                *upstream = None;
                continue;
            }
            Ok(None) => return Err(ErrorKind::UnexpectedEof.into()),
            Err(e) => return Err(e),
        };
        let mut answer = answer_head.raw.clone();
        let status: u16 = answer_head
            .start
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let bodiless = (100..200).contains(&status) || status == 204 || status == 304;
        let close = answer_head
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        if bodiless {
        } else if answer_head.chunked() {
            answer.extend(read_chunked_raw(reader)?);
        } else if let Some(len) = answer_head.content_length() {
            answer.extend(read_body(reader, len)?);
        } else {
            // Delimited by the end of the connection.
            let mut rest = Vec::new();
            reader.read_to_end(&mut rest)?;
            answer.extend(rest);
            *upstream = None;
            return Ok((answer, false));
        }
        if close {
            *upstream = None;
        }
        return Ok((answer, !close));
    }
    Err(std::io::Error::new(
        ErrorKind::ConnectionAborted,
        "the upstream connection broke twice",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_honoured_and_draws_deterministic() {
        let plan = FaultPlan::none().throttle(0.3).server_errors(0.02, 0.02);
        let draw = |seed| {
            let mut rng = XorShift::new(seed);
            (0..10_000)
                .map(|_| plan.choose("TrentService.Sign", rng.next_f64()))
                .collect::<Vec<_>>()
        };
        let a = draw(7);
        assert_eq!(a, draw(7), "same seed, same faults");
        assert_ne!(a, draw(8));
        let throttles = a.iter().filter(|f| **f == Some(Fault::Throttle)).count();
        assert!((2_700..3_300).contains(&throttles), "{throttles}");
        let errors = a
            .iter()
            .filter(|f| **f == Some(Fault::InternalError))
            .count();
        assert!((100..300).contains(&errors), "{errors}");
    }

    #[test]
    fn only_and_spared_operations() {
        let plan = FaultPlan::none()
            .reset(1.0)
            .only(["Sign", "CreateKey"])
            .spare(["CreateKey"]);
        assert_eq!(plan.choose("TrentService.Sign", 0.5), Some(Fault::Reset));
        assert_eq!(plan.choose("TrentService.CreateKey", 0.5), None);
        assert_eq!(plan.choose("TrentService.DescribeKey", 0.5), None);
        let plan = FaultPlan::none().throttle(1.0).spare(["CreateKey"]);
        assert_eq!(
            plan.choose("TrentService.CreateKey", 0.5),
            Some(Fault::Throttle)
        );
    }

    #[test]
    fn throttling_answer_has_the_aws_shape() {
        let answer = error_response(Fault::Throttle, 1).unwrap_or_default();
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
        assert!(
            text.contains("x-amzn-ErrorType: ThrottlingException\r\n"),
            "{text}"
        );
        assert!(
            text.ends_with(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#),
            "{text}"
        );
    }
}
