//! Test support for the kubelet-with-real-runtime tests: create an object from JSON through
//! the in-process client, and read a pod back as JSON.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use odo_sim::Sim;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Creates `obj` (a namespaced kind) in `default`; returns the API it was created through.
pub async fn create<K>(sim: &Sim, obj: Value) -> Api<K>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(sim.client(), "default");
    let o: K = serde_json::from_value(obj).expect("object json");
    api.create(&PostParams::default(), &o)
        .await
        .expect("create");
    api
}

/// Pod `name` as JSON.
pub async fn get(pods: &Api<Pod>, name: &str) -> Value {
    serde_json::to_value(pods.get(name).await.expect("get pod")).expect("to json")
}
