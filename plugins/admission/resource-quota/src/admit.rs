//! Which writes quota looks at and its answer to each, as a pure function of the request
//! and the namespace's cached objects: creates and the updates Kubernetes charges are
//! charged (or denied), deletes and updates that use less give usage back, everything else
//! is allowed as it is.

use keel_sdk::admission::{Operation, PluginError, Request, Verdict};
use serde_json::Value;

use crate::quota::{Change, Objects, Outcome, Quota, Subject, constraints, settle};
use crate::resources::{Usage, excess};
use crate::usage::{Kind, usage};

/// A verdict, and what to log about it (quotas ignored).
#[derive(Debug)]
pub struct Answer {
    /// The verdict, with its status updates.
    pub verdict: Verdict,
    /// Lines for the host's log.
    pub notes: Vec<String>,
}

fn allow() -> Answer {
    Answer {
        verdict: Verdict::allow(),
        notes: vec![],
    }
}

fn parse(text: Option<&str>) -> Result<Option<Value>, PluginError> {
    Ok(match text {
        Some(text) => Some(serde_json::from_str(text)?),
        None => None,
    })
}

/// Whether quota looks at a write with this subresource: creates of the object itself;
/// updates of it, its status (a pod finishing) or its resources (`resize`); deletes.
fn handled(request: &Request) -> bool {
    let sub = request.subresource.as_deref().unwrap_or_default();
    match request.operation {
        Operation::Create => sub.is_empty(),
        Operation::Update => matches!(sub, "" | "status" | "resize"),
        Operation::Delete => sub.is_empty(),
        Operation::Connect => false,
    }
}

/// The answer to `request`; `objects` lists the namespace's cached objects.
pub fn validate(request: &Request, objects: &dyn Objects) -> Result<Answer, PluginError> {
    if request.namespace.is_empty() || !handled(request) {
        return Ok(allow());
    }
    let subject = Subject {
        kind: Kind {
            group: &request.group,
            kind: &request.kind,
            plural: &request.resource,
        },
        name: &request.name,
    };
    // The quotas first: most namespaces have none, and then no usage need be measured.
    let mut notes = Vec::new();
    let quotas: Vec<Quota> = objects
        .list("ResourceQuota")
        .into_iter()
        .filter_map(|q| Quota::read(q).map_err(|why| notes.push(why)).ok())
        .collect();
    if quotas.is_empty() {
        return Ok(Answer {
            verdict: Verdict::allow(),
            notes,
        });
    }
    let object = parse(request.object.as_deref())?;
    let old = parse(request.old_object.as_deref())?;
    let none = Usage::new();
    // (the object the quotas' scopes judge, what it uses more, what it uses less)
    let (judged, requested, released) = match (request.operation, &object, &old) {
        (Operation::Create, Some(new), _) => (new, usage(&subject.kind, new), none),
        (Operation::Delete, _, Some(old)) => (old, none, usage(&subject.kind, old)),
        (Operation::Update, Some(new), Some(old)) => {
            let (before, after) = (usage(&subject.kind, old), usage(&subject.kind, new));
            let requested = if update_charged(request) {
                excess(&after, &before)
            } else {
                none
            };
            (new, requested, excess(&before, &after))
        }
        _ => return Ok(allow()),
    };
    let created = request.operation == Operation::Create;
    if !created && requested.is_empty() && released.is_empty() {
        return Ok(Answer {
            verdict: Verdict::allow(),
            notes,
        });
    }
    if !requested.is_empty()
        && let Some(message) = constraints(&quotas, subject, judged, &requested)
    {
        return Ok(Answer {
            verdict: Verdict::forbidden(message),
            notes,
        });
    }
    let change = Change {
        object: judged,
        requested: &requested,
        released: &released,
        created,
    };
    let verdict = match settle(&quotas, subject, change, objects) {
        Outcome::Denied(message) => Verdict::forbidden(message),
        Outcome::Allowed(updates) => {
            let mut verdict = Verdict::allow();
            verdict.status_updates = updates.iter().map(Value::to_string).collect();
            verdict
        }
    };
    Ok(Answer { verdict, notes })
}

/// Whether an update can use more, as Kubernetes' evaluators charge updates: a pod only
/// through `resize`; a Service (its type) and a PersistentVolumeClaim (its request) as a
/// whole; other kinds never (their usage is their count).
fn update_charged(request: &Request) -> bool {
    let sub = request.subresource.as_deref().unwrap_or_default();
    request.group.is_empty()
        && match request.kind.as_str() {
            "Pod" => sub == "resize",
            "Service" | "PersistentVolumeClaim" => sub.is_empty(),
            _ => false,
        }
}

#[cfg(test)]
mod tests;
