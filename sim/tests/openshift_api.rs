//! Routes, Templates and Projects on the OpenShift flavor: generated hosts and admission by
//! the default router, TLS validation, `processedtemplates` with generated and required
//! parameters, ProjectRequests and Projects as views of Namespaces.

mod openshift_support;

use odo_sim::Sim;
use openshift_support::*;
use serde_json::{Value, json};

fn route_body(name: &str, host: Option<&str>, tls: Value) -> Value {
    let mut r = json!({"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": name},
        "spec": {"to": {"kind": "Service", "name": "web"}, "port": {"targetPort": 8080}}});
    if let Some(h) = host {
        r["spec"]["host"] = json!(h);
    }
    if !tls.is_null() {
        r["spec"]["tls"] = tls;
    }
    r
}

fn namespace() -> kube::api::ApiResource {
    ar("", "v1", "Namespace", "namespaces")
}

#[tokio::test]
async fn routes_get_a_generated_host_and_are_admitted_by_the_default_router() {
    let sim = sim();
    let r = create(
        &sim,
        &route(),
        "default",
        route_body(
            "web",
            None,
            json!({"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}),
        ),
    )
    .await;
    assert_eq!(r["spec"]["host"], "web-default.apps.odo-sim.local");
    assert_eq!(annotation(&r, "openshift.io/host.generated"), "true");
    assert_eq!(r["spec"]["to"]["weight"], 100);
    assert_eq!(r["spec"]["wildcardPolicy"], "None");
    sim.settle();
    let r = get(&sim, &route(), "default", "web").await;
    let ing = &r["status"]["ingress"][0];
    assert_eq!(ing["host"], "web-default.apps.odo-sim.local");
    assert_eq!(ing["routerName"], "default");
    assert_eq!(ing["conditions"][0]["type"], "Admitted");
    assert_eq!(ing["conditions"][0]["status"], "True");

    // An explicit host is kept; an update that clears it keeps the stored one.
    let r2 = create(
        &sim,
        &route(),
        "default",
        route_body("api", Some("api.example.com"), Value::Null),
    )
    .await;
    assert_eq!(r2["spec"]["host"], "api.example.com");
    assert_eq!(annotation(&r2, "openshift.io/host.generated"), "");
    let r2 = merge(
        &sim,
        &route(),
        "default",
        "api",
        json!({"spec": {"host": ""}}),
    )
    .await;
    assert_eq!(r2["spec"]["host"], "api.example.com");

    // The same host in another namespace: the older route keeps it.
    create(
        &sim,
        &namespace(),
        "",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}),
    )
    .await;
    sim.advance(std::time::Duration::from_secs(5));
    create(
        &sim,
        &route(),
        "other",
        route_body("copy", Some("api.example.com"), Value::Null),
    )
    .await;
    sim.settle();
    let copy = get(&sim, &route(), "other", "copy").await;
    let c = &copy["status"]["ingress"][0]["conditions"][0];
    assert_eq!(c["status"], "False", "{copy}");
    assert_eq!(c["reason"], "HostAlreadyClaimed");
    let orig = get(&sim, &route(), "default", "api").await;
    assert_eq!(
        orig["status"]["ingress"][0]["conditions"][0]["status"],
        "True"
    );
}

#[tokio::test]
async fn route_tls_is_validated_like_the_real_server() {
    let sim = sim();
    let bad = create_err(
        &sim,
        &route(),
        "default",
        route_body("a", None, json!({"termination": "bogus"})),
    )
    .await;
    assert_eq!(bad.code, 422);
    assert!(
        bad.message
            .contains("spec.tls.termination: Unsupported value: \"bogus\""),
        "{}",
        bad.message
    );
    let bad = create_err(
        &sim,
        &route(),
        "default",
        route_body(
            "b",
            None,
            json!({"termination": "passthrough", "certificate": "PEM"}),
        ),
    )
    .await;
    assert_eq!(bad.code, 422);
    assert!(
        bad.message
            .contains("passthrough termination does not support certificates"),
        "{}",
        bad.message
    );
    let bad = create_err(
        &sim,
        &route(),
        "default",
        route_body(
            "c",
            None,
            json!({"termination": "passthrough", "insecureEdgeTerminationPolicy": "Allow"}),
        ),
    )
    .await;
    assert_eq!(bad.code, 422);
    let bad = create_err(
        &sim,
        &route(),
        "default",
        route_body(
            "d",
            None,
            json!({"termination": "edge", "insecureEdgeTerminationPolicy": "Sometimes"}),
        ),
    )
    .await;
    assert_eq!(bad.code, 422);
    let mut no_target = route_body("e", None, Value::Null);
    no_target["spec"]["to"] = json!({"kind": "Service"});
    assert_eq!(
        create_err(&sim, &route(), "default", no_target).await.code,
        422
    );
    for (name, term) in [("f", "edge"), ("g", "passthrough"), ("h", "reencrypt")] {
        create(
            &sim,
            &route(),
            "default",
            route_body(name, None, json!({"termination": term})),
        )
        .await;
    }
}

