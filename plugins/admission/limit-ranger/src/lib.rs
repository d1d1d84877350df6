//! Admission plugin: Kubernetes' LimitRanger. Containers get the default requests and
//! limits of their namespace's LimitRange objects, and pods and PersistentVolumeClaims must
//! stay within the LimitRanges' minimums, maximums and limit/request ratios.
//!
//! Configuration: none. The LimitRanges are read from the admission cache
//! (`cache::list("", "LimitRange", namespace, "")`), in the cache's order.
//!
//! `mutate`, on a Pod create (not a subresource): for every container and init container
//! and every resource in a `type: Container` item's `default` or `defaultRequest`, a missing
//! `resources.limits[r]` is set from `default`, a missing `resources.requests[r]` from the
//! container's own limit when it set one, else from `defaultRequest`. Like Kubernetes'
//! API server, which stores LimitRanges with these filled in, a `Container` item's missing
//! `default` is its `max`, and a missing `defaultRequest` is its `default`, else its `min`.
//! With several LimitRanges the first to give a resource wins. The answer is an RFC 6902
//! JSON Patch of `add` operations (creating `resources`, `limits`, `requests` and
//! `metadata.annotations` when absent; keys like `example.com/gpu` escaped as
//! `example.com~1gpu`), plus the annotation `kubernetes.io/limit-ranger:
//! "LimitRanger plugin set: cpu, memory request for container web; cpu, memory limit for
//! container web"`.
//!
//! `validate`, on a Pod create, or update whose container resources changed: every
//! `type: Container` item's `min` (request, and limit when set, at least), `max` (limit
//! required, limit and request at most) and `maxLimitRequestRatio` on each container and
//! init container, and every `type: Pod` item's on the pod's totals (containers summed,
//! init containers max'ed, sidecars added, as `podRequests` does); on a
//! PersistentVolumeClaim create or storage change, `type: PersistentVolumeClaim` items'
//! `min`/`max` of `spec.resources.requests`. A request left unset where a limit is set counts
//! as the limit (Kubernetes defaults pods so before admission). Violations deny with 403
//! Forbidden in Kubernetes' words (`maximum memory usage per Container is 1Gi, but limit is
//! 2Gi`), several as `[a, b]`. Quantities are quoted as written.

pub mod admit;
pub mod amount;
pub mod check;
pub mod defaults;
pub mod patch;
pub mod pod;
pub mod range;

use keel_sdk::admission::{
    Admission, Level, Mutation, PluginError, Request, Steps, Verdict, cache, host,
};

use crate::range::Item;

/// The items of each LimitRange in `namespace`, from the admission cache.
fn limit_ranges(namespace: &str) -> Vec<Vec<Item>> {
    cache::list("", "LimitRange", namespace, "")
        .iter()
        .filter_map(|text| match serde_json::from_str(text) {
            Ok(range) => Some(range::items(&range)),
            Err(e) => {
                host::log(
                    Level::Warn,
                    &format!("a LimitRange in {namespace:?} is not JSON: {e}"),
                );
                None
            }
        })
        .collect()
}

struct LimitRanger;

impl Admission for LimitRanger {
    const STEPS: Steps = Steps::BOTH;

    fn mutate(request: Request) -> Result<Mutation, PluginError> {
        let patch = admit::mutate(&request, || limit_ranges(&request.namespace))?;
        Ok(Mutation {
            patch,
            warnings: vec![],
        })
    }

    fn validate(request: Request) -> Result<Verdict, PluginError> {
        admit::validate(&request, || limit_ranges(&request.namespace))
    }
}

keel_sdk::export_admission!(LimitRanger);
