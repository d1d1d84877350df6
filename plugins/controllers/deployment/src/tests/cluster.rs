//! A small cluster for the controller's tests: a `FakeView` holding the objects, the
//! API's side of the host's actions (optimistic concurrency on `resourceVersion`, the
//! status subresource, generation bumped by spec changes, uid-guarded deletes), and a
//! stand-in for the ReplicaSet controller that keeps each ReplicaSet's status.

use keel_sdk::controller::testing::FakeView;
use keel_sdk::controller::{Action, ObjectRef, ReconcileResult, Reconciler, View, objects, time};
use keel_sdk::labels::Selector;
use serde_json::{Value, json};

use crate::DeploymentController;

/// The namespace every test object lives in.
pub const NS: &str = "ns";
/// The Deployment every test reconciles.
pub const NAME: &str = "web";
/// A moment in 2026, the tests' starting time.
pub const T0: u64 = 1_790_000_000_000;

/// Objects, a clock and the controller.
pub struct Cluster {
    /// What the controller reads.
    pub view: FakeView,
    /// The time.
    pub now: u64,
    counter: u64,
    controller: DeploymentController,
}

/// A Deployment `web` selecting `app: web`, of `replicas` running `image`.
pub fn deployment(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
    })
}

/// The group and kind of `object` from its `apiVersion` and `kind`.
fn group_kind(object: &Value) -> (String, String) {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("v1");
    let group = api_version
        .split_once('/')
        .map(|(g, _)| g)
        .unwrap_or_default();
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    (group.to_string(), kind.to_string())
}

impl Cluster {
    /// An empty cluster at `T0`.
    pub fn new() -> Result<Cluster, String> {
        Ok(Cluster {
            view: FakeView::new().at(T0),
            now: T0,
            counter: 0,
            controller: DeploymentController::new("null").map_err(|e| e.message)?,
        })
    }

    /// A cluster holding `deployment`.
    pub fn with(deployment: Value) -> Result<Cluster, String> {
        let mut cluster = Cluster::new()?;
        cluster.create(deployment)?;
        Ok(cluster)
    }

    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// Moves the clock on.
    pub fn advance(&mut self, millis: u64) {
        self.now += millis;
        self.view = std::mem::take(&mut self.view).at(self.now);
    }

    /// Creates `object` as the API would (uid, resourceVersion, generation, creation time).
    pub fn create(&mut self, mut object: Value) -> Result<Value, String> {
        let (group, kind) = group_kind(&object);
        let name = objects::name(&object).to_string();
        if self.view.get(&group, &kind, NS, &name).is_some() {
            return Err(format!("{kind} {name} already exists"));
        }
        let n = self.next();
        let uid = format!("uid-{n}");
        let metadata = &mut object["metadata"];
        metadata["namespace"] = json!(NS);
        metadata["uid"] = json!(uid);
        metadata["resourceVersion"] = json!(n.to_string());
        metadata["generation"] = json!(1);
        metadata["creationTimestamp"] = json!(time::format_rfc3339(self.now + n * 1000));
        self.view.put(&group, &kind, object.clone());
        Ok(object)
    }

    /// The object of `group`/`kind` named `name`.
    pub fn get(&self, group: &str, kind: &str, name: &str) -> Result<Value, String> {
        self.view
            .get(group, kind, NS, name)
            .ok_or_else(|| format!("no {kind} {name}"))
    }

    /// The Deployment.
    pub fn deployment(&self) -> Result<Value, String> {
        self.get("apps", "Deployment", NAME)
    }

    /// Every ReplicaSet, oldest first.
    pub fn replica_sets(&self) -> Vec<Value> {
        let mut list = self
            .view
            .list("apps", "ReplicaSet", NS, &Selector::everything());
        list.sort_by_key(|rs| {
            rs.pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .and_then(time::parse_rfc3339)
        });
        list
    }

    /// The Deployment with `edit` made to it through the API (a spec change bumps its
    /// generation).
    pub fn edit_deployment(&mut self, edit: impl FnOnce(&mut Value)) -> Result<(), String> {
        let mut d = self.deployment()?;
        edit(&mut d);
        self.apply(&Action::update(&d))
    }

    /// Reconciles the Deployment once.
    pub fn reconcile(&self) -> Result<ReconcileResult, String> {
        let key = ObjectRef::new("apps", "Deployment", NS, NAME);
        let object = self.view.get("apps", "Deployment", NS, NAME);
        self.controller
            .reconcile(&self.view, &key, object)
            .map_err(|e| e.message)
    }

    /// Reconciles and applies the answer; `check` runs after each applied action.
    pub fn step_checked(
        &mut self,
        mut check: impl FnMut(&Cluster) -> Result<(), String>,
    ) -> Result<ReconcileResult, String> {
        let result = self.reconcile()?;
        for action in &result.actions {
            self.apply(action)?;
            check(self)?;
        }
        Ok(result)
    }

    /// Reconciles and applies the answer.
    pub fn step(&mut self) -> Result<ReconcileResult, String> {
        self.step_checked(|_| Ok(()))
    }

