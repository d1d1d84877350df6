//! Admission plugin: Kubernetes' ResourceQuota. Object counts and resource sums per
//! namespace stay within each ResourceQuota's `spec.hard`, charged atomically with the write.
//!
//! Configuration: none. Quotas and the objects they count are read from the admission cache.
//!
//! `validate` (it only validates):
//! - **Create** of an object in a namespace: its usage is measured (see [`usage`]):
//!   `count/<plural>` or `count/<plural>.<group>` for any kind; `pods`, `cpu`/`requests.cpu`,
//!   `memory`/`requests.memory`, `limits.cpu`, `limits.memory`, `ephemeral-storage`,
//!   `hugepages-*` and `requests.<extended>` (`requests.nvidia.com/gpu`) for pods (summed
//!   over containers, max'ed with each init container, plus overhead; a container's limit
//!   counts as its request when it sets none, as Kubernetes' pod defaulting does);
//!   `services`, `services.loadbalancers`, `services.nodeports`; `persistentvolumeclaims`,
//!   `requests.storage` and their `<class>.storageclass.storage.k8s.io/` forms; `configmaps`,
//!   `secrets`, `resourcequotas`, `replicationcontrollers`. A pod must set, in every
//!   container, each of `cpu`, `memory`, `requests.*`, `limits.*` (cpu and memory) a quota
//!   constrains: else 403 `failed quota: q: must specify limits.cpu for: web; requests.cpu
//!   for: web`. A negative amount of a constrained resource is refused (`quota usage is
//!   negative for resource(s): requests.cpu`). Each quota whose `spec.hard` names something
//!   the object uses (non-zero) is charged; if one would go over, 403 `exceeded quota: q,
//!   requested: pods=1,requests.cpu=500m, used: pods=2,requests.cpu=1600m, limited:
//!   pods=2,requests.cpu=2` (only the exceeded resources, names sorted, quantities printed
//!   canonically). Otherwise the write is allowed with, in `status_updates`, each charged quota
//!   as read from the cache (metadata and `resourceVersion` kept) with `status: {hard:
//!   spec.hard, used: new usage}`. The host commits them with the write, all or nothing, or,
//!   if a quota moved on, refreshes its cache and asks again: that is what makes the count
//!   exact under concurrency.
//! - A quota whose `status.hard` differs from `spec.hard` or whose `status.used` lacks a
//!   hard resource (new or edited) has its usage recounted from the cached pods, services,
//!   configmaps, secrets, claims, quotas and limit ranges of the namespace (pods in phase
//!   Succeeded/Failed count only for `count/pods`; objects marked for deletion not at all);
//!   resources of kinds the cache does not hold keep their recorded value.
//! - **Delete**: the object's usage is given back (never below zero); never denied.
//! - **Update**: what the object uses more is charged where Kubernetes' evaluators charge
//!   updates: a pod's `resize` subresource, a Service (a type change to `NodePort` or
//!   `LoadBalancer`), a PersistentVolumeClaim (a larger request); other updates are not
//!   charged (pod resources are immutable). What the object stops using (a pod reaching
//!   Succeeded/Failed, an object marked for deletion, a smaller resize) is given back. Both
//!   go in one status update per quota.
//! - **Scopes** (`spec.scopes`, `spec.scopeSelector`; see [`scope`]): a scoped quota counts
//!   only the pods in its scopes, when charging, releasing and recounting. Its scopes are
//!   judged on the object as written (for a delete, as it was). A quota with a scope the
//!   plugin does not know is not enforced, and the plugin logs it.

pub mod admit;
pub mod message;
pub mod pod;
pub mod quota;
pub mod resources;
pub mod scope;
pub mod usage;

use keel_sdk::admission::{Admission, Level, PluginError, Request, Steps, Verdict, cache, host};
use serde_json::Value;

use crate::quota::Objects;

/// The request namespace's objects, read from the host's admission cache.
struct Cached<'a> {
    namespace: &'a str,
}

impl Objects for Cached<'_> {
    fn list(&self, kind: &str) -> Vec<Value> {
        cache::list("", kind, self.namespace, "")
            .iter()
            .filter_map(|text| match serde_json::from_str(text) {
                Ok(object) => Some(object),
                Err(e) => {
                    host::log(
                        Level::Warn,
                        &format!("a cached {kind} in {:?} is not JSON: {e}", self.namespace),
                    );
                    None
                }
            })
            .collect()
    }
}

struct ResourceQuota;

impl Admission for ResourceQuota {
    const STEPS: Steps = Steps::VALIDATE;

    fn validate(request: Request) -> Result<Verdict, PluginError> {
        let objects = Cached {
            namespace: &request.namespace,
        };
        let answer = admit::validate(&request, &objects)?;
        for note in &answer.notes {
            host::log(Level::Info, note);
        }
        Ok(answer.verdict)
    }
}

keel_sdk::export_admission!(ResourceQuota);
