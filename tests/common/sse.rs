//! A small Server-Sent Events client for the stream tests: reads a
//! `text/event-stream` body chunk by chunk and splits it into events.

use std::time::Duration;

use serde_json::Value;

use super::{TestApp, client_builder};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|_| panic!("event data is JSON: {}", self.data))
    }

    pub fn seq(&self) -> i64 {
        self.id.as_deref().and_then(|id| id.parse().ok()).unwrap_or_else(|| panic!("no seq id: {self:?}"))
    }
}

/// What reading on found.
#[derive(Debug)]
pub enum Next {
    Event(SseEvent),
    /// A `:` line: a heartbeat.
    Comment,
    /// The server ended the stream.
    End,
    Timeout,
}

pub struct SseStream {
    response: reqwest::Response,
    buffer: String,
}

/// `GET /api/{user}/events{query}` with `user`'s token (or none, for tickets),
/// and a `Last-Event-ID` if given. `Err(status, body)` when it is no stream.
pub async fn open(
    app: &TestApp,
    user: &str,
    query: &str,
    bearer: Option<&str>,
    last_event_id: Option<&str>,
) -> Result<SseStream, (u16, String)> {
    open_at(&app.base, user, query, bearer, last_event_id).await
}

pub async fn open_at(
    base: &str,
    user: &str,
    query: &str,
    bearer: Option<&str>,
    last_event_id: Option<&str>,
) -> Result<SseStream, (u16, String)> {
    // No overall timeout: a stream is meant to stay open.
    let client = client_builder().build().unwrap();
    let mut request = client.get(format!("{base}/api/{user}/events{query}"));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    if status != 200 {
        return Err((status, response.text().await.unwrap_or_default()));
    }
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(content_type.starts_with("text/event-stream"), "content type {content_type}");
    Ok(SseStream { response, buffer: String::new() })
}

impl SseStream {
    pub fn headers(&self) -> &reqwest::header::HeaderMap {
        self.response.headers()
    }

    /// The next event, comment or end, within `within`.
    pub async fn next(&mut self, within: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(block) = self.take_block() {
                return block;
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return Next::Timeout,
                Ok(Ok(Some(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Ok(None)) => return Next::End,
                Ok(Err(error)) => panic!("the stream broke instead of ending: {error}"),
            }
        }
    }

    /// The next event (heartbeats skipped); panics on anything else.
    pub async fn event(&mut self, within: Duration) -> SseEvent {
        loop {
            match self.next(within).await {
                Next::Event(event) => return event,
                Next::Comment => continue,
                other => panic!("expected an event within {within:?}, got {other:?}"),
            }
        }
    }

    /// Asserts that no event comes within `within` (heartbeats allowed).
    pub async fn quiet(&mut self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Next::Timeout => return,
                Next::Comment => continue,
                other => panic!("expected silence, got {other:?}"),
            }
        }
    }

    /// Whether the server ends the stream within `within` (heartbeats and events skipped).
    pub async fn ends_within(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Next::End => return true,
                Next::Timeout => return false,
                Next::Comment | Next::Event(_) => continue,
            }
        }
    }

    fn take_block(&mut self) -> Option<Next> {
        let end = self.buffer.find("\n\n")?;
        let block: String = self.buffer.drain(..end + 2).collect();
        let (mut event, mut comment) = (SseEvent { id: None, event: None, data: String::new() }, false);
        for line in block.lines() {
            if line.starts_with(':') {
                comment = true;
                continue;
            }
            let (field, value) =
                line.split_once(':').map_or((line, ""), |(f, v)| (f, v.strip_prefix(' ').unwrap_or(v)));
            match field {
                "id" => event.id = Some(value.to_owned()),
                "event" => event.event = Some(value.to_owned()),
                "data" => {
                    if !event.data.is_empty() {
                        event.data.push('\n');
                    }
                    event.data.push_str(value);
                }
                _ => {}
            }
        }
        let is_event = event.id.is_some() || event.event.is_some() || !event.data.is_empty();
        Some(if is_event {
            Next::Event(event)
        } else if comment {
            Next::Comment
        } else {
            return self.take_block();
        })
    }
}
