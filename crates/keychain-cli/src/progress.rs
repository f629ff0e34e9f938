//! A progress line on stderr for long streams, shown only when stderr is a terminal (never in
//! pipes, logs or tests) and only for inputs large enough to take a moment.

use std::io::{IsTerminal, Read, Write};
use std::time::{Duration, Instant};

/// Inputs smaller than this finish too fast to need a progress line.
const MIN_SIZE: u64 = 16 * 1024 * 1024;
const EVERY: Duration = Duration::from_millis(200);

/// Wraps a reader and reports how much of it has been read.
pub struct Progress<R> {
    inner: R,
    label: &'static str,
    total: Option<u64>,
    done: u64,
    last: Option<Instant>,
    active: bool,
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

impl<R: Read> Progress<R> {
    /// `total` is the input size when known (a file), `None` for stdin.
    pub fn new(inner: R, label: &'static str, total: Option<u64>) -> Self {
        let active = std::io::stderr().is_terminal() && total.is_none_or(|t| t >= MIN_SIZE);
        Progress {
            inner,
            label,
            total,
            done: 0,
            last: None,
            active,
        }
    }

    fn draw(&mut self, force: bool) {
        if !self.active || (!force && self.last.is_some_and(|t| t.elapsed() < EVERY)) {
            return;
        }
        self.last = Some(Instant::now());
        let line = match self.total {
            Some(t) if t > 0 => format!(
                "\r{}: {:>3}% ({} of {})",
                self.label,
                self.done.saturating_mul(100) / t,
                human(self.done),
                human(t)
            ),
            _ => format!("\r{}: {}", self.label, human(self.done)),
        };
        let mut err = std::io::stderr();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
    }

    /// Clears the line (call when done).
    pub fn finish(&mut self) {
        if self.active && self.last.is_some() {
            self.draw(true);
            let _ = std::io::stderr().write_all(b"\n");
        }
    }
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        self.draw(false);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_passes_through() -> std::io::Result<()> {
        let data = vec![1u8; 1000];
        let mut p = Progress::new(&data[..], "test", Some(1000));
        let mut out = Vec::new();
        p.read_to_end(&mut out)?;
        assert_eq!(out, data);
        assert_eq!(p.done, 1000);
        assert_eq!(human(1536), "1.5 KiB");
        Ok(())
    }
}
