//! Who is calling: the user behind a request, as the real API server's authentication and
//! impersonation filters decide it.
//!
//! - With no tokens configured, authentication is off and every request is
//!   [`DEFAULT_ADMIN`] (as `oc login -u system:admin` on a cluster's own machine): in-process
//!   clients and unauthenticated loopback requests see everything.
//! - With tokens configured, a request must carry `Authorization: Bearer <token>` naming one
//!   of them (401 otherwise); the token's user is the caller.
//! - `Impersonate-User` (what `kubectl --as=alice` sends) and `Impersonate-Group`
//!   (`--as-group`) make the request act as that user; only an admin may impersonate (403
//!   `users "alice" is forbidden: User "bob" cannot impersonate resource "users" ...` as RBAC
//!   answers otherwise).
//!
//! Admins are [`DEFAULT_ADMIN`], [`TOKEN_ADMIN`] and members of `system:masters` or
//! `system:cluster-admins`. There is no RBAC beyond that: what a user may do differs only
//! where a handler asks (OpenShift projects are visible to their requester and to admins).

use std::collections::BTreeMap;

use axum::http::{HeaderMap, header};

use crate::error::{ApiError, ApiResult};

/// The caller of requests made without authentication (tokens off).
pub const DEFAULT_ADMIN: &str = "system:admin";
/// The user of `odo-sim serve --token` (OpenShift's `kubeadmin` logs in as this).
pub const TOKEN_ADMIN: &str = "kube:admin";
/// Groups whose members are cluster admins.
const ADMIN_GROUPS: [&str; 2] = ["system:masters", "system:cluster-admins"];

/// The header naming the user to act as.
pub const IMPERSONATE_USER: &str = "impersonate-user";
/// The header (repeated) naming the groups to act as.
pub const IMPERSONATE_GROUP: &str = "impersonate-group";

/// Bearer tokens and the users they authenticate.
#[derive(Clone, Debug, Default)]
pub struct Users {
    tokens: BTreeMap<String, String>,
}

impl Users {
    /// Maps `token` to `user`; refuses an empty token or user and a token mapped twice.
    pub fn add(&mut self, token: &str, user: &str) -> Result<(), String> {
        if token.is_empty() || token.chars().any(char::is_whitespace) {
            return Err(format!(
                "a token must be non-empty and without whitespace, got {token:?}"
            ));
        }
        if user.is_empty() || user.chars().any(char::is_whitespace) {
            return Err(format!(
                "a user name must be non-empty and without whitespace, got {user:?}"
            ));
        }
        if let Some(old) = self.tokens.get(token) {
            return Err(format!("the token is already mapped to user {old:?}"));
        }
        self.tokens.insert(token.to_string(), user.to_string());
        Ok(())
    }

    /// Maps `token` to [`TOKEN_ADMIN`], replacing any user it was mapped to.
    pub fn set_admin_token(&mut self, token: &str) {
        self.tokens
            .insert(token.to_string(), TOKEN_ADMIN.to_string());
    }

    /// The user `token` authenticates.
    pub fn user_of(&self, token: &str) -> Option<&str> {
        self.tokens.get(token).map(String::as_str)
    }

    /// Whether no token is configured (authentication off).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Whether `token` authenticates an admin.
    pub fn is_admin_token(&self, token: &str) -> bool {
        self.tokens
            .get(token)
            .is_some_and(|u| User::named(u).is_admin())
    }

    /// The user a request acts as (see the module documentation).
    pub fn authenticate(&self, headers: &HeaderMap) -> ApiResult<User> {
        let caller = if self.is_empty() {
            User::named(DEFAULT_ADMIN)
        } else {
            let token = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or_else(ApiError::unauthorized)?;
            let name = self.tokens.get(token).ok_or_else(ApiError::unauthorized)?;
            User::named(name)
        };
        impersonate(caller, headers)
    }
}

