//! The catalogue's images run their real scripts: the java and python s2i builders assemble
//! and run applications, hello-openshift serves; plus processes and signals (ps, kill, SIGTERM
//! to PID 1) and streamed exec stdin.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use bytes::Bytes;
use k8s_openapi::api::core::v1::Container;
use odo_sim::runtime::sandbox::{Sandbox, log_sink};
use odo_sim::runtime::{Host, Input, Out, PodVolumes, SIGTERM, Stdio, TestHost};

fn container(image: &str, command: Option<Vec<&str>>) -> Container {
    Container {
        name: "c".into(),
        image: Some(image.into()),
        command: command.map(|c| c.into_iter().map(str::to_string).collect()),
        ..Default::default()
    }
}

async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..20_000 {
        if cond() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn java_builder_assembles_with_maven_and_runs_the_jar() {
    let sb = Sandbox::new().unwrap();
    let inst = Arc::new(
        sb.container(
            &container("registry.access.redhat.com/ubi8/openjdk-11:latest", None),
            &[],
            &PodVolumes::default(),
        )
        .unwrap(),
    );
    let fs = inst.fs();
    let now = sb.host.now();
    fs.mkdir("/tmp/src/src/main/java/demo", true, 0o755, now)
        .unwrap();
    fs.write(
        "/tmp/src/pom.xml",
        b"<project><parent><artifactId>spring-boot-starter-parent</artifactId><version>2.7.0</version></parent><groupId>demo</groupId><artifactId>hello</artifactId><version>0.0.1</version></project>",
        false,
        0o644,
        now,
    )
    .unwrap();
    fs.write(
        "/tmp/src/src/main/java/demo/App.java",
        b"class App { public static void main(String[] a) { System.out.println(\"Started App in 1.2 seconds\"); } }",
        false,
        0o644,
        now,
    )
    .unwrap();
    let r = sb.exec(&inst, &["/usr/libexec/s2i/assemble"], b"").await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("INFO S2I source build for Maven detected")
    );
    assert!(r.stdout.contains("[INFO] BUILD SUCCESS"));
    assert!(fs.exists("/deployments/hello-0.0.1.jar"));

    // The image's default command is the run script: it execs java -jar on the jar.
    assert_eq!(inst.argv(), ["/usr/libexec/s2i/run"]);
    let (io, log) = log_sink();
    let task = tokio::spawn(inst.start(sb.host(), io));
    until("the app to print", || {
        log.text().contains("Started App in 1.2 seconds")
    })
    .await;
    assert!(
        log.text()
            .starts_with("INFO exec java -jar /deployments/hello-0.0.1.jar\n")
    );
    let ps = sb.exec(&inst, &["ps"], b"").await;
    assert!(
        ps.stdout
            .contains("    1 185      0:00 /usr/libexec/s2i/run"),
        "{}",
        ps.stdout
    );
    // java handles SIGTERM (exits 143 = 128 + 15, the JVM's exit code on TERM).
    assert!(inst.signal(SIGTERM));
    assert_eq!(task.await.unwrap(), 143);
}

