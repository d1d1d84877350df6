//! One request: route it, run the verb, answer JSON, a Table, a watch
//! stream, or a `Status` error.

use std::time::Duration;

use http::{Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::query::Query;
use super::response::{Body, error_response, json_response};
use super::route::{self, Route};
use super::table::{self, IncludeObject};
use super::{body, discovery, openapi, watch};
use crate::object::ResourceType;
use crate::object::patch::PatchType;
use crate::registry::admission::{UserInfo, Warnings};
use crate::registry::{
    ApiError, DeleteOptions, Objects, Part, Propagation, Result, ScaleChange, WriteOptions,
};

/// How long a list waits for a resourceVersion newer than the store's.
const WAIT_FOR_REVISION: Duration = Duration::from_secs(3);

/// Answers one request.
pub async fn handle(objects: Objects, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = std::time::Instant::now();
    let context = WriteOptions {
        user: user_of(&req),
        ..WriteOptions::default()
    };
    let warnings = context.warnings.clone();
    let mut resp = match dispatch(&objects, req, &context).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    add_warnings(&mut resp, &warnings);
    tracing::debug!(%method, %path, status = resp.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64, "request");
    resp
}

/// Who makes the request. Keel serves its API to whoever holds the kubeconfig, as the
/// cluster administrator; `Impersonate-User` and `Impersonate-Group` (kubectl `--as`,
/// `--as-group`) name someone else, which admission plugins see.
fn user_of(req: &Request<Incoming>) -> UserInfo {
    let header = |name: &str| {
        req.headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    match header("impersonate-user").into_iter().next() {
        Some(username) => UserInfo {
            username,
            groups: header("impersonate-group")
                .into_iter()
                .chain(["system:authenticated".to_string()])
                .collect(),
        },
        None => UserInfo::default(),
    }
}

/// Adds each warning as a `Warning: 299 - "text"` header (RFC 7234), as Kubernetes does.
fn add_warnings(resp: &mut Response<Body>, warnings: &Warnings) {
    for warning in warnings.take() {
        let text: String = warning
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
            .replace('\\', "\\\\")
            .replace('"', "\\\"");
        if let Ok(value) = http::HeaderValue::from_str(&format!("299 - \"{text}\"")) {
            resp.headers_mut().append(header::WARNING, value);
        }
    }
}

/// Whether the client asked for a Table (kubectl get).
fn wants_table(req: &Request<Incoming>) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("as=Table"))
}

fn content_type(req: &Request<Incoming>) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string()
}

fn not_allowed(method: &Method, what: &str) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "the server does not allow this method on the requested resource ({method} {what})"
    ))
}

async fn dispatch(
    objects: &Objects,
    req: Request<Incoming>,
    context: &WriteOptions,
) -> Result<Response<Body>> {
    let route = route::parse(objects.kinds(), req.uri().path())?;
    let kinds = objects.kinds();
    let ok = |v: Value| Ok(json_response(StatusCode::OK, &v));
    match route {
        Route::Version => ok(discovery::version()),
        Route::Health => Ok(super::response::bytes_response(
            StatusCode::OK,
            "text/plain",
            bytes::Bytes::from_static(b"ok"),
        )),
        Route::CoreVersions => ok(discovery::core_versions()),
        Route::Groups => ok(discovery::groups(kinds)),
        Route::Group(g) => discovery::group(kinds, &g).map_or_else(
            || {
                Err(ApiError::NoSuchResource(format!(
                    "the server could not find the requested resource (group {g})"
                )))
            },
            ok,
        ),
        Route::ResourceList { group, version } => {
            ok(discovery::resource_list(kinds, &group, &version))
        }
        Route::OpenApiV3Index => ok(openapi::index(kinds)),
        Route::OpenApiV3 { group, version } => openapi::group_version(kinds, &group, &version)
            .map_or_else(
                || {
                    Err(ApiError::NoSuchResource(format!(
                        "no OpenAPI document for {group}/{version}"
                    )))
                },
                ok,
            ),
        Route::OpenApiV2 => Err(ApiError::NoSuchResource(
            "OpenAPI v2 is not served; read /openapi/v3".into(),
        )),
        Route::Collection { rt, namespace } => {
            collection(objects, rt, namespace, req, context).await
        }
        Route::Object {
            rt,
            namespace,
            name,
            subresource,
        } => {
            object(
                objects,
                rt,
                namespace.as_deref(),
                &name,
                subresource.as_deref(),
                req,
                context,
            )
            .await
        }
    }
}

