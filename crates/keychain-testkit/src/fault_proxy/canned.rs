//! The answers the fault proxy gives itself, in the wire shape of KMS.

/// An answer the proxy gives itself, in the shape of the AWS JSON 1.1 protocol KMS speaks:
/// the HTTP status, `x-amzn-RequestId`, for errors `x-amzn-ErrorType` and the body
/// `{"__type":CODE,"message":MESSAGE}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canned {
    /// HTTP status.
    pub status: u16,
    /// The exception name for an error answer (`x-amzn-ErrorType`), `None` for a success.
    pub error_type: Option<String>,
    /// The JSON body.
    pub body: String,
    /// The request id sent; `None` for one made up by the proxy.
    pub request_id: Option<String>,
}

impl Canned {
    /// An error answer: `status`, exception `code` and `message`.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Canned {
            status,
            error_type: Some(code.to_string()),
            body: serde_json::json!({ "__type": code, "message": message }).to_string(),
            request_id: None,
        }
    }

    /// A successful answer (HTTP 200) with this JSON body.
    pub fn ok(body: serde_json::Value) -> Self {
        Canned {
            status: 200,
            error_type: None,
            body: body.to_string(),
            request_id: None,
        }
    }

    /// Sends `id` as the request id.
    pub fn request_id(mut self, id: &str) -> Self {
        self.request_id = Some(id.to_string());
        self
    }

    /// The raw HTTP answer; `request_id` numbers the made-up request id.
    pub(super) fn to_bytes(&self, request_id: u64) -> Vec<u8> {
        let id = self
            .request_id
            .clone()
            .unwrap_or_else(|| format!("00000000-0000-4000-8000-{request_id:012x}"));
        let error_type = self
            .error_type
            .as_deref()
            .map(|t| format!("x-amzn-ErrorType: {t}\r\n"))
            .unwrap_or_default();
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            500 => "Internal Server Error",
            503 => "Service Unavailable",
            _ => "Answer",
        };
        format!(
            "HTTP/1.1 {} {reason}\r\nx-amzn-RequestId: {id}\r\n{error_type}\
             Content-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{}",
            self.status,
            self.body.len(),
            self.body
        )
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_answers_have_the_aws_shape() {
        let answer = Canned::error(400, "LimitExceededException", "too many")
            .request_id("req-1")
            .to_bytes(3);
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        assert!(text.contains("x-amzn-RequestId: req-1\r\n"), "{text}");
        assert!(
            text.contains("x-amzn-ErrorType: LimitExceededException\r\n"),
            "{text}"
        );
        assert!(
            text.ends_with(r#"{"__type":"LimitExceededException","message":"too many"}"#),
            "{text}"
        );
        let ok = Canned::ok(serde_json::json!({"KeyId": "k"})).to_bytes(4);
        let text = String::from_utf8_lossy(&ok);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(!text.contains("x-amzn-ErrorType"), "{text}");
    }
}