#[tokio::test]
async fn python_builder_installs_requirements_and_runs_app_py() {
    let sb = Sandbox::new().unwrap();
    let inst = Arc::new(
        sb.container(
            &container("registry.access.redhat.com/ubi8/python-38:latest", None),
            &[],
            &PodVolumes::default(),
        )
        .unwrap(),
    );
    let fs = inst.fs();
    let now = sb.host.now();
    fs.mkdir("/tmp/src", true, 0o755, now).unwrap();
    fs.write(
        "/tmp/src/requirements.txt",
        b"flask==2.0.1\n# comment\ngunicorn\n",
        false,
        0o644,
        now,
    )
    .unwrap();
    fs.write(
        "/tmp/src/app.py",
        b"from flask import Flask\napp = Flask(__name__)\nprint('Serving on 0.0.0.0:8080')\napp.run(host='0.0.0.0', port=8080)\n",
        false,
        0o644,
        now,
    )
    .unwrap();
    let r = sb.exec(&inst, &["/usr/libexec/s2i/assemble"], b"").await;
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "---> Installing application source ...\n---> Installing dependencies ...\nCollecting flask==2.0.1\nCollecting gunicorn\nSuccessfully installed flask gunicorn\n"
    );
    assert!(fs.exists("/opt/app-root/src/app.py"));
    assert!(fs.is_dir("/opt/app-root/lib/python3.8/site-packages/flask"));
    let run = sb.container(
        &container(
            "registry.access.redhat.com/ubi8/python-38:latest",
            Some(vec!["/usr/libexec/s2i/run"]),
        ),
        &[],
        &PodVolumes::default(),
    );
    // A fresh container has no app.py: the run script explains and fails.
    let (io, log) = log_sink();
    assert_eq!(run.unwrap().start(sb.host(), io).await, 1);
    assert!(
        log.text()
            .contains("ERROR: don't know how to run your application.")
    );
    // The assembled one serves until stopped.
    let (io, log) = log_sink();
    let argv = vec!["/usr/libexec/s2i/run".to_string()];
    let task = tokio::spawn(inst.exec(argv, sb.host(), io).unwrap());
    until("the app to serve", || {
        log.text().contains("Serving on 0.0.0.0:8080")
    })
    .await;
    assert_eq!(
        log.text(),
        "---> Running application from Python script (app.py) ...\nServing on 0.0.0.0:8080\n"
    );
    let ps = sb.exec(&inst, &["ps"], b"").await;
    let pid = ps
        .stdout
        .lines()
        .find(|l| l.ends_with("/usr/libexec/s2i/run"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    assert_eq!(sb.exec(&inst, &["kill", &pid], b"").await.code, 0);
    assert_eq!(task.await.unwrap(), 143);
}

#[tokio::test]
async fn hello_openshift_serves_until_terminated() {
    let sb = Sandbox::new().unwrap();
    let inst = sb
        .container(
            &container("openshift/hello-openshift", None),
            &[],
            &PodVolumes::default(),
        )
        .unwrap();
    assert_eq!(inst.image().config.ports, ["8080/tcp", "8888/tcp"]);
    let (io, log) = log_sink();
    let task = tokio::spawn(inst.start(sb.host(), io));
    until("hello-openshift to listen", || {
        log.text() == "serving on 8888\nserving on 8080\n"
    })
    .await;
    assert!(!task.is_finished());
    assert!(inst.signal(SIGTERM));
    assert_eq!(task.await.unwrap(), 143);
    assert!(inst.listening_ports().is_empty());
}

#[tokio::test]
async fn pid1_shell_ignores_sigterm_but_kill_reaches_other_processes() {
    let mut sb = Sandbox::new().unwrap();
    sb.host = TestHost::manual();
    let inst = Arc::new(
        sb.container(
            &container(
                "busybox",
                Some(vec!["sh", "-c", "echo up; sleep 3600; echo never"]),
            ),
            &[],
            &PodVolumes::default(),
        )
        .unwrap(),
    );
    let (io, log) = log_sink();
    let mut task = tokio::spawn(inst.start(sb.host(), io));
    until("PID 1 to start", || log.text() == "up\n").await;
    // Linux gives PID 1 no default action for SIGTERM: the kubelet must SIGKILL after the grace
    // period (dropping the future).
    until("the sleep to start", || sb.host.sleepers() == 1).await;
    assert!(inst.signal(SIGTERM));
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert!(!task.is_finished());
    let ps = sb.exec(&inst, &["ps"], b"").await;
    assert!(ps.stdout.contains("sleep 3600"), "{}", ps.stdout);
    // `kill` from an exec'd shell terminates the sleep (not PID 1): the script goes on.
    let pid = ps
        .stdout
        .lines()
        .find(|l| l.ends_with("0:00 sleep 3600"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let k = sb.exec(&inst, &["kill", &pid], b"").await;
    assert_eq!(k.code, 0, "{k:?}");
    let code = (&mut task).await.unwrap();
    assert_eq!(code, 0);
    assert_eq!(log.text(), "up\nnever\n");
    let k = sb.exec(&inst, &["kill", "4242"], b"").await;
    assert_eq!(
        (k.code, k.stderr.as_str()),
        (1, "kill: can't kill pid 4242: No such process\n")
    );
}

#[tokio::test]
async fn exec_stdin_streams_chunks_until_closed() {
    let sb = Sandbox::new().unwrap();
    let inst = sb.busybox().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let (out, buf) = Out::capture();
    let io = Stdio::new(out, Out::null()).with_stdin(Input::channel(rx));
    let argv = [
        "sh",
        "-c",
        "while read line; do echo \"got $line\"; done; echo eof",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let task = tokio::spawn(inst.exec(argv, sb.host(), io).unwrap());
    tx.send(Bytes::from_static(b"one\ntw")).unwrap();
    until("the first line", || buf.text() == "got one\n").await;
    tx.send(Bytes::from_static(b"o\n")).unwrap();
    until("the second line", || buf.text() == "got one\ngot two\n").await;
    drop(tx);
    assert_eq!(task.await.unwrap(), 0);
    assert_eq!(buf.text(), "got one\ngot two\neof\n");
}

#[tokio::test]
async fn scripts_need_exec_permission_and_follow_shebangs() {
    let sb = Sandbox::new().unwrap();
    let r = sb
        .sh("printf '#!/bin/sh\\necho from script $1\\n' > /tmp/s; /tmp/s; echo $?; chmod +x /tmp/s; /tmp/s arg")
        .await;
    assert_eq!(r.stdout, "126\nfrom script arg\n");
    assert_eq!(r.stderr, "sh: /tmp/s: Permission denied\n");
    let r = sb
        .sh("/opt/odo/bin/supervisord ctl status; supervisord ctl status; echo $?")
        .await;
    assert_eq!(r.stdout, "127\n", "{r:?}");
}

#[tokio::test]
async fn keep_alive_idioms_wait_for_a_signal() {
    let mut sb = Sandbox::new().unwrap();
    sb.host = TestHost::manual();
    let inst = Arc::new(
        sb.container(
            &container("busybox", Some(vec!["tail", "-f", "/dev/null"])),
            &[],
            &PodVolumes::default(),
        )
        .unwrap(),
    );
    let (io, _log) = log_sink();
    let pid1 = tokio::spawn(inst.start(sb.host(), io));
    for cmd in [vec!["tail", "-f", "/dev/null"], vec!["sleep", "infinity"]] {
        let (io, _log) = log_sink();
        let argv: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        let task = tokio::spawn(inst.exec(argv, sb.host(), io).unwrap());
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert!(!task.is_finished(), "{cmd:?} ended by itself");
        let ps = sb.exec(&inst, &["ps"], b"").await;
        let pid = ps
            .stdout
            .lines()
            .filter(|l| !l.trim_start().starts_with("1 "))
            .find(|l| l.ends_with(&cmd.join(" ")))
            .and_then(|l| l.split_whitespace().next())
            .unwrap()
            .to_string();
        assert_eq!(sb.exec(&inst, &["kill", &pid], b"").await.code, 0);
        assert_eq!(task.await.unwrap(), 143, "{cmd:?}");
    }
    // PID 1 running `tail -f` ignores SIGTERM; SIGKILL (kill -9) ends it.
    assert!(inst.signal(SIGTERM));
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(!pid1.is_finished());
    assert_eq!(sb.exec(&inst, &["kill", "-9", "1"], b"").await.code, 0);
    assert_eq!(pid1.await.unwrap(), 137);
}

#[tokio::test]
async fn trap_on_term_lets_pid1_shut_down_gracefully() {
    let mut sb = Sandbox::new().unwrap();
    sb.host = TestHost::manual();
    let script = "trap 'echo stopping; exit 0' TERM; echo started; while true; do sleep 5; done";
    let inst = Arc::new(
        sb.container(
            &container("busybox", Some(vec!["sh", "-c", script])),
            &[],
            &PodVolumes::default(),
        )
        .unwrap(),
    );
    let (io, log) = log_sink();
    let task = tokio::spawn(inst.start(sb.host(), io));
    until("the loop to sleep", || sb.host.sleepers() == 1).await;
    sb.host.advance(std::time::Duration::from_secs(5));
    until("the next sleep", || sb.host.sleepers() == 1).await;
    assert!(inst.signal(SIGTERM));
    assert_eq!(task.await.unwrap(), 0);
    assert_eq!(log.text(), "started\nstopping\n");

    // `wait` on a background job is interrupted by a trapped signal too.
    let script = "trap 'echo bye; exit 3' 15; sleep infinity & wait; echo unreachable";
    let inst = Arc::new(
        sb.container(
            &container("busybox", Some(vec!["sh", "-c", script])),
            &[],
            &PodVolumes::default(),
        )
        .unwrap(),
    );
    let (io, log) = log_sink();
    let task = tokio::spawn(inst.start(sb.host(), io));
    until("the background sleep", || {
        inst.processes()
            .iter()
            .any(|p| p.cmdline.starts_with("sleep"))
    })
    .await;
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(inst.signal(SIGTERM));
    assert_eq!(task.await.unwrap(), 3);
    assert_eq!(log.text(), "bye\n");
}