fn list_kind(rt: &ResourceType) -> String {
    format!("{}List", rt.kind)
}

/// Waits until the store has applied `revision`, for reads that ask for it.
async fn wait_for(objects: &Objects, revision: u64) -> Result<()> {
    let hub = objects.store().hub();
    let mut rx = hub.subscribe();
    let deadline = tokio::time::Instant::now() + WAIT_FOR_REVISION;
    while *rx.borrow_and_update() < revision {
        tokio::select! {
            r = rx.changed() => r.map_err(|_| ApiError::Unavailable("the store is shutting down".into()))?,
            () = tokio::time::sleep_until(deadline) => {
                return Err(ApiError::Timeout(format!("Too large resource version: {revision}, current: {}", hub.latest())));
            }
        }
    }
    Ok(())
}

/// Brings this member up to what a read's `resourceVersion` asks, as Kubernetes reads
/// it: unset, the most recent state (a linearizable read, confirmed with the leader);
/// `"0"`, any state this member has; `N`, a state no older than revision `N`.
async fn read_at(objects: &Objects, rv: Option<&str>) -> Result<()> {
    match rv.filter(|v| !v.is_empty()) {
        None => Ok(objects.store().linearize().await?),
        Some("0") => Ok(()),
        Some(v) => {
            let revision = v
                .parse::<u64>()
                .map_err(|_| ApiError::BadRequest(format!("invalid resourceVersion {v:?}")))?;
            wait_for(objects, revision).await
        }
    }
}

async fn collection(
    objects: &Objects,
    rt: &'static ResourceType,
    ns: Option<String>,
    req: Request<Incoming>,
    context: &WriteOptions,
) -> Result<Response<Body>> {
    let q = Query::parse(req.uri().query());
    let ns = ns.as_deref();
    match *req.method() {
        Method::GET if q.flag("watch") => {
            let rv = q
                .get("resourceVersion")
                .filter(|v| !v.is_empty() && *v != "0");
            let resource_version = rv
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| ApiError::BadRequest(format!("invalid resourceVersion {v:?}")))
                })
                .transpose()?;
            let send_initial_events = q.flag("sendInitialEvents");
            if q.get("resourceVersion").is_none_or(str::is_empty) {
                // The watch starts from the most recent state.
                read_at(objects, None).await?;
            }
            let request = watch::WatchRequest {
                rt,
                namespace: ns.map(str::to_string),
                filter: q.list_options()?,
                // sendInitialEvents starts from the current state whatever the version.
                resource_version: if send_initial_events {
                    None
                } else {
                    resource_version
                },
                send_initial_events,
                bookmarks: q.flag("allowWatchBookmarks"),
                timeout: q.number("timeoutSeconds")?.map(Duration::from_secs),
                table: wants_table(&req).then(|| IncludeObject::parse(q.get("includeObject"))),
            };
            Ok(watch::respond(objects.clone(), request))
        }
        Method::GET => {
            if q.get("continue").is_none_or(str::is_empty) {
                read_at(objects, q.get("resourceVersion")).await?;
            }
            let opts = q.list_options()?;
            let page = objects.list(rt, ns, &opts)?;
            let rv = page.revision.to_string();
            if wants_table(&req) {
                let include = IncludeObject::parse(q.get("includeObject"));
                return Ok(json_response(
                    StatusCode::OK,
                    &table::table(
                        rt,
                        &page.items,
                        &rv,
                        page.continue_token.as_deref(),
                        include,
                    ),
                ));
            }
            let mut meta = json!({"resourceVersion": rv});
            if let Some(c) = page.continue_token {
                meta["continue"] = json!(c);
            }
            let list = json!({"kind": list_kind(rt), "apiVersion": rt.api_version(), "metadata": meta, "items": page.items});
            Ok(json_response(StatusCode::OK, &list))
        }
        Method::POST => {
            let dry_run = q.dry_run()?;
            let ct = content_type(&req);
            let value = body::decode(&ct, &body::read(req.into_body()).await?)?;
            let opts = WriteOptions {
                dry_run,
                ..context.clone()
            };
            let created = objects.create(rt, ns, value, opts).await?;
            Ok(json_response(StatusCode::CREATED, &created))
        }
        Method::DELETE => {
            let list = q.list_options()?;
            let ct = content_type(&req);
            let opts = delete_options(&q, &ct, &body::read(req.into_body()).await?, context)?;
            let deleted = objects.delete_collection(rt, ns, &list, &opts).await?;
            let rv = objects.store().revision().to_string();
            let list = json!({"kind": list_kind(rt), "apiVersion": rt.api_version(), "metadata": {"resourceVersion": rv}, "items": deleted});
            Ok(json_response(StatusCode::OK, &list))
        }
        ref m => Err(not_allowed(m, rt.plural)),
    }
}

