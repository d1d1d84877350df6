//! The parts of an object Pod Security reads, so a request's object is parsed into only
//! those ([`keel_sdk::json::parse_only`]) rather than whole: of a pod, the metadata the
//! checks and the namespace warnings name (annotations, name, owner) and the spec fields the
//! standard constrains; of a workload, the same under its pod template; of a namespace, its
//! labels. A check that starts reading another field adds it here.

use keel_sdk::json::Fields::{self, All, Only};
use keel_sdk::pods::PodAt;

use crate::admission::Target;

/// What the checks read of a container (init, regular or ephemeral).
const CONTAINER: Fields = Only(&[
    ("name", All),
    ("image", All),
    ("securityContext", All),
    ("ports", All),
    ("livenessProbe", All),
    ("readinessProbe", All),
    ("startupProbe", All),
    ("lifecycle", All),
]);

/// What the checks read of a pod, or of a pod template.
const POD: Fields = Only(&[
    (
        "metadata",
        Only(&[
            ("name", All),
            ("annotations", All),
            ("ownerReferences", All),
        ]),
    ),
    (
        "spec",
        Only(&[
            ("securityContext", All),
            ("hostNetwork", All),
            ("hostPID", All),
            ("hostIPC", All),
            ("volumes", All),
            ("os", All),
            ("runtimeClassName", All),
            ("initContainers", CONTAINER),
            ("containers", CONTAINER),
            ("ephemeralContainers", CONTAINER),
        ]),
    ),
]);

static POD_OBJECT: Fields = POD;
static TEMPLATE: Fields = Only(&[("spec", Only(&[("template", POD)]))]);
static JOB_TEMPLATE: Fields = Only(&[(
    "spec",
    Only(&[("jobTemplate", Only(&[("spec", Only(&[("template", POD)]))]))]),
)]);
static POD_TEMPLATE: Fields = Only(&[("template", POD)]);

/// What Pod Security reads of an object that holds a pod `at`: its pod, where
/// [`PodAt::template_pointer`] finds it.
pub fn pod(at: PodAt) -> &'static Fields {
    match at {
        PodAt::Pod => &POD_OBJECT,
        PodAt::Template => &TEMPLATE,
        PodAt::JobTemplate => &JOB_TEMPLATE,
        PodAt::PodTemplate => &POD_TEMPLATE,
    }
}

/// What Pod Security reads of a Namespace: its labels.
pub static NAMESPACE: Fields = Only(&[("metadata", Only(&[("labels", All)]))]);

/// What Pod Security reads of an object it reviews as `target`; none for objects it does
/// not review.
pub fn of(target: Target) -> Option<&'static Fields> {
    match target {
        Target::Pod => Some(pod(PodAt::Pod)),
        Target::Workload(at) => Some(pod(at)),
        Target::Namespace => Some(&NAMESPACE),
        Target::Other => None,
    }
}

#[cfg(test)]
mod tests {
    use keel_sdk::json::{At, parse_only};
    use serde_json::{Value, json};

    use super::*;

    fn pod_object() -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"a": "b"},
                         "ownerReferences": [{"uid": "u", "controller": true}]},
            "spec": {"hostPID": true, "nodeName": "n1", "volumes": [{"name": "v", "hostPath": {"path": "/"}}],
                     "securityContext": {"runAsUser": 0},
                     "containers": [{"name": "c", "image": "nginx", "env": [{"name": "A"}],
                                     "securityContext": {"privileged": true},
                                     "ports": [{"hostPort": 80}],
                                     "livenessProbe": {"httpGet": {"host": "h"}},
                                     "resources": {"limits": {"cpu": "1"}}}]},
            "status": {"phase": "Running"}})
    }

    fn kept(text: &str, fields: &Fields) -> Value {
        parse_only(text, fields).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_pod_keeps_what_the_checks_read_and_nothing_else() {
        let object = pod_object();
        let read = kept(&object.to_string(), pod(PodAt::Pod));
        for pointer in [
            "/metadata/name",
            "/metadata/annotations",
            "/metadata/ownerReferences",
            "/spec/hostPID",
            "/spec/volumes",
            "/spec/securityContext",
            "/spec/containers/0/name",
            "/spec/containers/0/image",
            "/spec/containers/0/securityContext",
            "/spec/containers/0/ports",
            "/spec/containers/0/livenessProbe",
        ] {
            assert_eq!(read.at(pointer), object.at(pointer), "{pointer}");
        }
        for gone in [
            "/kind",
            "/metadata/labels",
            "/spec/nodeName",
            "/spec/containers/0/env",
            "/spec/containers/0/resources",
            "/status",
        ] {
            assert_eq!(read.at(gone), None, "{gone}");
        }
    }

    #[test]
    fn a_workload_keeps_its_template_where_the_pointer_finds_it() {
        let template = pod_object();
        for (at, object) in [
            (
                PodAt::Template,
                json!({"kind": "Deployment", "spec": {"replicas": 3, "template": template}}),
            ),
            (
                PodAt::JobTemplate,
                json!({"kind": "CronJob", "spec": {"schedule": "* * * * *",
                    "jobTemplate": {"spec": {"template": template}}}}),
            ),
            (
                PodAt::PodTemplate,
                json!({"kind": "PodTemplate", "template": template}),
            ),
        ] {
            let read = kept(&object.to_string(), pod(at));
            let pointer = at.template_pointer();
            let whole = kept(&template.to_string(), pod(PodAt::Pod));
            assert_eq!(read.at(pointer), Some(&whole), "{at:?}");
            assert_eq!(read.at("/kind"), None, "{at:?}");
        }
    }

    #[test]
    fn each_reviewed_target_has_its_fields_and_others_none() {
        use crate::admission::target;
        let same = |a: Option<&Fields>, b: &Fields| a.is_some_and(|a| std::ptr::eq(a, b));
        assert!(same(of(target("", "Pod")), pod(PodAt::Pod)));
        assert!(same(
            of(target("batch", "CronJob")),
            pod(PodAt::JobTemplate)
        ));
        assert!(same(of(target("apps", "Deployment")), pod(PodAt::Template)));
        assert!(same(of(target("", "Namespace")), &NAMESPACE));
        assert!(of(target("", "ConfigMap")).is_none());
        assert!(of(target("example.com", "Deployment")).is_none());
    }

    #[test]
    fn a_namespace_keeps_its_labels() {
        let namespace = json!({"kind": "Namespace", "metadata": {"name": "team",
            "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}, "status": {"phase": "Active"}});
        assert_eq!(
            kept(&namespace.to_string(), &NAMESPACE),
            json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "baseline"}}})
        );
    }
}