fn impersonate(caller: User, headers: &HeaderMap) -> ApiResult<User> {
    let groups: Vec<String> = headers
        .get_all(IMPERSONATE_GROUP)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect();
    let mut users = headers.get_all(IMPERSONATE_USER).iter();
    let Some(target) = users.next() else {
        if groups.is_empty() {
            return Ok(caller);
        }
        return Err(ApiError::internal(format!(
            "requested impersonation of groups {groups:?} without impersonating a user"
        )));
    };
    if users.next().is_some() {
        return Err(ApiError::bad_request(
            "only one Impersonate-User header may be sent",
        ));
    }
    let target = target
        .to_str()
        .ok()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request("the Impersonate-User header is not a user name"))?;
    if !caller.is_admin() {
        return Err(ApiError::forbidden(
            "",
            "users",
            target,
            format!(
                "users \"{target}\" is forbidden: User \"{}\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope",
                caller.name
            ),
        ));
    }
    Ok(User {
        name: target.to_string(),
        groups,
    })
}

/// An authenticated user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The user name (`alice`, `system:admin`).
    pub name: String,
    /// Groups beyond the implicit `system:authenticated`.
    pub groups: Vec<String>,
}

impl User {
    /// A user in no group.
    pub fn named(name: &str) -> Self {
        Self {
            name: name.to_string(),
            groups: Vec::new(),
        }
    }

    /// Whether the user is a cluster admin (sees and may do everything).
    pub fn is_admin(&self) -> bool {
        self.name == DEFAULT_ADMIN
            || self.name == TOKEN_ADMIN
            || self
                .groups
                .iter()
                .any(|g| ADMIN_GROUPS.contains(&g.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    fn users() -> Users {
        let mut u = Users::default();
        u.add("adm", TOKEN_ADMIN).expect("admin");
        u.add("a", "alice").expect("alice");
        u
    }

    #[test]
    fn without_tokens_everyone_is_the_default_admin() {
        let u = Users::default()
            .authenticate(&HeaderMap::new())
            .expect("ok");
        assert_eq!(u, User::named(DEFAULT_ADMIN));
        assert!(u.is_admin());
    }

    #[test]
    fn tokens_name_the_caller_and_unknown_ones_are_unauthorized() {
        let u = users();
        let alice = u
            .authenticate(&headers(&[("authorization", "Bearer a")]))
            .expect("alice");
        assert_eq!(alice.name, "alice");
        assert!(!alice.is_admin());
        for h in [headers(&[]), headers(&[("authorization", "Bearer nope")])] {
            assert_eq!(u.authenticate(&h).expect_err("401").code, 401);
        }
        assert!(u.is_admin_token("adm") && !u.is_admin_token("a"));
    }

    #[test]
    fn only_admins_impersonate() {
        let u = users();
        let as_bob = u
            .authenticate(&headers(&[
                ("authorization", "Bearer adm"),
                (IMPERSONATE_USER, "bob"),
            ]))
            .expect("admin impersonates");
        assert_eq!(as_bob, User::named("bob"));
        let err = u
            .authenticate(&headers(&[
                ("authorization", "Bearer a"),
                (IMPERSONATE_USER, "bob"),
            ]))
            .expect_err("alice may not");
        assert_eq!((err.code, err.reason.as_str()), (403, "Forbidden"));
        assert_eq!(
            err.message,
            "users \"bob\" is forbidden: User \"alice\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
        );
        let master = Users::default()
            .authenticate(&headers(&[
                (IMPERSONATE_USER, "carol"),
                (IMPERSONATE_GROUP, "system:masters"),
            ]))
            .expect("groups");
        assert!(master.is_admin());
        let err = Users::default()
            .authenticate(&headers(&[(IMPERSONATE_GROUP, "devs")]))
            .expect_err("group without user");
        assert_eq!(err.code, 500);
    }

    #[test]
    fn bad_mappings_are_refused() {
        let mut u = Users::default();
        assert!(u.add("", "x").is_err());
        assert!(u.add("t", "").is_err());
        u.add("t", "x").expect("first");
        assert!(
            u.add("t", "y")
                .expect_err("twice")
                .contains("already mapped")
        );
    }
}