/// DeleteOptions from the query and the (optional) body.
fn delete_options(
    q: &Query,
    content_type: &str,
    raw: &[u8],
    context: &WriteOptions,
) -> Result<DeleteOptions> {
    let body = if raw.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        body::decode(content_type, raw)?
    };
    let dry_run_body = body
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v == "All"));
    let precondition = |field: &str| {
        body.pointer(&format!("/preconditions/{field}"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let propagation = match (
        body.get("propagationPolicy")
            .and_then(Value::as_str)
            .or(q.get("propagationPolicy")),
        body.get("orphanDependents")
            .and_then(Value::as_bool)
            .or_else(|| q.get("orphanDependents").map(|v| v == "true")),
    ) {
        (Some(policy), _) => Some(Propagation::parse(policy)?),
        (None, Some(true)) => Some(Propagation::Orphan),
        (None, Some(false)) => Some(Propagation::Background),
        (None, None) => None,
    };
    let grace_period = match body.get("gracePeriodSeconds") {
        Some(Value::Null) | None => q
            .get("gracePeriodSeconds")
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::BadRequest(format!("gracePeriodSeconds: {v:?} is not a number"))
                })
            })
            .transpose()?,
        Some(v) => Some(v.as_i64().ok_or_else(|| {
            ApiError::BadRequest(format!("gracePeriodSeconds: {v} is not a number"))
        })?),
    };
    Ok(DeleteOptions {
        propagation,
        grace_period,
        uid: precondition("uid"),
        resource_version: crate::registry::prepare_rv(precondition("resourceVersion").as_deref())?,
        write: WriteOptions {
            dry_run: q.dry_run()? || dry_run_body,
            ..context.clone()
        },
    })
}

fn patch_type(req: &Request<Incoming>) -> Result<PatchType> {
    let ct = content_type(req);
    if ct.starts_with("application/apply-patch") {
        return Err(ApiError::UnsupportedMediaType(
            "server-side apply is not supported yet: use client-side apply (kubectl apply without --server-side) or a merge patch".into(),
        ));
    }
    PatchType::from_content_type(&ct).ok_or_else(|| {
        ApiError::UnsupportedMediaType(format!(
            "the body of the request was in an unknown format ({ct}); accepted: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json"
        ))
    })
}

