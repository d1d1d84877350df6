//! Where objects of the built-in kinds hold a pod: a Pod itself, a workload's pod template,
//! a CronJob's job template, a PodTemplate. One table, so every plugin that looks into pods
//! finds them in the same kinds.

/// Where an object of a built-in kind holds its pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodAt {
    /// The object is a Pod.
    Pod,
    /// A workload's `spec.template` (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
    /// ReplicationController).
    Template,
    /// A CronJob's `spec.jobTemplate.spec.template`.
    JobTemplate,
    /// A PodTemplate's `template`.
    PodTemplate,
}

impl PodAt {
    /// Where an object of `kind` in API `group` holds a pod; none for other kinds (a kind of
    /// the same name in another group included).
    pub fn of(group: &str, kind: &str) -> Option<PodAt> {
        match (group, kind) {
            ("", "Pod") => Some(PodAt::Pod),
            ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
            | ("batch", "Job")
            | ("", "ReplicationController") => Some(PodAt::Template),
            ("batch", "CronJob") => Some(PodAt::JobTemplate),
            ("", "PodTemplate") => Some(PodAt::PodTemplate),
            _ => None,
        }
    }

    /// The JSON pointer to the pod template (its `metadata` and `spec`); "" for a Pod, which
    /// is its own.
    pub fn template_pointer(self) -> &'static str {
        match self {
            PodAt::Pod => "",
            PodAt::Template => "/spec/template",
            PodAt::JobTemplate => "/spec/jobTemplate/spec/template",
            PodAt::PodTemplate => "/template",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_matched_with_their_group() {
        assert_eq!(PodAt::of("", "Pod"), Some(PodAt::Pod));
        assert_eq!(PodAt::of("apps", "Deployment"), Some(PodAt::Template));
        assert_eq!(PodAt::of("batch", "Job"), Some(PodAt::Template));
        assert_eq!(PodAt::of("batch", "CronJob"), Some(PodAt::JobTemplate));
        assert_eq!(PodAt::of("", "PodTemplate"), Some(PodAt::PodTemplate));
        assert_eq!(PodAt::of("example.com", "Deployment"), None);
        assert_eq!(PodAt::of("", "ConfigMap"), None);
        assert_eq!(
            PodAt::JobTemplate.template_pointer(),
            "/spec/jobTemplate/spec/template"
        );
    }
}
