//! The `odo` binary on commands that only touch local files: create, config, preference, url and
//! storage (local state), catalog, version, completion; exit codes and error rendering.
//! Every test runs in its own temp dir with `GLOBALODOCONFIG`/`HOME` pointing into it.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("app")).unwrap();
        Env { dir }
    }

    /// The default context (`<tmp>/app`).
    fn ctx(&self) -> PathBuf {
        self.dir.path().join("app")
    }

    fn pref(&self) -> PathBuf {
        self.dir.path().join("preference.yaml")
    }

    fn odo_in(&self, cwd: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_odo"))
            .args(args)
            .current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path().join("home"))
            .env("GLOBALODOCONFIG", self.pref())
            .env("ODO_SIM_STATE", self.dir.path().join("sim"))
            .output()
            .unwrap()
    }

    fn odo(&self, args: &[&str]) -> Output {
        self.odo_in(&self.ctx(), args)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.odo(args);
        assert!(
            out.status.success(),
            "odo {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fail(&self, args: &[&str], code: i32) -> String {
        let out = self.odo(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "odo {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    fn config(&self) -> String {
        std::fs::read_to_string(self.ctx().join(".odo/config.yaml")).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }
}

#[test]
fn create_writes_odo_local_config() {
    let e = Env::new();
    let out = e.ok(&[
        "create",
        "nodejs",
        "web",
        "--port",
        "8080,9100/udp",
        "--env",
        "A=1",
        "--env",
        "B=x=y",
    ]);
    assert!(out.contains("Please use `odo push`"), "{out}");
    assert_eq!(
        e.config(),
        "kind: LocalConfig
apiVersion: odo.dev/v1alpha1
ComponentSettings:
  Type: nodejs
  SourceLocation: ./
  SourceType: local
  Ports:
  - 8080/TCP
  - 9100/UDP
  Application: app
  Name: web
  Envs:
  - Name: A
    Value: '1'
  - Name: B
    Value: x=y
"
    );
}

#[test]
fn create_default_name_app_project_and_json() {
    let e = Env::new();
    let doc = e.json(&[
        "create",
        "java:11",
        "--app",
        "shop",
        "--project",
        "dev",
        "-o",
        "json",
    ]);
    assert_eq!(doc["kind"], "Component");
    assert_eq!(doc["apiVersion"], "odo.dev/v1alpha1");
    let name = doc["metadata"]["name"].as_str().unwrap();
    assert!(
        name.starts_with("java-app-") && name.len() == "java-app-".len() + 4,
        "{name}"
    );
    assert_eq!(doc["metadata"]["namespace"], "dev");
    assert_eq!(doc["spec"]["app"], "shop");
    assert_eq!(doc["spec"]["type"], "java:11");
    assert_eq!(doc["spec"]["sourceType"], "local");
    assert_eq!(doc["status"]["state"], "Not Pushed");
    assert!(e.config().contains("Project: dev"));
}

#[test]
fn create_with_name_prefix_preference() {
    let e = Env::new();
    e.ok(&["preference", "set", "NamePrefix", "team"]);
    let doc = e.json(&["create", "python", "-o", "json"]);
    assert!(
        doc["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("python-team-")
    );
}

#[test]
fn create_rejects_bad_input_with_exit_1() {
    let e = Env::new();
    let err = e.fail(&["create", "ruby"], 1);
    assert!(err.contains("unknown component type \"ruby\""), "{err}");
    assert!(
        err.contains("hint: known component types: java, nodejs, python"),
        "{err}"
    );

    let err = e.fail(&["create", "nodejs:99"], 1);
    assert!(err.contains("use one of nodejs:14, nodejs:latest"), "{err}");

    let err = e.fail(&["create", "nodejs", "Web_App"], 1);
    assert!(err.contains("invalid component name \"Web_App\""), "{err}");

    // 52 + "-app-s2idata" = 64 > 63
    let long = "a".repeat(52);
    let err = e.fail(&["create", "nodejs", &long], 1);
    assert!(err.contains("at most 51"), "{err}");
    e.ok(&[
        "create",
        "nodejs",
        &"a".repeat(51),
        "--context",
        e.dir.path().join("home").to_str().unwrap(),
    ]);

    let err = e.fail(&["create", "nodejs", "web", "--port", "80/http"], 1);
    assert!(err.contains("invalid port \"80/http\""), "{err}");
    let err = e.fail(&["create", "nodejs", "web", "--port", "70000"], 1);
    assert!(err.contains("1 to 65535"), "{err}");
    let err = e.fail(&["create", "nodejs", "web", "--env", "NOVALUE"], 1);
    assert!(err.contains("expected KEY=VALUE"), "{err}");
    let err = e.fail(
        &["create", "nodejs", "web", "--context", "/does/not/exist"],
        1,
    );
    assert!(err.contains("does not exist"), "{err}");
    let err = e.fail(&["create", "nodejs", "web", "--binary", "app.jar"], 1);
    assert!(err.contains("only supported for java"), "{err}");
    assert!(
        !e.ctx().join(".odo").exists(),
        "failed creates must not write a config"
    );

    e.ok(&["create", "nodejs", "web"]);
    let err = e.fail(&["create", "nodejs", "other"], 1);
    assert!(err.contains("already contains a component"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let e = Env::new();
    e.fail(&["create"], 2);
    e.fail(&["no-such-command"], 2);
    e.fail(&["url", "create", "--port", "notanumber"], 2);
    let out = e.odo(&["push", "-o", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(doc["kind"], "Error");
    assert_eq!(doc["apiVersion"], "odo.dev/v1alpha1");
    assert!(
        doc["message"]
            .as_str()
            .unwrap()
            .contains("not yet implemented")
    );
}

#[test]
fn context_cannot_be_combined_with_app_or_project_except_on_create() {
    let e = Env::new();
    let ctx = e.ctx();
    let ctx = ctx.to_str().unwrap();
    e.ok(&["create", "nodejs", "web", "--context", ctx, "--app", "shop"]);
    for flag in ["--app", "--project"] {
        let err = e.fail(&["push", "--context", ctx, flag, "x"], 2);
        assert!(
            err.contains("--context cannot be combined with --app or --project"),
            "{err}"
        );
    }
    // --context alone is fine.
    e.ok(&["url", "list", "--context", ctx]);
}

#[test]
fn commands_without_config_say_how_to_fix() {
    let e = Env::new();
    for args in [
        &["config", "view"][..],
        &["push"],
        &["url", "list"],
        &["storage", "create", "--path", "/d"],
    ] {
        let err = e.fail(args, 1);
        assert!(err.contains("no component config at"), "{args:?}: {err}");
        assert!(
            err.contains("hint: run `odo create <type>`"),
            "{args:?}: {err}"
        );
    }
    let other = e.dir.path().join("home");
    let err = e.fail(&["config", "view", "--context", other.to_str().unwrap()], 1);
    assert!(
        err.contains(&format!("{}/.odo/config.yaml", other.display())),
        "{err}"
    );
}

#[test]
fn json_errors_go_to_stderr() {
    let e = Env::new();
    let out = e.odo(&["url", "list", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let doc: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(doc["kind"], "Error");
    assert!(
        doc["message"]
            .as_str()
            .unwrap()
            .contains("no component config")
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\n\t\"kind\""),
        "tab-indented"
    );
}

#[test]
fn config_set_unset_view() {
    let e = Env::new();
    e.ok(&["create", "nodejs", "web"]);
    assert!(
        e.ok(&["config", "set", "memory", "512Mi"])
            .contains("successfully updated")
    );
    e.ok(&["config", "set", "Ports", "3000,3001/tcp"]);
    e.ok(&["config", "set", "--env", "NODE_ENV=dev"]);
    let cfg = e.config();
    assert!(
        cfg.contains("MinMemory: 512Mi") && cfg.contains("MaxMemory: 512Mi"),
        "{cfg}"
    );
    assert!(cfg.contains("- 3000/TCP\n  - 3001/TCP"), "{cfg}");
    let err = e.fail(&["config", "set", "MinMemory", "1Gi"], 1);
    assert!(err.contains("already set; use -f"), "{err}");
    e.ok(&["config", "set", "MinMemory", "256Mi", "-f"]);

    let view = e.ok(&["config", "view"]);
    assert!(view.contains("MinMemory          256Mi"), "{view}");
    assert!(view.contains("NODE_ENV     dev"), "{view}");
    let doc = e.json(&["config", "view", "-o", "json"]);
    assert_eq!(doc["ComponentSettings"]["MaxMemory"], "512Mi");

    e.ok(&["config", "unset", "Memory"]);
    e.ok(&["config", "unset", "--env", "NODE_ENV"]);
    let cfg = e.config();
    assert!(!cfg.contains("Memory") && !cfg.contains("Envs"), "{cfg}");

    let err = e.fail(&["config", "set", "Colour", "blue"], 1);
    assert!(
        err.contains("unknown parameter \"Colour\"")
            && err.contains("known parameters: Type, Name"),
        "{err}"
    );
    let err = e.fail(&["config", "set", "Name", "x".repeat(60).as_str(), "-f"], 1);
    assert!(err.contains("at most 51"), "{err}");
    let err = e.fail(&["config", "unset", "DebugPort"], 1);
    assert!(err.contains("not set"), "{err}");
}

#[test]
fn invalid_yaml_names_file_and_line() {
    let e = Env::new();
    e.ok(&["create", "nodejs", "web"]);
    let path = e.ctx().join(".odo/config.yaml");
    let text = e.config().replace("  Name: web\n", "  Name: [web\n");
    std::fs::write(&path, text).unwrap();
    let err = e.fail(&["config", "view"], 1);
    assert!(err.contains(&format!("{}:", path.display())), "{err}");
    let line: usize = err
        .split(&format!("{}:", path.display()))
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((8..=10).contains(&line), "line {line}: {err}");

    std::fs::write(
        &path,
        "kind: LocalConfig\napiVersion: odo.dev/v1alpha1\nComponentSettings:\n  DebugPort: lots\n",
    )
    .unwrap();
    let err = e.fail(&["config", "view"], 1);
    assert!(err.contains(&format!("{}:4:", path.display())), "{err}");
}

#[test]
fn local_config_env_override() {
    let e = Env::new();
    let custom = e.dir.path().join("custom.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_odo"))
        .args(["create", "python", "api"])
        .current_dir(e.ctx())
        .env("HOME", e.dir.path().join("home"))
        .env("GLOBALODOCONFIG", e.pref())
        .env("LOCALODOCONFIG", &custom)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read_to_string(&custom)
            .unwrap()
            .contains("Name: api")
    );
    assert!(!e.ctx().join(".odo").exists());
}

#[test]
fn preference_set_unset_view() {
    let e = Env::new();
    e.ok(&["preference", "set", "pushtimeout", "30"]);
    e.ok(&["preference", "set", "UpdateNotification", "false"]);
    let text = std::fs::read_to_string(e.pref()).unwrap();
    assert_eq!(
        text,
        "kind: Preference\napiVersion: odo.dev/v1alpha1\nOdoSettings:\n  UpdateNotification: false\n  PushTimeout: 30\n"
    );
    let err = e.fail(&["preference", "set", "PushTimeout", "40"], 1);
    assert!(err.contains("add -f"), "{err}");
    e.ok(&["preference", "set", "PushTimeout", "40", "-f"]);
    let doc = e.json(&["preference", "view", "-o", "json"]);
    assert_eq!(doc["OdoSettings"]["PushTimeout"], 40);
    let view = e.ok(&["preference", "view"]);
    assert!(view.contains("PushTimeout            40"), "{view}");
    e.ok(&["preference", "unset", "PushTimeout", "-f"]);
    assert!(
        !std::fs::read_to_string(e.pref())
            .unwrap()
            .contains("PushTimeout")
    );
    let err = e.fail(&["preference", "set", "Timeout", "0"], 1);
    assert!(err.contains("greater than 0"), "{err}");
    let err = e.fail(&["preference", "set", "Colour", "x"], 1);
    assert!(
        err.contains("known preferences: UpdateNotification"),
        "{err}"
    );
    assert!(
        !e.dir.path().join("home/.odo").exists(),
        "the real home is never touched"
    );
}

#[test]
fn url_create_list_delete_local_state() {
    let e = Env::new();
    e.ok(&["create", "java", "api"]);
    let err = e.fail(&["url", "create"], 1);
    assert!(
        err.contains("several ports") && err.contains("--port with one of 8080, 8443"),
        "{err}"
    );
    let err = e.fail(&["url", "create", "--port", "9999"], 1);
    assert!(err.contains("does not expose TCP port 9999"), "{err}");
    e.ok(&["url", "create", "--port", "8080"]);
    e.ok(&[
        "url",
        "create",
        "admin",
        "--port",
        "8443",
        "--secure",
        "--host",
        "apps.example.com",
    ]);
    let err = e.fail(&["url", "create", "admin", "--port", "8443"], 1);
    assert!(err.contains("already exists"), "{err}");
    let err = e.fail(&["url", "create", "Bad", "--port", "8080"], 1);
    assert!(err.contains("invalid url name"), "{err}");
    assert!(e.config().contains("Url:\n  - Name: api-8080\n    Port: 8080\n  - Name: admin\n    Port: 8443\n    Secure: true\n    Host: apps.example.com\n"), "{}", e.config());

    let list = e.json(&["url", "list", "-o", "json"]);
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["kind"], "url");
    assert_eq!(items[1]["spec"]["host"], "admin.apps.example.com");
    assert_eq!(items[1]["spec"]["protocol"], "https");
    assert_eq!(items[1]["spec"]["secure"], true);
    assert_eq!(
        items[0]["spec"]["secure"], false,
        "secure is always emitted"
    );
    let table = e.ok(&["url", "list"]);
    assert!(table.contains("https://admin.apps.example.com"), "{table}");

    let doc = e.json(&["url", "describe", "admin", "-o", "json"]);
    assert_eq!(doc["spec"]["port"], 8443);
    e.fail(&["url", "describe", "nope"], 1);
    e.fail(&["url", "delete", "admin"], 1);
    e.ok(&["url", "delete", "admin", "-f"]);
    e.ok(&["url", "delete", "api-8080", "-f"]);
    assert!(!e.config().contains("Url"), "{}", e.config());
    assert!(e.ok(&["url", "list"]).contains("no URLs"));
}

#[test]
fn storage_create_list_delete_local_state() {
    let e = Env::new();
    e.ok(&["create", "python", "api", "--app", "shop"]);
    let doc = e.json(&[
        "storage", "create", "data", "--path", "/data", "--size", "2Gi", "-o", "json",
    ]);
    assert_eq!(doc["kind"], "storage");
    assert_eq!(doc["spec"]["size"], "2Gi");
    assert_eq!(doc["status"], "Not Pushed");
    e.ok(&["storage", "create", "--path", "/cache"]);
    let err = e.fail(&["storage", "create", "other", "--path", "/data"], 1);
    assert!(err.contains("already uses"), "{err}");
    let err = e.fail(&["storage", "create", "x", "--path", "relative"], 1);
    assert!(err.contains("absolute path"), "{err}");
    let err = e.fail(
        &["storage", "create", "x", "--path", "/x", "--size", "lots"],
        1,
    );
    assert!(err.contains("invalid storage size"), "{err}");
    let list = e.json(&["storage", "list", "-o", "json"]);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["spec"]["size"], "1Gi");
    assert!(
        items[1]["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("api-")
    );
    e.ok(&["storage", "delete", "data", "-f"]);
    let cfg = e.config();
    assert!(!cfg.contains("/data") && cfg.contains("/cache"), "{cfg}");
}

#[test]
fn catalog_version_completion() {
    let e = Env::new();
    let table = e.ok(&["catalog", "list", "components"]);
    assert!(
        table.contains("nodejs")
            && table.contains("14,latest")
            && table.contains("8080/TCP,8443/TCP"),
        "{table}"
    );
    let doc = e.json(&["catalog", "list", "components", "-o", "json"]);
    let names: Vec<&str> = doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["java", "nodejs", "python"]);
    assert_eq!(
        doc["items"][1]["spec"]["image"],
        "registry.access.redhat.com/ubi8/nodejs-14:latest"
    );

    assert!(
        e.ok(&["version", "--client"])
            .starts_with(&format!("odo v{}", env!("CARGO_PKG_VERSION")))
    );
    for shell in ["bash", "zsh", "fish"] {
        let script = e.ok(&["completion", shell]);
        assert!(
            script.contains("odo") && script.contains("storage") && script.len() > 1000,
            "{shell}"
        );
    }
    e.fail(&["completion", "tcsh"], 2);
}

#[test]
fn help_shows_examples() {
    let e = Env::new();
    for args in [
        &["--help"][..],
        &["create", "--help"],
        &["url", "create", "--help"],
        &["config", "set", "--help"],
    ] {
        let out = e.ok(args);
        assert!(
            out.contains("Examples:") && out.contains("  odo "),
            "{args:?}: {out}"
        );
    }
}

#[test]
fn list_path_finds_local_components() {
    let e = Env::new();
    let root = e.dir.path().join("home");
    for (dir, ty) in [("a", "nodejs"), ("b/c", "java")] {
        let d = root.join(dir);
        std::fs::create_dir_all(&d).unwrap();
        e.ok(&[
            "create",
            ty,
            &format!("comp-{}", dir.replace('/', "")),
            "--context",
            d.to_str().unwrap(),
        ]);
    }
    let doc = e.json(&["list", "--path", root.to_str().unwrap(), "-o", "json"]);
    let names: Vec<&str> = doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["comp-a", "comp-bc"]);
    let table = e.ok(&["list", "--path", root.to_str().unwrap()]);
    assert!(
        table.contains("comp-bc") && table.contains("java"),
        "{table}"
    );
}

#[test]
fn utils_index_shows_pending_changes_and_writes_only_when_asked() {
    let e = Env::new();
    e.ok(&["create", "nodejs", "web"]);
    std::fs::write(e.ctx().join("server.js"), "console.log(1);\n").unwrap();
    let index = e.ctx().join(".odo/odo-file-index.json");
    let pending = e.json(&["utils", "index", "-o", "json"]);
    assert_eq!(pending["kind"], "FileIndexChanges");
    assert_eq!(pending["added"], serde_json::json!(["server.js"]));
    assert!(!index.exists(), "a plain `utils index` writes nothing");

    let written = e.json(&["utils", "index", "--write", "-o", "json"]);
    assert_eq!(written["added"], serde_json::json!(["server.js"]));
    let doc: Value = serde_json::from_slice(&std::fs::read(&index).unwrap()).unwrap();
    assert_eq!(doc["kind"], "FileIndex");
    assert!(doc["Files"]["server.js"].is_object(), "{doc}");
    assert!(
        doc.get("PodUID").is_none(),
        "no pod recorded, so the next push resends everything: {doc}"
    );
    let after = e.ok(&["utils", "index"]);
    assert!(after.contains("No file changes"), "{after}");
    std::fs::remove_file(e.ctx().join("server.js")).unwrap();
    let gone = e.json(&["utils", "index", "-o", "json"]);
    assert_eq!(gone["deleted"], serde_json::json!(["server.js"]));
}
