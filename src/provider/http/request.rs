//! API requests as data, for every cloud provider: method, path (relative to the transport's
//! base, query included), JSON body and whether repeating the call is harmless. Each
//! provider's `request` module builds them; the transport sends them. Pure.

use std::fmt::Write as _;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// One API call. `retry_safe` is false for calls that must not be repeated blindly (create).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    pub body: Option<Value>,
    pub retry_safe: bool,
}

impl ApiRequest {
    /// A `GET` without body: always safe to repeat.
    pub fn get(path: String) -> ApiRequest {
        ApiRequest {
            method: Method::Get,
            path,
            body: None,
            retry_safe: true,
        }
    }
}

/// Percent-encode everything but RFC 3986 unreserved characters, so ids and label values can
/// never change the path or add query parameters.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(encode("a-Z_0.~"), "a-Z_0.~");
        assert_eq!(encode("../x y&z=1"), "..%2Fx%20y%26z%3D1");
        assert_eq!(encode("b7:2f"), "b7%3A2f");
    }

    #[test]
    fn gets_are_retry_safe_and_bodiless() {
        let request = ApiRequest::get("/zone".into());
        assert_eq!((request.method.as_str(), request.body), ("GET", None));
        assert!(request.retry_safe);
    }
}
