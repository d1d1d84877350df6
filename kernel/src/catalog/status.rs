//! The status a host writes on a `Plugin`: the Ready condition, what each host runs, the
//! revision history, and call counters. Pure functions from the object and what happened
//! to the status it should have.

use serde_json::{Value, json};

use crate::plugin::{PluginSpec, StatsSnapshot};

/// Revisions kept in `status.history`.
pub const HISTORY_LIMIT: usize = 10;

/// What this host made of the Plugin's current spec.
pub enum Outcome<'a> {
    /// It serves this spec.
    Serving(&'a PluginSpec),
    /// The spec was refused; `serving` is the module still serving, if any.
    Refused {
        /// A CamelCase reason.
        reason: &'a str,
        /// What went wrong.
        message: String,
        /// The module still serving.
        serving: Option<&'a str>,
    },
}

/// An object's `metadata.generation`.
pub fn generation(object: &Value) -> i64 {
    object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// The status a Plugin should have after `outcome` for its spec of `generation`, on host
/// `host`, at time `now` (RFC 3339). `stored` is the Plugin as stored now (its status is
/// the base: other hosts' entries and the history are kept).
pub fn desired(
    stored: &Value,
    generation: i64,
    host: &str,
    outcome: &Outcome<'_>,
    now: &str,
) -> Value {
    let current = stored.get("status").cloned().unwrap_or_else(|| json!({}));
    let (ready, reason, message, module) = match outcome {
        Outcome::Serving(spec) => (
            "True",
            "Loaded",
            format!("serving {}", spec.module),
            Some(spec.module.as_str()),
        ),
        Outcome::Refused {
            reason,
            message,
            serving,
        } => ("False", *reason, message.clone(), *serving),
    };
    let previous = current.pointer("/conditions/0");
    let unchanged = previous
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some(ready);
    let transition = match (
        unchanged,
        previous.and_then(|c| c.get("lastTransitionTime")),
    ) {
        (true, Some(time)) => time.clone(),
        _ => json!(now),
    };
    let mut hosts: Vec<Value> = current
        .get("hosts")
        .and_then(Value::as_array)
        .map(|h| {
            h.iter()
                .filter(|e| e.get("name").and_then(Value::as_str) != Some(host))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    hosts.push(json!({"name": host, "module": module, "observedGeneration": generation, "ready": ready == "True"}));
    hosts.sort_by(|a, b| {
        a.get("name")
            .and_then(Value::as_str)
            .cmp(&b.get("name").and_then(Value::as_str))
    });
    let history = match outcome {
        Outcome::Serving(spec) => with_revision(current.get("history"), spec, now),
        Outcome::Refused { .. } => current.get("history").cloned().unwrap_or_else(|| json!([])),
    };
    let mut status = json!({
        "observedGeneration": generation,
        "conditions": [{
            "type": "Ready", "status": ready, "reason": reason, "message": message,
            "lastTransitionTime": transition, "observedGeneration": generation,
        }],
        "hosts": hosts,
        "history": history,
    });
    if let Some(stats) = current.get("stats") {
        status["stats"] = stats.clone();
    }
    status
}

/// `history` with `spec` as its newest revision: an entry with the same spec (a rollback)
/// moves to the end under a new number, as a Deployment's revisions do.
fn with_revision(history: Option<&Value>, spec: &PluginSpec, now: &str) -> Value {
    let spec_json = serde_json::to_value(spec).unwrap_or_default();
    let mut entries: Vec<Value> = history
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if entries.last().and_then(|e| e.get("spec")) == Some(&spec_json) {
        return json!(entries);
    }
    let next = entries
        .iter()
        .filter_map(|e| e.get("revision").and_then(Value::as_u64))
        .max()
        .unwrap_or(0)
        + 1;
    entries.retain(|e| e.get("spec") != Some(&spec_json));
    entries.push(json!({"revision": next, "spec": spec_json, "loadedAt": now}));
    let excess = entries.len().saturating_sub(HISTORY_LIMIT);
    entries.drain(..excess);
    json!(entries)
}

/// Whether `status` differs from the object's current status in anything but `stats`.
pub fn differs(object: &Value, status: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(map) = v.as_object_mut() {
            map.remove("stats");
        }
        v
    };
    strip(object.get("status").unwrap_or(&Value::Null)) != strip(status)
}

/// The counters as the status shows them.
pub fn stats(snapshot: &StatsSnapshot) -> Value {
    serde_json::to_value(snapshot).unwrap_or_default()
}

/// The spec of revision `revision` in a Plugin's history (the newest but one when `None`:
/// what serving before the current spec).
pub fn revision_spec(object: &Value, revision: Option<u64>) -> Result<Value, String> {
    let entries = object
        .pointer("/status/history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let entry = match revision {
        Some(n) => entries
            .iter()
            .find(|e| e.get("revision").and_then(Value::as_u64) == Some(n)),
        None => entries.len().checked_sub(2).and_then(|i| entries.get(i)),
    };
    let known: Vec<String> = entries
        .iter()
        .filter_map(|e| e.get("revision").and_then(Value::as_u64))
        .map(|n| n.to_string())
        .collect();
    entry
        .and_then(|e| e.get("spec"))
        .cloned()
        .ok_or_else(|| match revision {
            Some(n) => format!(
                "no revision {n} in the history (revisions: {})",
                known.join(", ")
            ),
            None => "no earlier revision to roll back to".to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(module_char: char, tag: &str) -> PluginSpec {
        let object = json!({"spec": {"type": "Admission", "module": format!("sha256:{}", module_char.to_string().repeat(64)), "config": {"tag": tag}}});
        PluginSpec::from_object(&object).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn serving_records_a_revision_and_a_rollback_moves_it_to_the_end() {
        let (a, b) = (spec('a', "1"), spec('b', "2"));
        let mut object = json!({"metadata": {"name": "p", "generation": 1}});
        for (generation, spec) in [(1, &a), (2, &b), (3, &a)] {
            object["metadata"]["generation"] = json!(generation);
            object["status"] = desired(&object, generation, "h1", &Outcome::Serving(spec), "t");
        }
        let revisions: Vec<(u64, Value)> = object["status"]["history"]
            .as_array()
            .map(|h| {
                h.iter()
                    .map(|e| {
                        (
                            e["revision"].as_u64().unwrap_or(0),
                            e["spec"]["config"]["tag"].clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(revisions, vec![(2, json!("2")), (3, json!("1"))]);
        assert_eq!(
            revision_spec(&object, None).map(|s| s["config"]["tag"].clone()),
            Ok(json!("2"))
        );
        assert!(revision_spec(&object, Some(1)).is_err_and(|m| m.contains("revisions: 2, 3")));
        assert_eq!(object["status"]["observedGeneration"], json!(3));
        assert_eq!(
            object["status"]["hosts"],
            json!([{"name": "h1", "module": a.module, "observedGeneration": 3, "ready": true}])
        );
    }

    #[test]
    fn a_refusal_keeps_the_serving_module_and_the_history() {
        let a = spec('a', "1");
        let mut object = json!({"metadata": {"name": "p", "generation": 1}});
        object["status"] = desired(&object, 1, "h1", &Outcome::Serving(&a), "t1");
        object["metadata"]["generation"] = json!(2);
        let refused = Outcome::Refused {
            reason: "CompileFailed",
            message: "bad".into(),
            serving: Some(&a.module),
        };
        let status = desired(&object, 2, "h1", &refused, "t2");
        assert_eq!(status["conditions"][0]["status"], json!("False"));
        assert_eq!(status["conditions"][0]["reason"], json!("CompileFailed"));
        assert_eq!(status["conditions"][0]["lastTransitionTime"], json!("t2"));
        assert_eq!(status["hosts"][0]["module"], json!(a.module));
        assert_eq!(status["history"].as_array().map(Vec::len), Some(1));
        assert!(differs(&object, &status));
        object["status"] = status.clone();
        assert!(
            !differs(&object, &desired(&object, 2, "h1", &refused, "t3")),
            "the same outcome writes nothing"
        );
    }
}
