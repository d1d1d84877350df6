//! The kinds Keel serves: group, version, kind, plural and scope for each, and
//! the lookups between them. The kernel stores every kind generically; this
//! table is the only place a kind is named.

/// How a kind's object names are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain: up to 253 characters of `[a-z0-9.-]`.
    Subdomain,
    /// RFC 1123 label: up to 63 characters of `[a-z0-9-]`.
    Label,
}

/// What a create does with the `status` the client sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusOnCreate {
    /// Keep it (kinds with no status subresource, and Node).
    Keep,
    /// Drop it: status is written through the `status` subresource only.
    Drop,
}

/// One kind served by the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceType {
    /// API group; empty for the core group.
    pub group: &'static str,
    /// Version served.
    pub version: &'static str,
    /// Kind, as in the object's `kind` field.
    pub kind: &'static str,
    /// Lower-case plural used in paths.
    pub plural: &'static str,
    /// Lower-case singular.
    pub singular: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Short names kubectl accepts (`cm`, `deploy`, ...).
    pub short_names: &'static [&'static str],
    /// Whether the kind has a `status` subresource.
    pub status_subresource: bool,
    /// Whether the kind has a `scale` subresource.
    pub scale_subresource: bool,
    /// How names are validated.
    pub name_rule: NameRule,
    /// What a create does with `status`.
    pub status_on_create: StatusOnCreate,
    /// Categories (`all`) for kubectl.
    pub categories: &'static [&'static str],
}

impl ResourceType {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The store prefix of this kind's objects: `group/plural/`.
    pub fn store_prefix(&self) -> String {
        format!("{}/{}/", self.group, self.plural)
    }

    /// `plural.group`, or `plural` for the core group, as errors name it.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

/// Keel's own API group.
pub const KEEL_GROUP: &str = "keel.dev";

const fn rt(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    namespaced: bool,
) -> ResourceType {
    ResourceType {
        group,
        version,
        kind,
        plural,
        singular,
        namespaced,
        short_names: &[],
        status_subresource: false,
        scale_subresource: false,
        name_rule: NameRule::Subdomain,
        status_on_create: StatusOnCreate::Keep,
        categories: &[],
    }
}

const fn with_status(mut r: ResourceType) -> ResourceType {
    r.status_subresource = true;
    r.status_on_create = StatusOnCreate::Drop;
    r
}

const fn with_scale(mut r: ResourceType) -> ResourceType {
    r.scale_subresource = true;
    r
}

const fn short(mut r: ResourceType, names: &'static [&'static str]) -> ResourceType {
    r.short_names = names;
    r
}

const fn label_names(mut r: ResourceType) -> ResourceType {
    r.name_rule = NameRule::Label;
    r
}

const fn in_all(mut r: ResourceType) -> ResourceType {
    r.categories = &["all"];
    r
}

