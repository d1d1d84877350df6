//! get and list: reads of the applied state, with selectors and paging.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::{ApiError, Objects, Result, key, key_namespace};
use crate::object::selector::{FieldSelector, LabelSelector};
use crate::object::{ResourceType, list_prefix, object_key};

/// What a list asks for.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Label selector.
    pub labels: LabelSelector,
    /// Field selector.
    pub fields: FieldSelector,
    /// The most items to return (0 or absent: all).
    pub limit: Option<usize>,
    /// The token from a previous page.
    pub continue_token: Option<String>,
}

impl ListOptions {
    /// Whether an object passes both selectors.
    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct ObjectList {
    /// The objects, in key order.
    pub items: Vec<Value>,
    /// The revision the page was read at.
    pub revision: u64,
    /// The token for the next page, if there is more.
    pub continue_token: Option<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: u64,
    start: String,
}

fn decode_continue(token: &str, prefix: &str) -> Result<String> {
    let bad = || ApiError::BadRequest(format!("invalid continue token {token:?}"));
    let raw = URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| bad())?;
    let t: ContinueToken = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if t.v != "meta.k8s.io/v1" || !t.start.starts_with(prefix) {
        return Err(bad());
    }
    Ok(t.start)
}

fn encode_continue(rv: u64, start: &str) -> String {
    let t = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: start.to_string(),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&t).unwrap_or_default())
}

impl Objects {
    /// The object and its revision.
    pub fn get_with_revision(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> Result<(u64, Value)> {
        match self.store.get(&key(rt, ns, name))? {
            Some(s) => Ok((s.revision, s.object()?)),
            None => Err(ApiError::not_found(rt, name)),
        }
    }

    /// The object and its revision as a write must see them. This member's copy serves
    /// when it meets the write's preconditions (`holds`), since the store checks them
    /// again as the write applies; otherwise, and on every retry after a conflicting
    /// write (`attempt > 0`), the cluster's latest state is read, so that a refusal
    /// (NotFound, Conflict) never comes from a copy that is behind the leader.
    pub(super) async fn current_for_write(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        attempt: usize,
        holds: impl Fn(u64, &Value) -> bool,
    ) -> Result<(u64, Value)> {
        if attempt == 0 {
            match self.get_with_revision(rt, ns, name) {
                Ok((revision, object)) if holds(revision, &object) => {
                    return Ok((revision, object));
                }
                Err(e) if !matches!(e, ApiError::NotFound { .. }) => return Err(e),
                _ => {}
            }
        }
        self.store.linearize().await?;
        self.get_with_revision(rt, ns, name)
    }

    /// One object.
    pub fn get(&self, rt: &ResourceType, ns: Option<&str>, name: &str) -> Result<Value> {
        self.get_with_revision(rt, ns, name).map(|(_, v)| v)
    }

    /// Objects of a kind, in one namespace or all, filtered and paged.
    pub fn list(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<ObjectList> {
        // A field selector that pins the namespace narrows the scan.
        let ns = ns.or_else(|| {
            opts.fields
                .required("metadata.namespace")
                .filter(|_| rt.namespaced)
        });
        let prefix = list_prefix(rt, ns);
        if let Some(name) = opts
            .fields
            .required("metadata.name")
            .filter(|_| ns.is_some() || !rt.namespaced)
        {
            // One key, not a scan.
            let revision = self.store.revision();
            let items = match self
                .store
                .get(&object_key(rt, key_namespace(rt, ns), name))?
            {
                Some(s) => {
                    let v = s.object()?;
                    if opts.matches(&v) { vec![v] } else { vec![] }
                }
                None => vec![],
            };
            return Ok(ObjectList {
                items,
                revision,
                continue_token: None,
            });
        }
        let start = opts
            .continue_token
            .as_deref()
            .map(|t| decode_continue(t, &prefix))
            .transpose()?;
        let limit = opts.limit.filter(|l| *l > 0);
        let mut items = Vec::new();
        let mut last_key = String::new();
        let mut more = false;
        let mut failure = None;
        let revision = self.store.scan(&prefix, start.as_deref(), |k, stored| {
            let v = match stored.object() {
                Ok(v) => v,
                Err(e) => {
                    failure = Some(ApiError::from(e));
                    return false;
                }
            };
            if !opts.matches(&v) {
                return true;
            }
            if limit.is_some_and(|l| items.len() >= l) {
                more = true;
                return false;
            }
            last_key = k.to_string();
            items.push(v);
            true
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        let continue_token = more.then(|| encode_continue(revision, &last_key));
        Ok(ObjectList {
            items,
            revision,
            continue_token,
        })
    }
}