fn template() -> Value {
    json!({
        "apiVersion": "template.openshift.io/v1", "kind": "Template",
        "metadata": {"name": "web-app"},
        "labels": {"template": "web-app", "app": "${NAME}"},
        "parameters": [
            {"name": "NAME", "value": "web"},
            {"name": "REPLICAS", "value": "2"},
            {"name": "PASSWORD", "generate": "expression", "from": "[a-z0-9]{8}"},
            {"name": "SECRET_SUFFIX", "generate": "expression", "from": "key-\\d{4}"},
        ],
        "objects": [
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "${NAME}-${SECRET_SUFFIX}"},
                "stringData": {"password": "${PASSWORD}"}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "${NAME}"},
                "spec": {"selector": {"name": "${NAME}"}, "ports": [{"port": 8080}]}},
            {"apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig", "metadata": {"name": "${NAME}"},
                "spec": {"replicas": "${{REPLICAS}}", "selector": {"name": "${NAME}"},
                    "triggers": [{"type": "ConfigChange"}],
                    "template": {"metadata": {"labels": {"name": "${NAME}"}},
                        "spec": {"containers": [{"name": "${NAME}", "image": "openshift/hello-openshift",
                            "env": [{"name": "PASSWORD", "value": "${PASSWORD}"}]}]}}}},
        ],
    })
}

async fn process(sim: &Sim, t: Value) -> Result<Value, kube::Error> {
    let r: Result<Value, kube::Error> = sim
        .client()
        .request(
            http::Request::post(
                "/apis/template.openshift.io/v1/namespaces/default/processedtemplates",
            )
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&t).expect("test data has this shape"))
            .expect("test data has this shape"),
        )
        .await;
    r
}

fn resource_of(o: &Value) -> kube::api::ApiResource {
    let (group, version) = match o["apiVersion"]
        .as_str()
        .expect("test data has this shape")
        .split_once('/')
    {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (
            String::new(),
            o["apiVersion"]
                .as_str()
                .expect("test data has this shape")
                .to_string(),
        ),
    };
    let kind = o["kind"].as_str().expect("test data has this shape");
    let plural = format!("{}s", kind.to_ascii_lowercase());
    ar(&group, &version, kind, &plural)
}

#[tokio::test]
async fn a_template_with_generated_parameters_creates_its_objects() {
    let sim = sim();
    let out = process(&sim, template()).await.expect("processed");
    let params = out["parameters"]
        .as_array()
        .expect("test data has this shape");
    let password = params[2]["value"]
        .as_str()
        .expect("test data has this shape")
        .to_string();
    assert_eq!(password.len(), 8);
    assert!(
        password
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "{password}"
    );
    let suffix = params[3]["value"]
        .as_str()
        .expect("test data has this shape");
    assert!(suffix.starts_with("key-") && suffix.len() == 8, "{suffix}");
    let objects = out["objects"].as_array().expect("test data has this shape");
    assert_eq!(objects[0]["metadata"]["name"], format!("web-{suffix}"));
    assert_eq!(objects[0]["stringData"]["password"], password);
    assert_eq!(
        objects[2]["spec"]["replicas"], 2,
        "${{{{REPLICAS}}}} keeps the number type"
    );
    for o in objects {
        assert_eq!(o["metadata"]["labels"]["template"], "web-app");
        assert_eq!(o["metadata"]["labels"]["app"], "web");
    }
    // `oc process | oc create -f -`.
    for o in objects {
        create(&sim, &resource_of(o), "default", o.clone()).await;
    }
    sim.settle();
    let pods = list(&sim, &pod(), "default", "deploymentconfig=web").await;
    let live = live_pods(&pods);
    assert_eq!(live.len(), 2);
    assert_eq!(
        live[0]["spec"]["containers"][0]["env"][0]["value"],
        password
    );

    // Same seed, same requests: same generated values.
    let again = process(&openshift_support::sim(), template())
        .await
        .expect("processed");
    assert_eq!(again["parameters"][2]["value"], json!(password));
}