/// Every kind the API serves.
pub static BUILTIN: &[ResourceType] = &[
    label_names(short(
        with_status(rt("", "v1", "Namespace", "namespaces", "namespace", false)),
        &["ns"],
    )),
    {
        // Nodes register with their status (as the kubelet does).
        let mut r = short(
            with_status(rt("", "v1", "Node", "nodes", "node", false)),
            &["no"],
        );
        r.status_on_create = StatusOnCreate::Keep;
        r
    },
    in_all(short(
        with_status(rt("", "v1", "Pod", "pods", "pod", true)),
        &["po"],
    )),
    in_all(label_names(short(
        with_status(rt("", "v1", "Service", "services", "service", true)),
        &["svc"],
    ))),
    short(
        rt("", "v1", "Endpoints", "endpoints", "endpoints", true),
        &["ep"],
    ),
    short(
        rt("", "v1", "ConfigMap", "configmaps", "configmap", true),
        &["cm"],
    ),
    rt("", "v1", "Secret", "secrets", "secret", true),
    short(rt("", "v1", "Event", "events", "event", true), &["ev"]),
    short(
        rt(
            "",
            "v1",
            "ServiceAccount",
            "serviceaccounts",
            "serviceaccount",
            true,
        ),
        &["sa"],
    ),
    short(
        rt("", "v1", "LimitRange", "limitranges", "limitrange", true),
        &["limits"],
    ),
    short(
        with_status(rt(
            "",
            "v1",
            "ResourceQuota",
            "resourcequotas",
            "resourcequota",
            true,
        )),
        &["quota"],
    ),
    in_all(short(
        with_scale(with_status(rt(
            "apps",
            "v1",
            "Deployment",
            "deployments",
            "deployment",
            true,
        ))),
        &["deploy"],
    )),
    in_all(short(
        with_scale(with_status(rt(
            "apps",
            "v1",
            "ReplicaSet",
            "replicasets",
            "replicaset",
            true,
        ))),
        &["rs"],
    )),
    in_all(short(
        with_status(rt(
            "apps",
            "v1",
            "DaemonSet",
            "daemonsets",
            "daemonset",
            true,
        )),
        &["ds"],
    )),
    in_all(short(
        with_scale(with_status(rt(
            "apps",
            "v1",
            "StatefulSet",
            "statefulsets",
            "statefulset",
            true,
        ))),
        &["sts"],
    )),
    rt(
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        "controllerrevision",
        true,
    ),
    in_all(with_status(rt("batch", "v1", "Job", "jobs", "job", true))),
    in_all(short(
        with_status(rt("batch", "v1", "CronJob", "cronjobs", "cronjob", true)),
        &["cj"],
    )),
    rt(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        "lease",
        true,
    ),
    rt(
        "node.k8s.io",
        "v1",
        "RuntimeClass",
        "runtimeclasses",
        "runtimeclass",
        false,
    ),
    with_status(rt(
        KEEL_GROUP, "v1alpha1", "Plugin", "plugins", "plugin", false,
    )),
    rt(
        KEEL_GROUP,
        "v1alpha1",
        "PluginModule",
        "pluginmodules",
        "pluginmodule",
        false,
    ),
];

/// Lookups over the served kinds.
#[derive(Debug, Clone, Copy)]
pub struct Registry {
    types: &'static [ResourceType],
}

impl Default for Registry {
    fn default() -> Self {
        Self { types: BUILTIN }
    }
}

impl Registry {
    /// Every served kind.
    pub fn all(&self) -> &'static [ResourceType] {
        self.types
    }

    /// The kind served at `group/version/plural`.
    pub fn by_path(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<&'static ResourceType> {
        self.types
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    /// The kind named by `apiVersion` and `kind`.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&'static ResourceType> {
        self.types
            .iter()
            .find(|r| r.kind == kind && r.api_version() == api_version)
    }

    /// The kind `kind` of API group `group`, in the first version served.
    pub fn by_group_kind(&self, group: &str, kind: &str) -> Option<&'static ResourceType> {
        self.types
            .iter()
            .find(|r| r.group == group && r.kind == kind)
    }

    /// The distinct groups, core first, in a stable order.
    pub fn groups(&self) -> Vec<&'static str> {
        let mut groups: Vec<&'static str> = Vec::new();
        for r in self.types {
            if !groups.contains(&r.group) {
                groups.push(r.group);
            }
        }
        groups
    }

    /// The versions served for a group.
    pub fn versions(&self, group: &str) -> Vec<&'static str> {
        let mut versions: Vec<&'static str> = Vec::new();
        for r in self.types.iter().filter(|r| r.group == group) {
            if !versions.contains(&r.version) {
                versions.push(r.version);
            }
        }
        versions
    }

    /// Kinds served at one group version.
    pub fn in_group_version<'a>(
        &'a self,
        group: &'a str,
        version: &'a str,
    ) -> impl Iterator<Item = &'static ResourceType> + 'a {
        self.types
            .iter()
            .filter(move |r| r.group == group && r.version == version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_agree() {
        let reg = Registry::default();
        for r in reg.all() {
            let by_path = reg.by_path(r.group, r.version, r.plural).map(|x| x.kind);
            assert_eq!(by_path, Some(r.kind));
            let by_kind = reg.by_kind(&r.api_version(), r.kind).map(|x| x.plural);
            assert_eq!(by_kind, Some(r.plural));
        }
        assert_eq!(reg.groups().first(), Some(&""));
        assert!(reg.by_path("apps", "v1", "pods").is_none());
    }
}
