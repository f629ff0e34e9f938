//! Peak memory of a process, from `/proc` (Linux): for tests that prove an operation runs in
//! constant memory, either in this process (a child test started for that purpose) or in a
//! command run to completion.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The peak resident set size (`VmHWM`, KiB) of the process `pid` ("self" for this one);
/// `None` when it has no memory to report (it has exited) or /proc cannot be read.
pub fn peak_rss_kib_of(pid: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The peak resident set size of this process (KiB). Panics where /proc cannot tell.
pub fn peak_rss_kib() -> u64 {
    peak_rss_kib_of("self").unwrap_or_else(|| panic!("no VmHWM in /proc/self/status"))
}

/// Runs `cmd` to completion, with `stdin` written to its standard input from another thread
/// (`None`: no input), and returns its output and its peak resident set size (KiB).
///
/// The peak is the child's own high-water mark, read every millisecond while it runs: it only
/// grows, so the last reading before the exit holds the peak of everything before it (the
/// exec resets it, so nothing of this process is counted). Panics when the command cannot
/// run or its peak was never read.
pub fn output_with_peak_rss(
    cmd: &mut Command,
    stdin: Option<Box<dyn Read + Send>>,
) -> (Output, u64) {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let feeder = match (stdin, child.stdin.take()) {
        (Some(mut input), Some(mut pipe)) => Some(std::thread::spawn(move || {
            // The child may stop reading (and refuse the input): a broken pipe is its answer.
            let _ = std::io::copy(&mut input, &mut pipe);
        })),
        _ => None,
    };
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut out);
            }
            out
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let pid = child.id().to_string();
    let mut peak = None;
    let status = loop {
        if let Some(kib) = peak_rss_kib_of(&pid) {
            peak = Some(peak.map_or(kib, |p: u64| p.max(kib)));
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => panic!("waiting for {cmd:?}: {e}"),
        }
    };
    if let Some(f) = feeder {
        let _ = f.join();
    }
    let output = Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    let peak = peak.unwrap_or_else(|| panic!("{cmd:?} exited before its memory could be read"));
    (output, peak)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The measurement sees what a child holds: a Python process that holds 100 MiB.
    #[test]
    fn a_child_holding_memory_is_measured() {
        let (out, small) =
            output_with_peak_rss(Command::new("sh").args(["-c", "sleep 0.05"]), None);
        assert!(out.status.success());
        let (out, big) = output_with_peak_rss(
            Command::new(crate::python()).args([
                "-c",
                "import time; b = bytearray(100 << 20); time.sleep(0.2); print(len(b))",
            ]),
            None,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(big > 100 * 1024, "peak {big} KiB");
        assert!(small < 64 * 1024, "peak {small} KiB");
        assert!(peak_rss_kib() > 0);
    }
}
