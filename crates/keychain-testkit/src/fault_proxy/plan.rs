//! What the proxy injects: the kinds of [`Fault`], the [`Outcome`] counted for each request,
//! and the [`FaultPlan`] of rates (per operation, with operations spared) from which each
//! request's fate is drawn with a small seeded generator.

use std::fmt;
use std::time::Duration;

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
    pub(super) fn choose(&self, operation: &str, u: f64) -> Option<Fault> {
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
pub(super) fn target(operation: &str) -> String {
    if operation.contains('.') {
        operation.to_string()
    } else {
        format!("TrentService.{operation}")
    }
}

/// A tiny deterministic generator (xorshift64*), enough to draw faults.
#[derive(Debug)]
pub(super) struct XorShift(u64);

impl XorShift {
    pub(super) fn new(seed: u64) -> Self {
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
    pub(super) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
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
}
