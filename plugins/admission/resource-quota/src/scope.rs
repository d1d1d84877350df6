//! Quota scopes: which objects a scoped ResourceQuota counts, from `spec.scopes` and
//! `spec.scopeSelector`, as Kubernetes' pod evaluator matches them (`podMatchesScopeFunc`).
//!
//! - `Terminating` / `NotTerminating`: the pod sets `activeDeadlineSeconds` (>= 0), or not.
//! - `BestEffort` / `NotBestEffort`: the pod's QoS class is BestEffort (no container, init
//!   container or pod-level cpu or memory request or limit above zero), or not.
//! - `PriorityClass`: the pod's `priorityClassName`, through the selector's operator:
//!   `In` / `NotIn` its values, `Exists` (set and not empty), `DoesNotExist` (never: the
//!   name is always present, if empty, as Kubernetes' label-set form has it).
//! - `CrossNamespacePodAffinity`: an affinity or anti-affinity term (required or
//!   preferred) names `namespaces` or has a `namespaceSelector`.
//!
//! Every scope must match. Only pods have scopes: a scoped quota counts no other kind
//! (Kubernetes' other evaluators match no scope). A scope this plugin does not know (for
//! claims, `VolumeAttributesClass`) makes the quota unenforced, and it says so.

use keel_sdk::json::At;
use keel_sdk::quantity::Quantity;
use keel_sdk::quantity::resources::{ResourceList, containers, read};
use serde_json::Value;

use crate::usage::Kind;

/// What the scopes of a quota name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    Terminating,
    NotTerminating,
    BestEffort,
    NotBestEffort,
    PriorityClass,
    CrossNamespacePodAffinity,
}

/// A scope selector's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// One scope a matched object must be in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    name: Name,
    operator: Operator,
    values: Vec<String>,
}

/// A quota's scopes; none counts every object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(Vec<Term>);

impl Scopes {
    /// The scopes of `quota` (its `spec.scopes`, each as an `Exists` term, and its
    /// `spec.scopeSelector.matchExpressions`); `Err` names a scope or operator this plugin
    /// does not know.
    pub fn read(quota: &Value) -> Result<Scopes, String> {
        let mut terms = Vec::new();
        let listed = quota.at("/spec/scopes").and_then(Value::as_array);
        for scope in listed.into_iter().flatten() {
            terms.push(Term {
                name: name(scope.as_str().unwrap_or_default())?,
                operator: Operator::Exists,
                values: Vec::new(),
            });
        }
        let selected = quota
            .at("/spec/scopeSelector/matchExpressions")
            .and_then(Value::as_array);
        for expression in selected.into_iter().flatten() {
            let field = |f: &str| expression.get(f).and_then(Value::as_str).unwrap_or("");
            let operator = match field("operator") {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => return Err(format!("scope selector operator {other:?}")),
            };
            let values = expression
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            terms.push(Term {
                name: name(field("scopeName"))?,
                operator,
                values,
            });
        }
        Ok(Scopes(terms))
    }

    /// Whether the quota counts `object` of `kind`: always when it has no scopes, else
    /// only a pod in every scope.
    pub fn matches(&self, kind: &Kind<'_>, object: &Value) -> bool {
        if self.0.is_empty() {
            return true;
        }
        kind.group.is_empty()
            && kind.kind == "Pod"
            && self.0.iter().all(|term| term.matches(object))
    }
}

fn name(scope: &str) -> Result<Name, String> {
    Ok(match scope {
        "Terminating" => Name::Terminating,
        "NotTerminating" => Name::NotTerminating,
        "BestEffort" => Name::BestEffort,
        "NotBestEffort" => Name::NotBestEffort,
        "PriorityClass" => Name::PriorityClass,
        "CrossNamespacePodAffinity" => Name::CrossNamespacePodAffinity,
        other => return Err(format!("scope {other:?}")),
    })
}

impl Term {
    fn matches(&self, pod: &Value) -> bool {
        match self.name {
            Name::Terminating => terminating(pod),
            Name::NotTerminating => !terminating(pod),
            Name::BestEffort => best_effort(pod),
            Name::NotBestEffort => !best_effort(pod),
            Name::CrossNamespacePodAffinity => cross_namespace_affinity(pod),
            Name::PriorityClass => {
                let class = pod
                    .at("/spec/priorityClassName")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                match self.operator {
                    Operator::In => self.values.iter().any(|v| v == class),
                    Operator::NotIn => !self.values.iter().any(|v| v == class),
                    Operator::Exists => !class.is_empty(),
                    Operator::DoesNotExist => false,
                }
            }
        }
    }
}

/// `activeDeadlineSeconds` set and not negative.
fn terminating(pod: &Value) -> bool {
    pod.at("/spec/activeDeadlineSeconds")
        .and_then(Value::as_i64)
        .is_some_and(|seconds| seconds >= 0)
}

/// QoS class BestEffort: no cpu or memory request or limit above zero anywhere in the pod
/// (its containers, init containers and pod-level resources).
fn best_effort(pod: &Value) -> bool {
    let compute = |list: &ResourceList| {
        list.iter()
            .any(|(name, q)| matches!(name.as_str(), "cpu" | "memory") && *q > Quantity::ZERO)
    };
    let in_containers = ["containers", "initContainers"]
        .into_iter()
        .flat_map(|field| containers(pod, field))
        .any(|c| compute(&c.requests) || compute(&c.limits));
    let pod_resources = pod.at("/spec/resources");
    let pod_level = ["requests", "limits"]
        .into_iter()
        .any(|part| compute(&read(pod_resources.and_then(|r| r.get(part)))));
    !(in_containers || pod_level)
}

/// An affinity or anti-affinity term, required or preferred, with `namespaces` or a
/// `namespaceSelector`.
fn cross_namespace_affinity(pod: &Value) -> bool {
    let affinity = pod.at("/spec/affinity");
    ["podAffinity", "podAntiAffinity"]
        .into_iter()
        .filter_map(|kind| affinity.and_then(|a| a.get(kind)))
        .flat_map(|rules| {
            let required = rules
                .get("requiredDuringSchedulingIgnoredDuringExecution")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            let preferred = rules
                .get("preferredDuringSchedulingIgnoredDuringExecution")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|weighted| weighted.get("podAffinityTerm"));
            required.chain(preferred)
        })
        .any(|term| {
            term.get("namespaces")
                .and_then(Value::as_array)
                .is_some_and(|n| !n.is_empty())
                || term.get("namespaceSelector").is_some_and(|s| !s.is_null())
        })
}

#[cfg(test)]
mod tests;
