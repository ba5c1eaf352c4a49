//! Canned answers and recorded requests: the test kit's own types.
//!
//! Tests script the mock with a [`Stub`] and read what it received as
//! [`RecordedRequest`]s; neither names the HTTP mocking library underneath,
//! so it can change without breaking a test.
//!
//! This file is byte-identical in `whatsapp-cloud` and `salesforce-rest`
//! (CI compares them): edit one, copy it to the other.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// A canned answer for the requests it matches, tried before the mock's own
/// behaviour. Among stubs, the one added first answers until its
/// [`times`](Self::times) run out; then the next matching one does. Add one
/// with the mock's `stub` method.
#[derive(Clone)]
#[must_use]
pub struct Stub {
    method: Option<String>,
    path: String,
    body_contains: Vec<String>,
    status: u16,
    body: Vec<u8>,
    content_type: Option<String>,
    headers: Vec<(String, String)>,
    times: Option<u64>,
    delay: Duration,
}

impl Stub {
    /// Matches requests with `method` (`"GET"`, `"POST"`, …) whose path
    /// matches `path`, a regular expression (`"/sobjects/Case/.+$"`,
    /// `"^/v23.0/123/messages$"`). Answers 200 with an empty body until told
    /// otherwise.
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: Some(method.to_ascii_uppercase()),
            ..Self::any(path)
        }
    }

    /// Matches requests of any method whose path matches `path` (a regular
    /// expression).
    pub fn any(path: &str) -> Self {
        Self {
            method: None,
            path: path.to_owned(),
            body_contains: Vec::new(),
            status: 200,
            body: Vec::new(),
            content_type: None,
            headers: Vec::new(),
            times: None,
            delay: Duration::ZERO,
        }
    }

    /// Matches only requests whose body contains `text` (a form field such
    /// as `grant_type=refresh_token`, a JSON fragment).
    pub fn body_contains(mut self, text: &str) -> Self {
        self.body_contains.push(text.to_owned());
        self
    }

    /// Answers with this HTTP status.
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Answers with this JSON body (`Content-Type: application/json`).
    pub fn json(mut self, body: &Value) -> Self {
        self.body = body.to_string().into_bytes();
        self.content_type = Some("application/json".to_owned());
        self
    }

    /// Answers with this body as it is (`Content-Type: text/plain` unless a
    /// [`header`](Self::header) says otherwise): a truncated JSON document,
    /// an HTML error page.
    pub fn text(mut self, body: &str) -> Self {
        self.body = body.as_bytes().to_vec();
        self.content_type = Some("text/plain".to_owned());
        self
    }

    /// Adds a response header (`Retry-After`, `Content-Type`, …).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if name.eq_ignore_ascii_case("content-type") {
            self.content_type = Some(value.to_owned());
        } else {
            self.headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Answers at most `n` requests, then lets them through to the next
    /// stub or the mock's own behaviour. Unlimited by default.
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }

    /// Waits this long before answering.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The wiremock mock this stub stands for (priority 1: before the
    /// mock's own routes, which use the default).
    pub(crate) fn into_mock(self) -> wiremock::Mock {
        let mut answer = wiremock::ResponseTemplate::new(self.status).set_delay(self.delay);
        for (name, value) in &self.headers {
            answer = answer.insert_header(name.as_str(), value.as_str());
        }
        if let Some(kind) = &self.content_type {
            answer = answer.set_body_raw(self.body, kind);
        }
        let mut mock = wiremock::Mock::given(wiremock::matchers::path_regex(self.path));
        if let Some(method) = self.method {
            mock = mock.and(wiremock::matchers::method(method.as_str()));
        }
        for text in self.body_contains {
            mock = mock.and(wiremock::matchers::body_string_contains(text));
        }
        let mock = mock.respond_with(answer).with_priority(1);
        match self.times {
            Some(n) => mock.up_to_n_times(n),
            None => mock,
        }
    }
}

impl fmt::Debug for Stub {
    /// The match and the status; the answer's body is left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stub")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("status", &self.status)
            .field("times", &self.times)
            .finish_non_exhaustive()
    }
}

/// A request the mock received, as the client sent it.
///
/// `Debug` shows the method, the path (runs of 7 or more digits masked) and
/// the body's size only: requests carry tokens, phone numbers and message
/// text.
#[derive(Clone)]
pub struct RecordedRequest {
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RecordedRequest {
    pub(crate) fn from_wiremock(r: &wiremock::Request) -> Self {
        Self {
            method: r.method.as_str().to_owned(),
            path: r.url.path().to_owned(),
            query: r.url.query().map(str::to_owned),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: r.body.clone(),
        }
    }

    /// The HTTP method, upper case (`POST`).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path, without the query (`/services/data/v66.0/query`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The raw query string, without the `?`, when there is one.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// A query parameter's decoded value (the first one of that name).
    pub fn query_param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_deref()?.as_bytes())
            .find_map(|(k, v)| (k == name).then(|| v.into_owned()))
    }

    /// A header's value (the first one of that name, any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body's bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn body_json(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

impl fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("path", &mask_digits(&self.path))
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// `path` with every run of 7 or more digits replaced by `…` (a phone number
/// in an external-ID path).
fn mask_digits(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut run = String::new();
    for c in path.chars().chain(std::iter::once('/')) {
        if c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        if run.len() >= 7 {
            out.push('…');
        } else {
            out.push_str(&run);
        }
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_request_debugs_without_numbers_tokens_or_body() {
        let r = RecordedRequest {
            method: "PATCH".into(),
            path: "/services/data/v66.0/sobjects/Contact/Phone__c/14155550123".into(),
            query: Some("q=SELECT+Id".into()),
            headers: vec![("Authorization".into(), "Bearer 00D!secret".into())],
            body: br#"{"Description":"my card was charged twice"}"#.to_vec(),
        };
        let shown = format!("{r:?}");
        assert!(shown.contains("/sobjects/Contact/Phone__c/…"), "{shown}");
        for secret in ["14155550123", "00D!secret", "charged"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert_eq!(r.header("authorization"), Some("Bearer 00D!secret"));
        assert_eq!(r.query_param("q").as_deref(), Some("SELECT Id"));
        assert_eq!(
            r.body_json().unwrap()["Description"],
            "my card was charged twice"
        );
        assert_eq!(mask_digits("/v23.0/123/messages"), "/v23.0/123/messages");
    }

    #[test]
    fn a_stub_debugs_without_its_answer() {
        let s = Stub::new("post", "/messages$").json(&serde_json::json!({"token": "abc"}));
        let shown = format!("{s:?}");
        assert!(shown.contains("POST") && !shown.contains("abc"), "{shown}");
    }
}
