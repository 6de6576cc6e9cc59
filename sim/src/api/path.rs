//! URL parsing: turns a request path into what it addresses (discovery document, collection,
//! object, subresource), resolving the resource through the registry.

use crate::error::{ApiError, ApiResult};
use crate::resources::{ResourceType, TypeId};
use crate::store::Store;

/// What a resource URL names.
#[derive(Debug, Clone)]
pub struct Target {
    /// The resource type.
    pub tid: TypeId,
    /// Its description.
    pub rt: ResourceType,
    /// Namespace from the URL (None for cluster-scoped or all-namespaces requests).
    pub namespace: Option<String>,
    /// Object name, if the URL names one.
    pub name: Option<String>,
    /// Subresource (`status`, `scale`, `log`, `exec` ...).
    pub subresource: Option<String>,
    /// Legacy `/watch/` prefix.
    pub legacy_watch: bool,
}

/// A parsed request path.
#[derive(Debug, Clone)]
pub enum Route {
    /// `/version`.
    Version,
    /// `/api`.
    CoreVersions,
    /// `/apis`.
    Groups,
    /// `/apis/<group>`.
    Group(String),
    /// `/api/v1`, `/apis/<g>/<v>`.
    Resources(String, String),
    /// `/healthz`, `/livez`, `/readyz`.
    Health,
    /// `/openapi/v2`, `/openapi/v3`, `/openapi/v3/<path>`.
    OpenApi(String),
    /// A resource URL.
    Resource(Box<Target>),
}

fn segments(path: &str) -> Vec<&str> {
    path.trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect()
}

/// Parses a path against the store's registry.
pub fn parse(store: &Store, path: &str) -> ApiResult<Route> {
    let segs = segments(path);
    match segs.as_slice() {
        ["version"] => return Ok(Route::Version),
        ["api"] => return Ok(Route::CoreVersions),
        ["apis"] => return Ok(Route::Groups),
        ["healthz" | "livez" | "readyz", ..] => return Ok(Route::Health),
        ["openapi", rest @ ..] => return Ok(Route::OpenApi(rest.join("/"))),
        ["apis", g] => return Ok(Route::Group((*g).to_string())),
        ["api", v] => return Ok(Route::Resources(String::new(), (*v).to_string())),
        ["apis", g, v] => return Ok(Route::Resources((*g).to_string(), (*v).to_string())),
        _ => {}
    }
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(ApiError::no_route(path)),
    };
    let (legacy_watch, rest) = match rest {
        ["watch", r @ ..] => (true, r),
        r => (false, r),
    };
    let not_found = || ApiError::no_route(path);
    let resolve = |plural: &str| store.resolve(group, version, plural).ok_or_else(not_found);
    let target = |plural: &str,
                  ns: Option<&str>,
                  name: Option<&str>,
                  sub: Option<&str>|
     -> ApiResult<Route> {
        let (tid, rt) = resolve(plural)?;
        if ns.is_some() && !rt.namespaced {
            return Err(not_found());
        }
        if let Some(s) = sub
            && !rt.has_subresource(s)
        {
            return Err(not_found());
        }
        Ok(Route::Resource(Box::new(Target {
            tid,
            rt,
            namespace: ns.map(str::to_string),
            name: name.map(str::to_string),
            subresource: sub.map(str::to_string),
            legacy_watch,
        })))
    };
    match rest {
        [plural] => target(plural, None, None, None),
        ["namespaces", ns] if group.is_empty() => target("namespaces", None, Some(ns), None),
        ["namespaces", ns, sub @ ("status" | "finalize")] if group.is_empty() => {
            target("namespaces", None, Some(ns), Some(sub))
        }
        ["namespaces", ns, plural] => target(plural, Some(ns), None, None),
        ["namespaces", ns, plural, name] => target(plural, Some(ns), Some(name), None),
        ["namespaces", ns, plural, name, sub] => target(plural, Some(ns), Some(name), Some(sub)),
        [plural, name] => target(plural, None, Some(name), None),
        [plural, name, sub] => target(plural, None, Some(name), Some(sub)),
        _ => Err(not_found()),
    }
}
