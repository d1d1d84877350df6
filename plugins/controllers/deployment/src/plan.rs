//! One reconcile's working state: the Deployment's ReplicaSets as this reconcile wants
//! them, the ones it releases, creates and deletes, and the Deployment's wanted status and
//! revision annotation; and how that becomes the host's actions.
//!
//! Kubernetes' controller writes as it goes; here every change is made to a working copy
//! and each object is written once, guarded by the version read (a second write of the
//! same object would fail its precondition). Actions come in the order the changes were
//! first made; the Deployment is written last: its status when that changed, otherwise
//! its revision annotation (both cannot be written in one answer, and a status write
//! brings another reconcile, which then writes the annotation).

use keel_sdk::controller::{Action, ReconcileResult, objects};
use serde_json::{Value, json};

use crate::annotations::{self, REVISION};
use crate::deployment::Deployment;
use crate::replicasets::ReplicaSet;

/// The working state of one reconcile of one Deployment.
pub struct Plan<'a> {
    /// The Deployment as read.
    pub d: &'a Deployment,
    /// The time of this reconcile.
    pub now: u64,
    /// The ReplicaSets the Deployment owns (after adoption and release), and the one it
    /// creates.
    pub rss: Vec<ReplicaSet>,
    /// Which of `rss` is the new ReplicaSet (its template is the Deployment's).
    pub new: Option<usize>,
    /// ReplicaSets no longer selected, with the Deployment's reference removed.
    pub released: Vec<Value>,
    /// Old ReplicaSets to delete (revision history cleanup).
    pub deletes: Vec<Value>,
    /// The Deployment as this reconcile wants it (status and revision annotation).
    pub deployment: Value,
    /// Reconcile again after this many milliseconds.
    pub requeue: Option<u64>,
    /// Names of the changed ReplicaSets, in the order they were first changed.
    order: Vec<String>,
}

impl<'a> Plan<'a> {
    /// A plan over the Deployment `d`'s owned ReplicaSets `rss` at `now`.
    pub fn new(
        d: &'a Deployment,
        rss: Vec<ReplicaSet>,
        released: Vec<Value>,
        now: u64,
    ) -> Plan<'a> {
        let mut plan = Plan {
            d,
            now,
            rss,
            new: None,
            released,
            deletes: Vec::new(),
            deployment: d.object.clone(),
            requeue: None,
            order: Vec::new(),
        };
        for i in 0..plan.rss.len() {
            if plan.rss[i].changed() {
                plan.touch(i);
            }
        }
        plan
    }

    /// Notes that ReplicaSet `i` is (or may be) changed, keeping the order of first changes.
    pub fn touch(&mut self, i: usize) {
        if let Some(rs) = self.rss.get(i) {
            let name = rs.name().to_string();
            if !self.order.contains(&name) {
                self.order.push(name);
            }
        }
    }

    /// Adds `rs` (to be created) and makes it the new ReplicaSet.
    pub fn add_created(&mut self, rs: ReplicaSet) -> usize {
        self.rss.push(rs);
        let i = self.rss.len() - 1;
        self.touch(i);
        self.new = Some(i);
        i
    }

    /// The new ReplicaSet, if there is one.
    pub fn new_rs(&self) -> Option<&ReplicaSet> {
        self.new.and_then(|i| self.rss.get(i))
    }

    /// Indexes of the old ReplicaSets (every owned one but the new).
    pub fn old(&self) -> Vec<usize> {
        (0..self.rss.len())
            .filter(|i| Some(*i) != self.new)
            .collect()
    }

    /// Indexes of the old ReplicaSets with replicas (`FilterActiveReplicaSets`).
    pub fn active_old(&self) -> Vec<usize> {
        self.old()
            .into_iter()
            .filter(|i| self.rss[*i].replicas() > 0)
            .collect()
    }

    /// `scaleReplicaSet`: sets ReplicaSet `i` to `replicas` and its desired and max
    /// replicas annotations to the Deployment's; whether its size changed.
    pub fn scale(&mut self, i: usize, replicas: i64) -> bool {
        let (desired, max) = (self.d.replicas, self.d.replicas + self.d.max_surge());
        let Some(rs) = self.rss.get_mut(i) else {
            return false;
        };
        let resized = rs.replicas() != replicas;
        if resized || annotations::replicas_annotations_need_update(rs, desired, max) {
            rs.set_replicas(replicas);
            annotations::set_replicas_annotations(rs, desired, max);
            self.touch(i);
        }
        resized
    }

    /// `status` of the working Deployment.
    pub fn status(&self) -> &Value {
        self.deployment.get("status").unwrap_or(&Value::Null)
    }

    /// Replaces the working Deployment's status.
    pub fn set_status(&mut self, status: Value) {
        if let Some(root) = self.deployment.as_object_mut() {
            root.insert("status".into(), status);
        }
    }

    /// Sets the working Deployment's revision annotation.
    pub fn set_revision(&mut self, revision: &str) {
        let Some(root) = self.deployment.as_object_mut() else {
            return;
        };
        let metadata = root.entry("metadata").or_insert_with(|| json!({}));
        if let Some(metadata) = metadata.as_object_mut() {
            let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
            if !annotations.is_object() {
                *annotations = json!({});
            }
            if let Some(annotations) = annotations.as_object_mut() {
                annotations.insert(REVISION.into(), json!(revision));
            }
        }
    }

    /// Asks for another reconcile within `millis`.
    pub fn requeue_after(&mut self, millis: u64) {
        self.requeue = Some(self.requeue.map_or(millis, |earlier| earlier.min(millis)));
    }

    /// The actions that make the cluster what this plan wants.
    pub fn into_result(self) -> ReconcileResult {
        let mut actions: Vec<Action> = self.released.iter().map(Action::update).collect();
        for name in &self.order {
            let Some(rs) = self.rss.iter().find(|rs| rs.name() == name) else {
                continue;
            };
            match &rs.original {
                None => actions.push(Action::create(&rs.object)),
                Some(_) if rs.changed() => actions.push(Action::update(&rs.object)),
                Some(_) => {}
            }
        }
        for rs in &self.deletes {
            actions.push(Action::delete("apps", "ReplicaSet", rs, None));
        }
        let status_changed =
            !same_status(self.deployment.get("status"), self.d.object.get("status"));
        let revision = |object: &Value| objects::annotations(object).get(REVISION).cloned();
        if status_changed {
            actions.push(Action::update_status(&self.deployment));
        } else if revision(&self.deployment) != revision(&self.d.object) {
            actions.push(Action::update(&self.deployment));
        }
        let result = ReconcileResult::actions(actions);
        match self.requeue {
            Some(millis) => result.requeue_after(millis),
            None => result,
        }
    }
}

/// Whether two statuses are the same (an absent status is an empty one).
fn same_status(a: Option<&Value>, b: Option<&Value>) -> bool {
    let empty = json!({});
    let a = a.filter(|v| !v.is_null()).unwrap_or(&empty);
    let b = b.filter(|v| !v.is_null()).unwrap_or(&empty);
    a == b
}
