//! ResourceQuota objects, and checking and charging them: the usage a quota has recorded
//! (or, when it has none that fits its `spec.hard`, recomputed from the cache), what a
//! write uses more charged against every quota that counts the object and constrains it
//! (denied when one would go over), and what it uses less given back, in one status update
//! per quota. The answer's status updates are whole quota objects as read, with a new
//! `status`, so the host can guard each by its `resourceVersion`.

use std::collections::BTreeSet;

use keel_sdk::json::At;
use serde_json::{Map, Value, json};

use crate::message;
use crate::pod::{self, MUST_SPECIFY};
use crate::resources::{Usage, add_into, mask, non_zero, read, release, to_json};
use crate::scope::Scopes;
use crate::usage::{Kind, source, usage};

/// The objects of the request's namespace, by core kind, as the admission cache holds them.
pub trait Objects {
    /// Every object of core `kind` (`Pod`, `ResourceQuota`) in the namespace.
    fn list(&self, kind: &str) -> Vec<Value>;
}

/// An object the usage is being computed around, to leave out of a recount (the cache
/// does not hold a created object yet; this guards against counting it twice regardless).
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Its kind.
    pub kind: Kind<'a>,
    /// Its name.
    pub name: &'a str,
}

/// One ResourceQuota.
#[derive(Debug, Clone)]
pub struct Quota {
    /// The object as read from the cache.
    pub object: Value,
    /// `metadata.name`.
    pub name: String,
    /// `spec.hard`, parsed.
    pub hard: Usage,
    /// Which objects it counts.
    pub scopes: Scopes,
    /// `status.used`, when the status is current: its `hard` is the spec's and it has a
    /// value for every hard resource.
    recorded: Option<Usage>,
}

impl Quota {
    /// Reads a quota; `Err` says why it is ignored (a scope this plugin does not know).
    pub fn read(object: Value) -> Result<Quota, String> {
        let name = object
            .at("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let scopes = Scopes::read(&object).map_err(|what| {
            format!(
                "ResourceQuota {name:?} has a {what}, which this plugin does not support: it is not enforced"
            )
        })?;
        let hard = read(object.at("/spec/hard"));
        let status_hard = read(object.at("/status/hard"));
        let used = read(object.at("/status/used"));
        let current = status_hard == hard
            && object.at("/status/used").is_some_and(Value::is_object)
            && hard.keys().all(|k| used.contains_key(k));
        Ok(Quota {
            recorded: current.then(|| mask(&used, &hard)),
            object,
            name,
            hard,
            scopes,
        })
    }

    /// Whether the status does not fit the spec (a new or edited quota), so usage must be
    /// recounted.
    pub fn needs_recount(&self) -> bool {
        self.recorded.is_none()
    }

    /// What the namespace uses of each hard resource: as recorded, or recounted.
    pub fn used(&self, objects: &dyn Objects, subject: Option<Subject<'_>>) -> Usage {
        match &self.recorded {
            Some(used) => used.clone(),
            None => {
                let partial = read(self.object.at("/status/used"));
                recount(&self.hard, &partial, &self.scopes, objects, subject)
            }
        }
    }

    /// The quota object with `status` = `{"hard": spec.hard, "used": used}`; metadata
    /// (with `resourceVersion`) as read.
    pub fn with_used(&self, used: &Usage) -> Value {
        let mut object = self.object.clone();
        let hard = self
            .object
            .at("/spec/hard")
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        if let Some(map) = object.as_object_mut() {
            map.entry("apiVersion").or_insert_with(|| json!("v1"));
            map.entry("kind").or_insert_with(|| json!("ResourceQuota"));
            map.insert(
                "status".into(),
                json!({"hard": hard, "used": to_json(&mask(used, &self.hard))}),
            );
        }
        object
    }
}

