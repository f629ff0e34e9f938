//! One client connection: each request read, its fate drawn from the plan, then answered with
//! a fault, held, delayed, or forwarded to the upstream server and the answer relayed (or
//! lost).

use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::http::{Head, error_response, plain_response, read_body, read_chunked_raw, read_head};
use super::plan::{Fault, Outcome};
use super::{Shared, lock};

/// How long a held ([`Fault::Hang`]) connection is kept at most.
const MAX_HANG: Duration = Duration::from_secs(120);
/// How often idle connection threads look at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// Serves one client connection: request after request until it closes.
pub(super) fn serve(client: TcpStream, shared: &Shared) {
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
