//! Request paths: `/api/v1/...` and `/apis/{group}/{version}/...` split into
//! the kind, namespace, name and subresource they address.

use crate::object::{Registry, ResourceType};
use crate::registry::ApiError;

/// What a path addresses.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// `/version`
    Version,
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/{group}`
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`
    ResourceList {
        /// Group (empty for core).
        group: String,
        /// Version.
        version: String,
    },
    /// `/openapi/v2`
    OpenApiV2,
    /// `/openapi/v3`
    OpenApiV3Index,
    /// `/openapi/v3/{api/v1 | apis/group/version}`
    OpenApiV3 {
        /// Group (empty for core).
        group: String,
        /// Version.
        version: String,
    },
    /// `/healthz`, `/readyz`, `/livez`
    Health,
    /// A kind's collection, in one namespace or all.
    Collection {
        /// The kind.
        rt: &'static ResourceType,
        /// The namespace, when the path names one.
        namespace: Option<String>,
    },
    /// One object, or one of its subresources.
    Object {
        /// The kind.
        rt: &'static ResourceType,
        /// The namespace (namespaced kinds).
        namespace: Option<String>,
        /// The name.
        name: String,
        /// `status`, `scale`, `binding`, `log`, ...
        subresource: Option<String>,
    },
}

fn unknown(path: &str) -> ApiError {
    ApiError::NoSuchResource(format!(
        "the server could not find the requested resource ({path})"
    ))
}

/// Splits a path into its route.
pub fn parse(kinds: &Registry, path: &str) -> Result<Route, ApiError> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segs.as_slice() {
        ["version"] => return Ok(Route::Version),
        ["healthz" | "readyz" | "livez", ..] => return Ok(Route::Health),
        ["api"] => return Ok(Route::CoreVersions),
        ["apis"] => return Ok(Route::Groups),
        ["apis", g] => return Ok(Route::Group((*g).to_string())),
        ["openapi", "v2"] => return Ok(Route::OpenApiV2),
        ["openapi", "v3"] => return Ok(Route::OpenApiV3Index),
        ["openapi", "v3", "api", v] => {
            return Ok(Route::OpenApiV3 {
                group: String::new(),
                version: (*v).to_string(),
            });
        }
        ["openapi", "v3", "apis", g, v] => {
            return Ok(Route::OpenApiV3 {
                group: (*g).to_string(),
                version: (*v).to_string(),
            });
        }
        _ => {}
    }
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(unknown(path)),
    };
    if rest.is_empty() {
        if kinds.versions(group).contains(&version) {
            return Ok(Route::ResourceList {
                group: group.to_string(),
                version: version.to_string(),
            });
        }
        return Err(unknown(path));
    }
    let find = |plural: &str| {
        kinds
            .by_path(group, version, plural)
            .ok_or_else(|| unknown(path))
    };
    let ns_rt = find("namespaces").ok();
    let object = |rt, namespace: Option<&str>, name: &str, sub: Option<&str>| Route::Object {
        rt,
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
        subresource: sub.map(str::to_string),
    };
    Ok(match rest {
        // The namespace object's own subresources.
        ["namespaces", name, sub @ ("status" | "finalize")] if ns_rt.is_some() => {
            object(find("namespaces")?, None, name, Some(*sub))
        }
        ["namespaces", ns, plural] => Route::Collection {
            rt: namespaced(find(plural)?, path)?,
            namespace: Some((*ns).to_string()),
        },
        ["namespaces", ns, plural, name] => {
            object(namespaced(find(plural)?, path)?, Some(ns), name, None)
        }
        ["namespaces", ns, plural, name, sub] => {
            object(namespaced(find(plural)?, path)?, Some(ns), name, Some(*sub))
        }
        [plural] => Route::Collection {
            rt: find(plural)?,
            namespace: None,
        },
        [plural, name] => object(cluster_scoped(find(plural)?, path)?, None, name, None),
        [plural, name, sub] => object(cluster_scoped(find(plural)?, path)?, None, name, Some(*sub)),
        _ => return Err(unknown(path)),
    })
}

fn namespaced(rt: &'static ResourceType, path: &str) -> Result<&'static ResourceType, ApiError> {
    if rt.namespaced {
        Ok(rt)
    } else {
        Err(unknown(path))
    }
}

fn cluster_scoped(
    rt: &'static ResourceType,
    path: &str,
) -> Result<&'static ResourceType, ApiError> {
    if rt.namespaced {
        Err(unknown(path))
    } else {
        Ok(rt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(path: &str) -> Result<Route, ApiError> {
        parse(&Registry::default(), path)
    }

    fn describe(r: Route) -> String {
        match r {
            Route::Collection { rt, namespace } => format!("list {} in {namespace:?}", rt.plural),
            Route::Object {
                rt,
                namespace,
                name,
                subresource,
            } => {
                format!("{} {namespace:?}/{name} {subresource:?}", rt.plural)
            }
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn paths() {
        let check = |p: &str, want: &str| {
            assert_eq!(
                route(p).map(describe).unwrap_or_else(|e| e.to_string()),
                want,
                "{p}"
            )
        };
        check("/api/v1/pods", "list pods in None");
        check(
            "/api/v1/namespaces/default/pods",
            "list pods in Some(\"default\")",
        );
        check(
            "/api/v1/namespaces/default/pods/web/log",
            "pods Some(\"default\")/web Some(\"log\")",
        );
        check("/api/v1/namespaces/default", "namespaces None/default None");
        check(
            "/api/v1/namespaces/x/status",
            "namespaces None/x Some(\"status\")",
        );
        check("/api/v1/nodes/n1/status", "nodes None/n1 Some(\"status\")");
        check(
            "/apis/apps/v1/namespaces/d/deployments/web/scale",
            "deployments Some(\"d\")/web Some(\"scale\")",
        );
        check(
            "/apis/apps/v1",
            "ResourceList { group: \"apps\", version: \"v1\" }",
        );
        assert!(
            route("/api/v1/namespaces/default/nodes").is_err(),
            "nodes are cluster-scoped"
        );
        assert!(route("/api/v1/pods/x").is_err(), "pods are namespaced");
        assert!(route("/api/v1/widgets").is_err());
        assert!(route("/apis/apps/v2").is_err());
        assert!(route("/nonsense").is_err());
    }
}
