//! Simulated language runtimes and servers: serve, node, npm, java, mvn, python, pip,
//! hello-openshift. They read the real source files they are given and behave observably
//! (print what the program would print, build artifacts, serve until stopped) without running
//! any real interpreter.

use super::files::with_name;
use crate::runtime::process::Proc;
use crate::runtime::shell::run_external;

/// The string literals passed to `call(` in `src` (e.g. `console.log("x")`, `print('x')`).
pub fn printed_literals(src: &str, call: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(pos) = rest.find(call) {
        rest = &rest[pos + call.len()..];
        let trimmed = rest.trim_start();
        let Some(q) = trimmed
            .chars()
            .next()
            .filter(|c| matches!(c, '"' | '\'' | '`'))
        else {
            continue;
        };
        let body = &trimmed[1..];
        if let Some(end) = body.find(q) {
            out.push(body[..end].to_string());
        }
    }
    out
}

/// The port a program listens on: `$PORT`, else the first number after `marker` in `src`,
/// else `default`.
fn port_of(p: &Proc, src: &str, marker: &str, default: u16) -> u16 {
    if let Some(port) = p.env.get("PORT").and_then(|v| v.parse().ok()) {
        return port;
    }
    src.find(marker)
        .map(|i| &src[i + marker.len()..])
        .and_then(|rest| {
            let digits: String = rest
                .trim_start_matches(|c: char| !c.is_ascii_digit() && c != '\n')
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .unwrap_or(default)
}

/// `serve [PORT...]`: prints one line per port and serves until stopped (SIGTERM exits 0).
pub async fn serve(p: Proc) -> i32 {
    let ports: Vec<u16> = p.argv[1..].iter().filter_map(|a| a.parse().ok()).collect();
    for port in &ports {
        p.io.stdout.print(&format!("serving on {port}\n"));
    }
    let _ = p.listen_forever(&ports).await;
    0
}

/// `hello-openshift`: the sample server, listening on 8080 and 8888.
pub async fn hello_openshift(p: Proc) -> i32 {
    p.io.stdout.print("serving on 8888\nserving on 8080\n");
    p.listen_forever(&[8080, 8888]).await
}

/// Runs a script-like source: prints its literal output lines, then serves when it listens
/// (on the port found after the first `listens` marker, 8080 by default).
async fn run_source(p: &Proc, file: &str, call: &str, listens: &[&str], missing: String) -> i32 {
    let src = match p.sys.fs.read(&p.abs(file)) {
        Ok(s) => String::from_utf8_lossy(&s).into_owned(),
        Err(_) => {
            p.io.stderr.print(&missing);
            return 1;
        }
    };
    for line in printed_literals(&src, call) {
        p.io.stdout.print(&format!("{line}\n"));
    }
    if let Some(marker) = listens.iter().find(|l| src.contains(**l)) {
        let port = port_of(p, &src, marker, 8080);
        // No handler installed: a terminating signal kills the process (exit 128 + signal).
        p.listen_forever(&[port]).await
    } else {
        0
    }
}

/// `node FILE`.
pub async fn node(p: Proc) -> i32 {
    let Some(file) = p.argv.iter().skip(1).find(|a| !a.starts_with('-')).cloned() else {
        if p.argv.iter().any(|a| a == "-v" || a == "--version") {
            p.io.stdout.print("v14.21.3\n");
            return 0;
        }
        p.err("interactive mode is not available in this image");
        return 1;
    };
    let abs = p.abs(&file);
    let missing = format!(
        "internal/modules/cjs/loader.js:883\n  throw err;\n  ^\n\nError: Cannot find module '{abs}'\n"
    );
    run_source(
        &p,
        &file,
        "console.log(",
        &["listen(", "createServer"],
        missing,
    )
    .await
}

fn json_field(v: &serde_json::Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k)?;
    }
    cur.as_str().map(str::to_string)
}