/// The namespace's usage of each of `hard`'s resources, counted from the cached objects
/// of the kinds that use them that `scopes` match. A resource measured on a kind the cache
/// does not hold keeps its value in `partial` (the quota's old `status.used`), else 0.
pub fn recount(
    hard: &Usage,
    partial: &Usage,
    scopes: &Scopes,
    objects: &dyn Objects,
    subject: Option<Subject<'_>>,
) -> Usage {
    let mut used = Usage::new();
    let mut kinds: Vec<&Kind<'static>> = Vec::new();
    for name in hard.keys() {
        match source(name) {
            Some(kind) => {
                used.insert(name.clone(), Default::default());
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
            None => {
                let kept = partial.get(name).copied().unwrap_or_default();
                used.insert(name.clone(), kept);
            }
        }
    }
    for kind in kinds {
        let measured: Usage = hard
            .keys()
            .filter(|name| source(name) == Some(kind))
            .map(|name| (name.clone(), Default::default()))
            .collect();
        for object in objects.list(kind.kind) {
            let name = object.at("/metadata/name").and_then(Value::as_str);
            let is_subject = subject.is_some_and(|s| {
                s.kind.kind == kind.kind && s.kind.group.is_empty() && Some(s.name) == name
            });
            if is_subject || !scopes.matches(kind, &object) {
                continue;
            }
            add_into(&mut used, &mask(&usage(kind, &object), &measured));
        }
    }
    used
}

/// The answer to a write: denied with a message, or allowed with quota status updates.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Allowed; these quota objects get these statuses with the write.
    Allowed(Vec<Value>),
    /// Denied (403) with this message.
    Denied(String),
}

/// What a pod must set or may not use against the quotas that count it (Kubernetes'
/// pod `Constraints`, and its check for negative usage): a pod must set every cpu/memory
/// resource such a quota constrains, and a constrained resource may not be used
/// negatively. `Some` is the denial.
pub fn constraints(
    quotas: &[Quota],
    subject: Subject<'_>,
    object: &Value,
    delta: &Usage,
) -> Option<String> {
    let counting: Vec<&Quota> = quotas
        .iter()
        .filter(|q| q.scopes.matches(&subject.kind, object))
        .collect();
    if subject.kind.group.is_empty() && subject.kind.kind == "Pod" {
        for quota in &counting {
            let required: BTreeSet<String> = quota
                .hard
                .keys()
                .filter(|k| MUST_SPECIFY.contains(&k.as_str()))
                .cloned()
                .collect();
            let missing = pod::missing(object, &required);
            if !missing.is_empty() {
                return Some(message::must_specify(&quota.name, &missing));
            }
        }
    }
    let negative: Vec<String> = crate::resources::negative(delta)
        .into_iter()
        .filter(|name| counting.iter().any(|q| q.hard.contains_key(name)))
        .collect();
    (!negative.is_empty()).then(|| message::negative(&negative))
}

/// What a write does to one namespace's quotas (Kubernetes' `CheckRequest`, plus the
/// release the quota controller would make on its next recount).
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// The object written (for a delete, the one deleted): whether a quota's scopes count
    /// it.
    pub object: &'a Value,
    /// What it uses beyond what it used: charged.
    pub requested: &'a Usage,
    /// What it no longer uses: given back.
    pub released: &'a Usage,
    /// The object is new (a create), so a recount from the cache must leave it out; else
    /// the cache holds its old version, which the recorded usage includes.
    pub created: bool,
}

/// Settles `change` against every quota whose scopes count the object: each that
/// constrains some of what is requested or released gets one status update, with the
/// request added (denied when that would take it over a hard limit) and the release given
/// back (never below zero). A quota being deleted itself gets none.
pub fn settle(
    quotas: &[Quota],
    subject: Subject<'_>,
    change: Change<'_>,
    objects: &dyn Objects,
) -> Outcome {
    let requested_all = non_zero(change.requested.clone());
    let released_all = non_zero(change.released.clone());
    let mut updates = Vec::new();
    for quota in quotas {
        let itself = subject.kind.group.is_empty()
            && subject.kind.kind == "ResourceQuota"
            && subject.name == quota.name;
        if itself || !quota.scopes.matches(&subject.kind, change.object) {
            continue;
        }
        let requested = mask(&requested_all, &quota.hard);
        let released = mask(&released_all, &quota.hard);
        if requested.is_empty() && released.is_empty() {
            continue;
        }
        let used = quota.used(objects, change.created.then_some(subject));
        let mut new = used.clone();
        add_into(&mut new, &requested);
        let exceeded: BTreeSet<String> = requested
            .keys()
            .filter(|name| new.get(*name) > quota.hard.get(*name))
            .cloned()
            .collect();
        if !exceeded.is_empty() {
            return Outcome::Denied(message::exceeded(
                &quota.name,
                &requested,
                &used,
                &quota.hard,
                &exceeded,
            ));
        }
        updates.push(quota.with_used(&release(&new, &released)));
    }
    Outcome::Allowed(updates)
}

#[cfg(test)]
mod tests;
