//! The little HTTP/1.1 the proxy speaks: reading a message head and a `Content-Length` or
//! chunked body (with size limits), and the canned answers it sends itself (the AWS JSON 1.1
//! error of an injected fault, a plain-text error of its own).

use std::io::{BufRead, ErrorKind, Read};

use super::plan::Fault;

/// Longest request or response head the proxy accepts.
const MAX_HEAD: usize = 64 * 1024;
/// Longest body the proxy reads into memory.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// One HTTP message head: the start line and the header lines, raw.
pub(super) struct Head {
    pub(super) raw: Vec<u8>,
    pub(super) start: String,
    pub(super) headers: Vec<(String, String)>,
}

impl Head {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn content_length(&self) -> Option<usize> {
        self.header("content-length")
            .and_then(|v| v.trim().parse().ok())
    }

    pub(super) fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }
}

/// Reads a message head. `Ok(None)` at a clean end of stream before any byte.
pub(super) fn read_head(r: &mut impl BufRead) -> std::io::Result<Option<Head>> {
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

pub(super) fn read_body(r: &mut impl Read, len: usize) -> std::io::Result<Vec<u8>> {
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
pub(super) fn read_chunked_raw(r: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
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
pub(super) fn error_response(fault: Fault, request_id: u64) -> Option<Vec<u8>> {
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

pub(super) fn plain_response(status: u16, reason: &str, message: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{message}",
        message.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

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