/// `npm install|ci|start|run SCRIPT`.
pub async fn npm(p: Proc) -> i32 {
    let sub = p.argv.get(1).map(String::as_str).unwrap_or("");
    let pkg_path = p.abs("package.json");
    let pkg: Option<serde_json::Value> = p
        .sys
        .fs
        .read(&pkg_path)
        .ok()
        .and_then(|d| serde_json::from_slice(&d).ok());
    match sub {
        "install" | "i" | "ci" => {
            let Some(pkg) = pkg else {
                p.io.stderr.print(&format!(
                    "npm ERR! code ENOENT\nnpm ERR! syscall open\nnpm ERR! path {pkg_path}\n"
                ));
                return 254;
            };
            let deps: Vec<String> = pkg
                .get("dependencies")
                .and_then(|d| d.as_object())
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            let now = p.now();
            for d in &deps {
                let dir = p.abs(&format!("node_modules/{d}"));
                let _ = p.sys.fs.mkdir(&dir, true, 0o755, now);
                let _ = p.sys.fs.write(
                    &format!("{dir}/package.json"),
                    format!("{{\"name\":\"{d}\"}}\n").as_bytes(),
                    false,
                    0o644,
                    now,
                );
            }
            p.io.stdout.print(&format!(
                "added {} packages from {} contributors and audited {} packages in 1.2s\nfound 0 vulnerabilities\n\n",
                deps.len(),
                deps.len(),
                deps.len()
            ));
            0
        }
        "start" | "run" | "run-script" => {
            let script_name = if sub == "start" {
                "start".to_string()
            } else {
                p.argv.get(2).cloned().unwrap_or_default()
            };
            let Some(pkg) = pkg else {
                p.io.stderr.print(&format!(
                    "npm ERR! enoent ENOENT: no such file or directory, open '{pkg_path}'\n"
                ));
                return 254;
            };
            let script = json_field(&pkg, &["scripts", &script_name])
                .or_else(|| (script_name == "start").then(|| "node server.js".to_string()));
            let Some(script) = script else {
                p.io.stderr
                    .print(&format!("npm ERR! missing script: {script_name}\n"));
                return 1;
            };
            let name = json_field(&pkg, &["name"]).unwrap_or_default();
            let version = json_field(&pkg, &["version"]).unwrap_or_default();
            p.io.stdout.print(&format!(
                "\n> {name}@{version} {script_name} {}\n> {script}\n\n",
                p.cwd
            ));
            let child = p.child(vec!["sh".into(), "-c".into(), script], p.io.clone());
            run_external(child).await
        }
        "-v" | "--version" => {
            p.io.stdout.print("6.14.18\n");
            0
        }
        other => {
            p.io.stderr
                .print(&format!("npm ERR! unknown command: {other}\n"));
            1
        }
    }
}

/// The first `<tag>` value in an XML text that is a direct project coordinate.
fn xml_tag(xml: &str, tag: &str) -> Option<String> {
    // Skip the <parent> block so its coordinates are not taken for the project's.
    let body = match (xml.find("<parent>"), xml.find("</parent>")) {
        (Some(a), Some(b)) if a < b => format!("{}{}", &xml[..a], &xml[b..]),
        _ => xml.to_string(),
    };
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&close)? + start;
    Some(body[start..end].trim().to_string())
}

/// `mvn [-q] [-f POM] [clean] package|install`: writes `target/<artifactId>-<version>.jar`.
pub async fn mvn(p: Proc) -> i32 {
    let mut pom = "pom.xml".to_string();
    let mut goals = Vec::new();
    let mut i = 1;
    while i < p.argv.len() {
        match p.argv[i].as_str() {
            "-f" | "--file" => {
                pom = p.argv.get(i + 1).cloned().unwrap_or(pom);
                i += 1;
            }
            a if a.starts_with('-') => {}
            a => goals.push(a.to_string()),
        }
        i += 1;
    }
    let pom_abs = p.abs(&pom);
    let Ok(xml) = p.sys.fs.read(&pom_abs) else {
        p.io.stdout.print(&format!(
            "[ERROR] The goal you specified requires a project to execute but there is no POM in this directory ({}). Please verify you invoked Maven from the correct directory. -> [Help 1]\n",
            p.cwd
        ));
        return 1;
    };
    let xml = String::from_utf8_lossy(&xml).into_owned();
    let project_dir = super::super::fs::absolute(&pom_abs, "..");
    let artifact = xml_tag(&xml, "artifactId").unwrap_or_else(|| "app".into());
    let version = xml_tag(&xml, "version").unwrap_or_else(|| "1.0".into());
    let target = format!("{project_dir}/target");
    let now = p.now();
    p.io.stdout.print(&format!(
        "[INFO] Scanning for projects...\n[INFO] \n[INFO] ---------------------< {artifact} >---------------------\n[INFO] Building {artifact} {version}\n"
    ));
    if goals.iter().any(|g| g == "clean") {
        let _ = p.sys.fs.remove(&target, true, now);
    }
    if goals
        .iter()
        .any(|g| matches!(g.as_str(), "package" | "install" | "verify"))
    {
        let sources = p
            .sys
            .fs
            .subtree(&format!("{project_dir}/src/main"), true)
            .map(|n| n.files())
            .unwrap_or_default();
        let mut manifest = format!(
            "SIMJAR 1\nImplementation-Title: {artifact}\nImplementation-Version: {version}\n"
        );
        for (path, data) in &sources {
            manifest.push_str(&format!("Source: {path} {}\n", data.len()));
            if path.ends_with(".java") {
                for line in printed_literals(&String::from_utf8_lossy(data), "System.out.println(")
                {
                    manifest.push_str(&format!("Prints: {line}\n"));
                }
            }
        }
        let jar = format!("{target}/{artifact}-{version}.jar");
        let res = p
            .sys
            .fs
            .mkdir(&target, true, 0o755, now)
            .and_then(|()| p.sys.fs.write(&jar, manifest.as_bytes(), false, 0o644, now));
        if let Err(e) = res {
            p.io.stdout
                .print(&format!("[ERROR] Failed to write {jar}: {e}\n"));
            return 1;
        }
        p.io.stdout.print(&format!(
            "[INFO] Building jar: {jar}\n[INFO] ------------------------------------------------------------------------\n[INFO] BUILD SUCCESS\n[INFO] ------------------------------------------------------------------------\n"
        ));
    }
    0
}

