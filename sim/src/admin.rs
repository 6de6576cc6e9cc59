//! The simulator's own control endpoint, served beside the Kubernetes API: faults injected
//! into a running `odo-sim serve` (what `odo-sim fault ...` sends).
//!
//! `POST /odo-sim/v1/faults` with a [`Fault`] as JSON (`{"type": "NodeDown", "node":
//! "sim-node-1"}`) injects it, exactly as `Sim::inject` does in-process, and records it in the
//! trace. It answers 201 with a `Status` on success and a `Status` error otherwise (400 for a
//! body that is not a fault, 404 for a missing pod or node, 401 without a known bearer token, 403 for a
//! user who is not an admin).
//! The path lies outside `/api` and `/apis`, so no Kubernetes client ever discovers it, and
//! API fault rules (error rates, latency) never apply to it: a fault can always be cleared.

use std::sync::{Arc, Weak};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use crate::api::{error_response, json_response};
use crate::cluster::Cluster;
use crate::error::ApiError;
use crate::faults::{Fault, FaultError};

/// Where faults are posted.
pub const FAULTS_PATH: &str = "/odo-sim/v1/faults";

struct AdminState {
    cluster: Weak<Cluster>,
    users: crate::api::auth::Users,
}

/// The routes of the control endpoint for `cluster`.
pub(crate) fn router(cluster: &Arc<Cluster>, users: crate::api::auth::Users) -> Router {
    let state = Arc::new(AdminState {
        cluster: Arc::downgrade(cluster),
        users,
    });
    Router::new()
        .route(FAULTS_PATH, post(inject))
        .with_state(state)
}

async fn inject(State(state): State<Arc<AdminState>>, headers: HeaderMap, body: Bytes) -> Response {
    if !state.users.is_empty() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match given.and_then(|t| state.users.user_of(t).map(|u| (t, u))) {
            None => return error_response(&ApiError::unauthorized()),
            Some((t, user)) if !state.users.is_admin_token(t) => {
                return error_response(&failure(
                    403,
                    "Forbidden",
                    format!("User \"{user}\" may not inject faults: only an admin may"),
                ));
            }
            Some(_) => {}
        }
    }
    let fault: Fault = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => {
            return error_response(&ApiError::bad_request(format!(
                "the body is not a fault: {e}; send e.g. {{\"type\": \"NodeDown\", \"node\": \"sim-node-1\"}}"
            )));
        }
    };
    let Some(cluster) = state.cluster.upgrade() else {
        return error_response(&failure(
            503,
            "ServiceUnavailable",
            "the simulated cluster is shutting down",
        ));
    };
    let what = format!("{fault:?}");
    match cluster.inject(fault) {
        Ok(()) => json_response(
            StatusCode::CREATED,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "code": 201, "message": format!("injected {what}")}),
        ),
        Err(FaultError::Api(e)) => error_response(&e),
        Err(e @ (FaultError::NoSuchContainer { .. } | FaultError::NoSuchNode(_))) => {
            error_response(&failure(404, "NotFound", e.to_string()))
        }
        Err(e) => error_response(&ApiError::bad_request(e.to_string())),
    }
}

fn failure(code: u16, reason: &str, message: impl Into<String>) -> ApiError {
    let mut err = ApiError::bad_request(message);
    err.code = code;
    err.reason = reason.into();
    err
}