#[tokio::test]
async fn a_missing_required_parameter_is_invalid() {
    let sim = sim();
    let mut t = template();
    t["parameters"]
        .as_array_mut()
        .expect("test data has this shape")
        .push(json!({"name": "DATABASE_USER", "required": true}));
    let err = match process(&sim, t).await {
        Err(kube::Error::Api(s)) => *s,
        other => panic!("expected an API error, got {other:?}"),
    };
    assert_eq!(err.code, 422);
    assert_eq!(err.reason, "Invalid");
    assert_eq!(
        err.message,
        "Template.template.openshift.io \"web-app\" is invalid: template.parameters[4]: Required value: template.parameters[4]: parameter DATABASE_USER is required and must be specified"
    );
    let mut t = template();
    t["parameters"][2]["from"] = json!("[a-z");
    let err = match process(&sim, t).await {
        Err(kube::Error::Api(s)) => *s,
        other => panic!("expected an API error, got {other:?}"),
    };
    assert_eq!(err.code, 422);
}

#[tokio::test]
async fn project_requests_make_namespaces_and_projects_are_their_views() {
    let sim = sim();
    let pr = ar(
        "project.openshift.io",
        "v1",
        "ProjectRequest",
        "projectrequests",
    );
    let projects = ar("project.openshift.io", "v1", "Project", "projects");
    let p = create(
        &sim,
        &pr,
        "",
        json!({"apiVersion": "project.openshift.io/v1", "kind": "ProjectRequest",
        "metadata": {"name": "myproject"}, "displayName": "My Project", "description": "odo work"}),
    )
    .await;
    assert_eq!(p["kind"], "Project");
    assert_eq!(p["status"]["phase"], "Active");
    let ns = get(&sim, &namespace(), "", "myproject").await;
    assert_eq!(annotation(&ns, "openshift.io/display-name"), "My Project");
    assert_eq!(annotation(&ns, "openshift.io/description"), "odo work");
    let dup = create_err(
        &sim,
        &pr,
        "",
        json!({"apiVersion": "project.openshift.io/v1", "kind": "ProjectRequest",
        "metadata": {"name": "myproject"}}),
    )
    .await;
    assert_eq!(dup.code, 409);
    assert_eq!(dup.reason, "AlreadyExists");

    let got = get(&sim, &projects, "", "myproject").await;
    assert_eq!(got["kind"], "Project");
    assert_eq!(annotation(&got, "openshift.io/display-name"), "My Project");
    let names: Vec<String> = list(&sim, &projects, "", "")
        .await
        .iter()
        .map(|p| {
            p["metadata"]["name"]
                .as_str()
                .expect("test data has this shape")
                .to_string()
        })
        .collect();
    assert!(
        names.contains(&"myproject".to_string()) && names.contains(&"default".to_string()),
        "{names:?}"
    );

    // Objects go into the project's namespace; deleting the project deletes the namespace.
    create(
        &sim,
        &route(),
        "myproject",
        route_body("web", None, Value::Null),
    )
    .await;
    assert_eq!(
        get(&sim, &route(), "myproject", "web").await["spec"]["host"],
        "web-myproject.apps.odo-sim.local"
    );
    delete(&sim, &projects, "", "myproject").await;
    sim.settle();
    assert!(get_opt(&sim, &namespace(), "", "myproject").await.is_none());
    assert!(get_opt(&sim, &projects, "", "myproject").await.is_none());
}
