//! The proxy's counts: requests per KMS operation and outcome, as a snapshot a test asserts on
//! and prints.

use std::collections::BTreeMap;
use std::fmt;

use super::plan::{Fault, Outcome, target};

/// The counts of a proxy: requests per (operation, outcome).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyStats {
    pub(super) counts: BTreeMap<(String, Outcome), u64>,
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