async fn object(
    objects: &Objects,
    rt: &'static ResourceType,
    ns: Option<&str>,
    name: &str,
    sub: Option<&str>,
    req: Request<Incoming>,
    context: &WriteOptions,
) -> Result<Response<Body>> {
    let q = Query::parse(req.uri().query());
    let opts = WriteOptions {
        dry_run: q.dry_run()?,
        ..context.clone()
    };
    let table = wants_table(&req);
    let method = req.method().clone();
    let ct = content_type(&req);
    let answer = |v: Value| {
        if table && v.get("kind").and_then(Value::as_str) == Some(rt.kind) {
            let rv = v
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            return Ok(json_response(
                StatusCode::OK,
                &table::table(
                    rt,
                    &[v],
                    &rv,
                    None,
                    IncludeObject::parse(q.get("includeObject")),
                ),
            ));
        }
        Ok(json_response(StatusCode::OK, &v))
    };
    let part = match sub {
        None => Part::Main,
        Some("status") if rt.status_subresource => Part::Status,
        Some("scale") => return scale(objects, rt, ns, name, req, opts).await,
        Some("binding") => {
            if method != Method::POST {
                return Err(not_allowed(&method, "binding"));
            }
            let value = body::decode(&ct, &body::read(req.into_body()).await?)?;
            let status = objects.bind(rt, ns, name, &value, opts).await?;
            return Ok(json_response(StatusCode::CREATED, &status));
        }
        Some("log") if rt.kind == "Pod" => {
            return super::pod_log::pod_log(objects, rt, ns, name, &q).await;
        }
        Some("exec") if rt.kind == "Pod" => {
            return super::pod_exec::pod_exec(objects, rt, ns, name, &q, req).await;
        }
        Some(other) => {
            return Err(ApiError::NoSuchResource(format!(
                "{} has no subresource {other:?}",
                rt.plural
            )));
        }
    };
    match method {
        Method::GET => {
            read_at(objects, q.get("resourceVersion")).await?;
            answer(objects.get(rt, ns, name)?)
        }
        Method::PUT => {
            let value = body::decode(&ct, &body::read(req.into_body()).await?)?;
            answer(objects.update(rt, ns, name, value, part, opts).await?)
        }
        Method::PATCH => {
            let kind = patch_type(&req)?;
            let value = body::decode("application/json", &body::read(req.into_body()).await?)?;
            answer(
                objects
                    .patch(rt, ns, name, kind, &value, part, opts)
                    .await?,
            )
        }
        Method::DELETE if part == Part::Main => {
            let raw = body::read(req.into_body()).await?;
            let dopts = delete_options(&q, &ct, &raw, context)?;
            let last = objects.delete(rt, ns, name, &dopts).await?;
            if crate::object::meta::held_after_deletion(&last) {
                // Still there, waiting for finalizers or its grace period: answer the
                // object.
                return answer(last);
            }
            let uid = last
                .pointer("/metadata/uid")
                .cloned()
                .unwrap_or(Value::Null);
            Ok(json_response(
                StatusCode::OK,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                        "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": uid}}),
            ))
        }
        m => Err(not_allowed(&m, rt.plural)),
    }
}

async fn scale(
    objects: &Objects,
    rt: &'static ResourceType,
    ns: Option<&str>,
    name: &str,
    req: Request<Incoming>,
    opts: WriteOptions,
) -> Result<Response<Body>> {
    let ok = |v: Value| Ok(json_response(StatusCode::OK, &v));
    match req.method().clone() {
        Method::GET => ok(objects.get_scale(rt, ns, name)?),
        Method::PUT => {
            let ct = content_type(&req);
            let value = body::decode(&ct, &body::read(req.into_body()).await?)?;
            ok(objects
                .write_scale(rt, ns, name, ScaleChange::Replace(&value), opts)
                .await?)
        }
        Method::PATCH => {
            let kind = patch_type(&req)?;
            let value = body::decode("application/json", &body::read(req.into_body()).await?)?;
            ok(objects
                .write_scale(rt, ns, name, ScaleChange::Patch(kind, &value), opts)
                .await?)
        }
        m => Err(not_allowed(&m, "scale")),
    }
}
