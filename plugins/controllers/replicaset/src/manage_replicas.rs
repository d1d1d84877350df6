//! Bringing a ReplicaSet's pods to `spec.replicas`: Kubernetes' `manageReplicas`.
//!
//! Too few active owned pods: the missing ones are created from the template. Too many: the
//! surplus is deleted, best candidates first ([`crate::scale_down`]), each delete guarded by
//! the pod's uid. Either way at most `burstReplicas` per answer; the caller requeues for the
//! rest. Kubernetes creates in slow-start batches (1, 2, 4, ...) that stop at the first
//! failure; here every creation is in one answer, and the host drops the rest of an answer
//! at its first failed action, which stops creations the same way.

use keel_sdk::controller::{Action, View, objects};
use keel_sdk::labels::Selector;
use serde_json::Value;

use crate::pod_template::pod_from_template;
use crate::scale_down;
use crate::spec::Spec;

/// The creations or deletions one answer makes.
#[derive(Debug, Default)]
pub struct Scaling {
    /// Pod creates, or pod deletes.
    pub actions: Vec<Action>,
    /// Whether more were needed than `burstReplicas` allowed.
    pub more_to_do: bool,
}

/// The actions that bring `owned` (`rs`'s active owned pods) to `spec.replicas`, at most
/// `burst`; `all_pods` are the namespace's pods and `view` gives the sibling ReplicaSets.
pub fn manage_replicas(
    view: &dyn View,
    rs: &Value,
    spec: &Spec<'_>,
    owned: &[Value],
    all_pods: &[Value],
    burst: usize,
) -> Scaling {
    if owned.len() < spec.replicas {
        let missing = spec.replicas - owned.len();
        let pod = pod_from_template(rs, spec.template);
        Scaling {
            actions: (0..missing.min(burst))
                .map(|_| Action::create(&pod))
                .collect(),
            more_to_do: missing > burst,
        }
    } else if owned.len() > spec.replicas {
        let surplus = owned.len() - spec.replicas;
        let count = surplus.min(burst);
        // The sibling ReplicaSets matter only when some pods stay (and to a ReplicaSet
        // with a controller).
        let replica_sets = if count < owned.len() && objects::controller_ref(rs).is_some() {
            let namespace = objects::namespace(rs);
            view.list("apps", "ReplicaSet", namespace, &Selector::everything())
        } else {
            Vec::new()
        };
        let related = scale_down::related_pods(rs, &replica_sets, all_pods);
        Scaling {
            actions: scale_down::pods_to_delete(owned, &related, count, view.now_millis())
                .into_iter()
                .map(|pod| Action::delete("", "Pod", pod, None))
                .collect(),
            more_to_do: surplus > burst,
        }
    } else {
        Scaling::default()
    }
}