/// `java -jar FILE.jar`: prints what the application's sources print, then serves.
pub async fn java(p: Proc) -> i32 {
    let Some(pos) = p.argv.iter().position(|a| a == "-jar") else {
        if p.argv.iter().any(|a| a == "-version" || a == "--version") {
            p.io.stderr
                .print("openjdk version \"11.0.20\" 2023-07-18 LTS\n");
            return 0;
        }
        p.err("only `java -jar FILE` is simulated");
        return 1;
    };
    let Some(jar) = p.argv.get(pos + 1).cloned() else {
        p.io.stderr
            .print("Error: -jar requires jar file specification\n");
        return 1;
    };
    let data = match p.sys.fs.read(&p.abs(&jar)) {
        Ok(d) => String::from_utf8_lossy(&d).into_owned(),
        Err(e) => {
            let _ = with_name(e, &jar);
            p.io.stderr
                .print(&format!("Error: Unable to access jarfile {jar}\n"));
            return 1;
        }
    };
    if !data.starts_with("SIMJAR") {
        p.io.stderr
            .print(&format!("Error: Invalid or corrupt jarfile {jar}\n"));
        return 1;
    }
    for line in data.lines().filter_map(|l| l.strip_prefix("Prints: ")) {
        p.io.stdout.print(&format!("{line}\n"));
    }
    let port = p
        .env
        .get("SERVER_PORT")
        .or(p.env.get("PORT"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(8080);
    // The JVM exits with 128 + signal on SIGTERM.
    p.listen_forever(&[port]).await
}

/// `python FILE` / `python3 FILE` / `python -V`.
pub async fn python(p: Proc) -> i32 {
    if p.argv.iter().any(|a| a == "-V" || a == "--version") {
        p.io.stdout.print("Python 3.8.16\n");
        return 0;
    }
    let Some(file) = p.argv.iter().skip(1).find(|a| !a.starts_with('-')).cloned() else {
        p.err("interactive mode is not available in this image");
        return 1;
    };
    let missing = format!(
        "{}: can't open file '{}': [Errno 2] No such file or directory\n",
        p.argv[0],
        p.abs(&file)
    );
    run_source(
        &p,
        &file,
        "print(",
        &["run(", "serve_forever", "listen("],
        missing,
    )
    .await
}

/// `pip install [-r FILE] [PKG...]`.
pub async fn pip(p: Proc) -> i32 {
    if p.argv.get(1).map(String::as_str) != Some("install") {
        p.io.stdout.print("pip 19.3.1 (python 3.8)\n");
        return 0;
    }
    let mut pkgs = Vec::new();
    let mut i = 2;
    while i < p.argv.len() {
        match p.argv[i].as_str() {
            "-r" | "--requirement" => {
                let Some(f) = p.argv.get(i + 1) else {
                    p.err("-r option requires 1 argument");
                    return 2;
                };
                match p.sys.fs.read(&p.abs(f)) {
                    Ok(d) => pkgs.extend(
                        String::from_utf8_lossy(&d)
                            .lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty() && !l.starts_with('#'))
                            .map(str::to_string),
                    ),
                    Err(_) => {
                        p.io.stderr.print(&format!(
                            "ERROR: Could not open requirements file: [Errno 2] No such file or directory: '{f}'\n"
                        ));
                        return 1;
                    }
                }
                i += 1;
            }
            a if a.starts_with('-') => {}
            a => pkgs.push(a.to_string()),
        }
        i += 1;
    }
    let site = p
        .env
        .get("APP_ROOT")
        .cloned()
        .unwrap_or_else(|| "/opt/app-root".into())
        + "/lib/python3.8/site-packages";
    let now = p.now();
    let mut names = Vec::new();
    for req in &pkgs {
        let name = req
            .split(|c: char| "=<>!~ ;[".contains(c))
            .next()
            .unwrap_or(req)
            .to_string();
        p.io.stdout.print(&format!("Collecting {req}\n"));
        let _ = p.sys.fs.mkdir(&format!("{site}/{name}"), true, 0o755, now);
        names.push(name);
    }
    if !names.is_empty() {
        p.io.stdout
            .print(&format!("Successfully installed {}\n", names.join(" ")));
    }
    0
}
