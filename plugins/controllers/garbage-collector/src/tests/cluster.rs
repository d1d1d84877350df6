//! A small stand-in for the API server the collector's actions go to: updates guarded by
//! resourceVersion, deletes guarded by uid with the kernel's propagation semantics
//! (Background removes at once, Foreground and Orphan set deletionTimestamp and their
//! finalizer; an object being deleted goes when an update empties its finalizers), and a
//! loop reconciling every object until nothing is left to do.

use keel_sdk::controller::testing::FakeView;
use keel_sdk::controller::{Action, Propagation};
use serde_json::{Value, json};

use super::fixtures::{group_of, reconcile, view_of};
use crate::finalizers;

/// The objects stored.
pub struct Cluster {
    objects: Vec<Value>,
    revision: u64,
}

fn same_key(a: &Value, b: &Value) -> bool {
    a["kind"] == b["kind"]
        && group_of(a) == group_of(b)
        && a["metadata"]["namespace"] == b["metadata"]["namespace"]
        && a["metadata"]["name"] == b["metadata"]["name"]
}

impl Cluster {
    /// A cluster holding `objects`.
    pub fn new(objects: &[&Value]) -> Cluster {
        Cluster {
            objects: objects.iter().map(|o| (*o).clone()).collect(),
            revision: 1,
        }
    }

    /// The view of everything stored.
    pub fn view(&self) -> FakeView {
        view_of(&self.objects.iter().collect::<Vec<_>>())
    }

    /// The stored object of `kind` named `name` (in any namespace).
    pub fn get(&self, kind: &str, name: &str) -> Option<&Value> {
        self.objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
    }

    fn position(&self, like: &Value) -> Option<usize> {
        self.objects.iter().position(|o| same_key(o, like))
    }

    fn next_revision(&mut self) -> String {
        self.revision += 1;
        self.revision.to_string()
    }

    /// Applies one action as the API server would.
    pub fn apply(&mut self, action: &Action) -> Result<(), String> {
        match action {
            Action::Update(json) | Action::UpdateStatus(json) => {
                let mut new: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
                let at = self.position(&new).ok_or("not found")?;
                let stored = &self.objects[at];
                if stored["metadata"]["resourceVersion"] != new["metadata"]["resourceVersion"] {
                    return Err("conflict".into());
                }
                let emptied = new["metadata"]["finalizers"]
                    .as_array()
                    .is_none_or(Vec::is_empty);
                if !new["metadata"]["deletionTimestamp"].is_null() && emptied {
                    self.objects.remove(at);
                    return Ok(());
                }
                new["metadata"]["resourceVersion"] = json!(self.next_revision());
                self.objects[at] = new;
                Ok(())
            }
            Action::Delete(deletion) => {
                let target = &deletion.target;
                let at = self
                    .objects
                    .iter()
                    .position(|o| {
                        o["kind"] == target.kind.as_str()
                            && group_of(o) == target.group
                            && o["metadata"]["name"] == target.name.as_str()
                            && o["metadata"]["namespace"].as_str().unwrap_or_default()
                                == target.namespace
                    })
                    .ok_or("not found")?;
                let stored = &mut self.objects[at];
                if let Some(uid) = &deletion.uid
                    && stored["metadata"]["uid"] != uid.as_str()
                {
                    return Err("uid precondition failed".into());
                }
                let finalizer = match deletion.propagation {
                    Some(Propagation::Foreground) => Some(finalizers::FOREGROUND_DELETION),
                    Some(Propagation::Orphan) => Some(finalizers::ORPHAN),
                    _ => None,
                };
                let mut list: Vec<Value> = stored["metadata"]["finalizers"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if let Some(f) = finalizer
                    && !list.iter().any(|x| x == f)
                {
                    list.push(json!(f));
                }
                if list.is_empty() {
                    self.objects.remove(at);
                } else {
                    stored["metadata"]["finalizers"] = json!(list);
                    stored["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
                }
                Ok(())
            }
            Action::Create(_) => Err("the collector creates nothing".into()),
        }
    }

    /// Reconciles every object, applying each answer until one of its actions fails, round
    /// after round until a round answers nothing; returns the number of actions applied.
    pub fn settle(&mut self) -> usize {
        let mut applied = 0;
        for _ in 0..20 {
            let mut acted = false;
            for object in self.objects.clone() {
                let Some(at) = self.position(&object) else {
                    continue;
                };
                let current = self.objects[at].clone();
                let result = reconcile(&self.view(), &current);
                for action in &result.actions {
                    acted = true;
                    if self.apply(action).is_err() {
                        break;
                    }
                    applied += 1;
                }
            }
            if !acted {
                return applied;
            }
        }
        panic!("the collector never settled");
    }
}
