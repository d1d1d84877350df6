//! Which writes quota looks at and its answer to each, as a pure function of the request
//! and the namespace's cached objects: creates are charged (or denied), deletes and
//! updates that use less give usage back, everything else is allowed as it is.

use keel_sdk::admission::{Operation, PluginError, Request, Verdict};
use serde_json::Value;

use crate::quota::{Objects, Outcome, Quota, Subject, charge, give_back};
use crate::resources::excess;
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
    let object = parse(request.object.as_deref())?;
    let old = parse(request.old_object.as_deref())?;
    let released = match (request.operation, &object, &old) {
        (Operation::Create, Some(_), _) => None,
        (Operation::Delete, _, Some(old)) => Some(usage(&subject.kind, old)),
        (Operation::Update, Some(new), Some(old)) => Some(excess(
            &usage(&subject.kind, old),
            &usage(&subject.kind, new),
        )),
        _ => return Ok(allow()),
    };
    if released.as_ref().is_some_and(|r| r.is_empty()) {
        return Ok(allow());
    }
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
    let verdict = match (released, object) {
        (Some(released), _) => {
            let mut verdict = Verdict::allow();
            verdict.status_updates = give_back(&quotas, subject, &released, objects)
                .iter()
                .map(Value::to_string)
                .collect();
            verdict
        }
        (None, Some(object)) => match charge(&quotas, subject, &object, objects) {
            Outcome::Denied(message) => Verdict::forbidden(message),
            Outcome::Allowed(updates) => {
                let mut verdict = Verdict::allow();
                verdict.status_updates = updates.iter().map(Value::to_string).collect();
                verdict
            }
        },
        (None, None) => Verdict::allow(),
    };
    Ok(Answer { verdict, notes })
}

#[cfg(test)]
mod tests;
