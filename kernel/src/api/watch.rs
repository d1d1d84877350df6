//! `watch=true`: a stream of `{"type", "object"}` lines. Starts from a
//! resourceVersion (or from the current state, sent as ADDED events), follows
//! the store's watch hub, turns selector transitions into ADDED/DELETED as
//! Kubernetes does, sends BOOKMARKs when asked, and ends with an ERROR event
//! (410 Expired) when the history no longer reaches back far enough.

use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use super::response::{Body, status_object};
use super::table::{self, IncludeObject};
use crate::object::{ResourceType, list_prefix};
use crate::registry::{ApiError, ListOptions, Objects};
use crate::watch::{Event, EventType};

/// How often an idle watch with `allowWatchBookmarks` gets a BOOKMARK.
const BOOKMARK_EVERY: Duration = Duration::from_secs(10);
/// The longest a watch runs without `timeoutSeconds` (clients re-watch).
const MAX_WATCH: Duration = Duration::from_secs(30 * 60);
/// Events read from the history per step.
const BATCH: usize = 512;

/// What a watch asks for.
pub struct WatchRequest {
    /// The kind.
    pub rt: &'static ResourceType,
    /// One namespace, or all.
    pub namespace: Option<String>,
    /// Selectors (limit and continue are ignored).
    pub filter: ListOptions,
    /// Where to start: `None` for "send the current state first".
    pub resource_version: Option<u64>,
    /// `sendInitialEvents=true`: end the initial state with a marked BOOKMARK.
    pub send_initial_events: bool,
    /// `allowWatchBookmarks=true`.
    pub bookmarks: bool,
    /// `timeoutSeconds`.
    pub timeout: Option<Duration>,
    /// Objects as Tables (kubectl get -w), with what each row includes.
    pub table: Option<IncludeObject>,
}

/// Starts the watch; the response streams until the client goes away, the
/// timeout passes or the history expires.
pub fn respond(objects: Objects, req: WatchRequest) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    tokio::spawn(async move {
        if let Err(e) = run(&objects, &req, &tx).await {
            let _ = tx.send(line("ERROR", &status_object(&e))).await;
        }
    });
    let stream = ReceiverStream::new(rx).map(|b| Ok::<_, std::convert::Infallible>(Frame::data(b)));
    let mut resp = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut v = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

/// Which event a watcher with `filter` sees for a change, if any.
fn visible(filter: &ListOptions, e: &Event) -> Option<EventType> {
    let now = filter.matches(&e.object);
    let before = e.prev.as_ref().is_some_and(|p| filter.matches(p));
    match e.kind {
        EventType::Added => now.then_some(EventType::Added),
        EventType::Deleted => before.then_some(EventType::Deleted),
        EventType::Modified => match (before, now) {
            (true, true) => Some(EventType::Modified),
            (false, true) => Some(EventType::Added),
            (true, false) => Some(EventType::Deleted),
            (false, false) => None,
        },
    }
}

struct Sender<'a> {
    req: &'a WatchRequest,
    tx: &'a mpsc::Sender<Bytes>,
}

impl Sender<'_> {
    /// Sends one event; false when the client has gone.
    async fn event(&self, kind: EventType, object: &Value) -> bool {
        let object = match self.req.table {
            Some(include) => {
                let rv = object
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                table::table(self.req.rt, std::slice::from_ref(object), rv, None, include)
            }
            None => object.clone(),
        };
        self.tx.send(line(kind.as_str(), &object)).await.is_ok()
    }

    async fn bookmark(&self, revision: u64, initial_end: bool) -> bool {
        let mut meta = json!({"resourceVersion": revision.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({"kind": self.req.rt.kind, "apiVersion": self.req.rt.api_version(), "metadata": meta});
        self.tx.send(line("BOOKMARK", &obj)).await.is_ok()
    }
}

async fn run(
    objects: &Objects,
    req: &WatchRequest,
    tx: &mpsc::Sender<Bytes>,
) -> Result<(), ApiError> {
    let out = Sender { req, tx };
    let hub = objects.store().hub().clone();
    let mut notify = hub.subscribe();
    let ns = req.namespace.as_deref();
    let prefix = list_prefix(req.rt, ns);
    let mut last = match req.resource_version {
        Some(rv) => rv,
        None => {
            let state = objects.list(
                req.rt,
                ns,
                &ListOptions {
                    limit: None,
                    continue_token: None,
                    ..req.filter.clone()
                },
            )?;
            for item in &state.items {
                if !out.event(EventType::Added, item).await {
                    return Ok(());
                }
            }
            if req.send_initial_events && req.bookmarks && !out.bookmark(state.revision, true).await
            {
                return Ok(());
            }
            state.revision
        }
    };
    let deadline = tokio::time::Instant::now() + req.timeout.unwrap_or(MAX_WATCH).min(MAX_WATCH);
    let mut bookmark_at = tokio::time::Instant::now() + BOOKMARK_EVERY;
    loop {
        // Read the announced revision before the history: every event at or
        // below it is already in the history, so after this step the watcher
        // has seen everything up to `progress`.
        let announced = *notify.borrow_and_update();
        let events = hub.events_after(last, BATCH).map_err(|e| {
            ApiError::Expired(format!("too old resource version: {last} ({})", e.oldest))
        })?;
        let full_batch = events.len() == BATCH;
        for e in events {
            last = e.revision;
            if !e.key.starts_with(&prefix) {
                continue;
            }
            if let Some(kind) = visible(&req.filter, &e)
                && !out.event(kind, &e.object).await
            {
                return Ok(());
            }
        }
        if full_batch {
            continue;
        }
        let progress = last.max(announced);
        tokio::select! {
            changed = notify.changed() => if changed.is_err() { return Ok(()) },
            () = tokio::time::sleep_until(deadline) => return Ok(()),
            () = tokio::time::sleep_until(bookmark_at), if req.bookmarks => {
                bookmark_at = tokio::time::Instant::now() + BOOKMARK_EVERY;
                if !out.bookmark(progress, false).await {
                    return Ok(());
                }
            }
            () = tx.closed() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::selector::LabelSelector;
    use std::sync::Arc;

    #[test]
    fn selector_transitions() {
        let filter = ListOptions {
            labels: LabelSelector::parse("app=web").unwrap_or_default(),
            ..Default::default()
        };
        let web = Arc::new(json!({"metadata": {"labels": {"app": "web"}}}));
        let db = Arc::new(json!({"metadata": {"labels": {"app": "db"}}}));
        let ev = |kind, object: &Arc<Value>, prev: Option<&Arc<Value>>| Event {
            revision: 1,
            kind,
            key: String::new(),
            object: object.clone(),
            prev: prev.cloned(),
        };
        assert_eq!(
            visible(&filter, &ev(EventType::Added, &web, None)),
            Some(EventType::Added)
        );
        assert_eq!(visible(&filter, &ev(EventType::Added, &db, None)), None);
        assert_eq!(
            visible(&filter, &ev(EventType::Modified, &db, Some(&web))),
            Some(EventType::Deleted)
        );
        assert_eq!(
            visible(&filter, &ev(EventType::Modified, &web, Some(&db))),
            Some(EventType::Added)
        );
        assert_eq!(
            visible(&filter, &ev(EventType::Modified, &web, Some(&web))),
            Some(EventType::Modified)
        );
        assert_eq!(
            visible(&filter, &ev(EventType::Deleted, &web, Some(&web))),
            Some(EventType::Deleted)
        );
        assert_eq!(
            visible(&filter, &ev(EventType::Deleted, &db, Some(&db))),
            None
        );
    }
}
