//! An interrupted `encrypt` or `decrypt` leaves no temporary file (after a decrypt it would
//! hold partial plaintext): SIGINT, SIGTERM and SIGHUP remove it and exit 128 + the signal's
//! number; after a SIGKILL, which cannot be caught, the next write beside it sweeps it.
//!
//! Each test runs the real binary on a FIFO input that is fed half its bytes and then held
//! open, so the process is mid-write when the signal comes.

use std::fs;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{Cli, arg};

/// Our temporary files in `dir`.
fn temps(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.contains(".keychain-") && name.ends_with(".tmp")
        })
        .collect()
}

/// A command stuck mid-write: its input FIFO got `fed` bytes and stays open until `release`.
struct Stuck {
    child: Child,
    release: mpsc::Sender<()>,
    /// The temporary file it is writing, with data in it.
    temp: PathBuf,
}

fn start_stuck(cli: &Cli, args: &[&str], fifo: &Path, feed: Vec<u8>) -> Stuck {
    let _ = fs::remove_file(fifo);
    assert!(Command::new("mkfifo").arg(fifo).status().unwrap().success());
    let (release, wait) = mpsc::channel::<()>();
    let path = fifo.to_path_buf();
    std::thread::spawn(move || {
        let mut writer = fs::OpenOptions::new().write(true).open(path).unwrap();
        // The reader may be gone already (killed): a broken pipe is fine.
        let _ = writer.write_all(&feed);
        let _ = wait.recv();
    });
    let mut cmd = cli.command();
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    let child = cmd.spawn().unwrap();
    let dir = fifo.parent().unwrap();
    let start = Instant::now();
    let temp = loop {
        let found = temps(dir)
            .into_iter()
            .find(|t| fs::metadata(t).is_ok_and(|m| m.len() > 0));
        if let Some(t) = found {
            break t;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{args:?} never started writing its temporary file"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    Stuck {
        child,
        release,
        temp,
    }
}

fn kill(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal}");
}

fn wait(mut stuck: Stuck) -> (ExitStatus, PathBuf) {
    let start = Instant::now();
    let status = loop {
        if let Some(status) = stuck.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the process ignored the signal"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = stuck.release.send(());
    (status, stuck.temp)
}

/// What each test starts from: a key, an 8 MiB plaintext and its envelope, and a directory
/// `out/` with the path of an input FIFO and of the plaintext output in it.
struct Setup {
    cli: Cli,
    plaintext: Vec<u8>,
    envelope: Vec<u8>,
    dir: PathBuf,
    fifo: PathBuf,
    out: PathBuf,
}

fn setup() -> Setup {
    let cli = Cli::new();
    cli.create("s", "aes-256", &[]);
    let plaintext: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let pt = cli.file("pt", &plaintext);
    let ct = cli.path("ct");
    cli.ok(["encrypt", "s", "--in", arg(&pt), "--out", arg(&ct)]);
    let envelope = fs::read(&ct).unwrap();
    let dir = cli.path("out");
    fs::create_dir(&dir).unwrap();
    Setup {
        fifo: dir.join("in.fifo"),
        out: dir.join("plain.txt"),
        dir,
        cli,
        plaintext,
        envelope,
    }
}

/// `decrypt` of the envelope from the FIFO into `out`, stuck after half of it.
fn stuck_decrypt(s: &Setup) -> Stuck {
    start_stuck(
        &s.cli,
        &["decrypt", "--in", arg(&s.fifo), "--out", arg(&s.out)],
        &s.fifo,
        s.envelope[..s.envelope.len() / 2].to_vec(),
    )
}

#[test]
fn a_signal_removes_the_partial_plaintext_and_exits_128_plus_signo() {
    let s = setup();
    for (signal, code) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        let stuck = stuck_decrypt(&s);
        kill(&stuck.child, signal);
        let (status, temp) = wait(stuck);
        assert_eq!(status.code(), Some(code), "SIG{signal}: {status:?}");
        assert!(!temp.exists(), "SIG{signal} left {}", temp.display());
        assert!(temps(&s.dir).is_empty(), "SIG{signal}: {:?}", temps(&s.dir));
        assert!(!s.out.exists(), "SIG{signal}: a partial plaintext appeared");
    }

    // Encrypt too.
    let ct = s.dir.join("ct2");
    let stuck = start_stuck(
        &s.cli,
        &["encrypt", "s", "--in", arg(&s.fifo), "--out", arg(&ct)],
        &s.fifo,
        s.plaintext[..s.plaintext.len() / 2].to_vec(),
    );
    kill(&stuck.child, "TERM");
    let (status, _) = wait(stuck);
    assert_eq!(status.code(), Some(143), "{status:?}");
    assert!(temps(&s.dir).is_empty(), "{:?}", temps(&s.dir));
}

#[test]
fn after_a_sigkill_the_next_write_sweeps_the_stale_temporary_file() {
    let s = setup();
    let stuck = stuck_decrypt(&s);
    kill(&stuck.child, "KILL");
    let (status, temp) = wait(stuck);
    assert_eq!(status.signal(), Some(9), "{status:?}");
    assert!(
        temp.exists(),
        "a SIGKILL cannot be caught: the temporary file is still there"
    );

    // The next command writing beside it (to another name) removes it.
    let ct = s.cli.file("ct", &s.envelope);
    let other = s.dir.join("other.txt");
    s.cli
        .ok(["decrypt", "--in", arg(&ct), "--out", arg(&other)]);
    assert!(fs::read(&other).unwrap() == s.plaintext);
    assert!(!temp.exists(), "the stale {} was not swept", temp.display());
    assert!(temps(&s.dir).is_empty(), "{:?}", temps(&s.dir));
}