    /// Applies one action as the API would.
    pub fn apply(&mut self, action: &Action) -> Result<(), String> {
        match action {
            Action::Create(text) => {
                let object: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
                self.create(object).map(|_| ())
            }
            Action::Update(text) => self.replace(text, false),
            Action::UpdateStatus(text) => self.replace(text, true),
            Action::Delete(deletion) => {
                let target = &deletion.target;
                let current = self.get(&target.group, &target.kind, &target.name)?;
                if deletion
                    .uid
                    .as_deref()
                    .is_some_and(|uid| uid != objects::uid(&current))
                {
                    return Err(format!("conflict deleting {}", target.name));
                }
                self.view
                    .remove(&target.group, &target.kind, NS, &target.name);
                Ok(())
            }
        }
    }

    fn replace(&mut self, text: &str, status_only: bool) -> Result<(), String> {
        let proposed: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let (group, kind) = group_kind(&proposed);
        let name = objects::name(&proposed);
        let current = self.get(&group, &kind, name)?;
        let version = |o: &Value| o.pointer("/metadata/resourceVersion").cloned();
        if version(&proposed) != version(&current) {
            return Err(format!("conflict updating {kind} {name}"));
        }
        let mut next = if status_only {
            let mut next = current.clone();
            next["status"] = proposed.get("status").cloned().unwrap_or(Value::Null);
            next
        } else {
            let mut next = proposed.clone();
            next["status"] = current.get("status").cloned().unwrap_or(Value::Null);
            for field in ["uid", "creationTimestamp", "generation"] {
                next["metadata"][field] = current["metadata"][field].clone();
            }
            if next.get("spec") != current.get("spec") {
                let generation = current
                    .pointer("/metadata/generation")
                    .and_then(Value::as_i64);
                next["metadata"]["generation"] = json!(generation.unwrap_or(0) + 1);
            }
            next
        };
        let n = self.next();
        next["metadata"]["resourceVersion"] = json!(n.to_string());
        self.view.put(&group, &kind, next);
        Ok(())
    }

    /// The ReplicaSet controller's part: each ReplicaSet's pods follow its spec (removed
    /// pods are unavailable ones first; added ones start unavailable), and when
    /// `available` every pod becomes available; whether any status changed.
    pub fn run_replica_sets(&mut self, available: bool) -> Result<bool, String> {
        let mut changed = false;
        for rs in self.replica_sets() {
            let int = |p: &str| rs.pointer(p).and_then(Value::as_i64).unwrap_or(0);
            let spec = rs
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let mut ready = int("/status/availableReplicas").min(spec);
            if available {
                ready = spec;
            }
            let mut next = rs.clone();
            next["status"] = json!({
                "replicas": spec,
                "readyReplicas": ready,
                "availableReplicas": ready,
                "observedGeneration": int("/metadata/generation"),
            });
            if next != rs {
                self.apply(&Action::update_status(&next))?;
                changed = true;
            }
        }
        Ok(changed)
    }

    /// Pods for ReplicaSet `rs`: `count` of them, in `phase`.
    pub fn add_pods(&mut self, rs: &Value, count: usize, phase: &str) -> Result<(), String> {
        for n in 0..count {
            let pod = json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": format!("{}-{n}", objects::name(rs)),
                    "labels": rs.pointer("/spec/template/metadata/labels").cloned().unwrap_or_default(),
                    "ownerReferences": [objects::controller_reference("apps/v1", "ReplicaSet", rs)],
                },
                "status": {"phase": phase},
            });
            self.create(pod)?;
        }
        Ok(())
    }

    /// Reconciles, applies and lets the ReplicaSets settle (every pod available) until
    /// a reconcile answers nothing and no ReplicaSet changes; the number of rounds.
    pub fn settle(&mut self) -> Result<usize, String> {
        for round in 0..50 {
            let result = self.step()?;
            let changed = self.run_replica_sets(true)?;
            if result.actions.is_empty() && !changed {
                return Ok(round);
            }
        }
        Err("no steady state after 50 rounds".into())
    }
}

/// The names of the ReplicaSets an answer creates.
pub fn created(result: &ReconcileResult) -> Vec<Value> {
    result
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Create(text) => serde_json::from_str(text).ok(),
            _ => None,
        })
        .collect()
}

/// The objects an answer updates (not their status).
pub fn updated(result: &ReconcileResult) -> Vec<Value> {
    result
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Update(text) => serde_json::from_str(text).ok(),
            _ => None,
        })
        .collect()
}

/// The status an answer writes, if any.
pub fn status_written(result: &ReconcileResult) -> Option<Value> {
    result.actions.iter().find_map(|a| match a {
        Action::UpdateStatus(text) => serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|d| d.get("status").cloned()),
        _ => None,
    })
}

/// The names an answer deletes.
pub fn deleted(result: &ReconcileResult) -> Vec<String> {
    result
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Delete(deletion) => Some(deletion.target.name.clone()),
            _ => None,
        })
        .collect()
}

/// The condition `condition_type` of `deployment`: (status, reason, message).
pub fn condition(deployment: &Value, condition_type: &str) -> Option<(String, String, String)> {
    let c = objects::condition(deployment, condition_type)?;
    let field = |f: &str| {
        c.get(f)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Some((field("status"), field("reason"), field("message")))
}

/// `spec.replicas` of `rs`.
pub fn replicas(rs: &Value) -> i64 {
    rs.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// The annotation `key` of `object`.
pub fn annotation(object: &Value, key: &str) -> Option<String> {
    objects::annotations(object).get(key).cloned()
}
