//! Shell conformance: each script runs in a simulated busybox container and, where this machine
//! has `/bin/sh`, in the real shell too; stdout and the exit code must match the table (and
//! stderr where the table gives it and real shells agree on the wording).

#![allow(clippy::unwrap_used)]

use std::process::Command;

use k8s_openapi::api::core::v1::Container;
use odo_sim::runtime::PodVolumes;
use odo_sim::runtime::sandbox::Sandbox;

struct Case {
    script: &'static str,
    stdout: &'static str,
    /// Expected stderr in the simulator; checked against the real shell only when `same_stderr`.
    stderr: &'static str,
    code: i32,
    same_stderr: bool,
}

const fn ok(script: &'static str, stdout: &'static str) -> Case {
    Case {
        script,
        stdout,
        stderr: "",
        code: 0,
        same_stderr: true,
    }
}

fn cases() -> Vec<Case> {
    vec![
        ok("echo hello world", "hello world\n"),
        ok("echo \"a  b\" 'c  d'", "a  b c  d\n"),
        ok("x=5; echo \"$x\" ${x}y", "5 5y\n"),
        ok(
            "echo $(echo inner) \"$(printf '%s-%s' a b)\"",
            "inner a-b\n",
        ),
        ok("true && echo yes || echo no", "yes\n"),
        ok("false && echo yes || echo no", "no\n"),
        ok("false; echo $?", "1\n"),
        Case {
            code: 3,
            ..ok("echo before; exit 3; echo after", "before\n")
        },
        ok("if [ 1 -lt 2 ]; then echo lt; else echo ge; fi", "lt\n"),
        ok(
            "if false; then echo a; elif true; then echo b; else echo c; fi",
            "b\n",
        ),
        ok("for i in 1 2 3; do printf '%s,' $i; done; echo", "1,2,3,\n"),
        ok(
            "i=0; while [ $i -lt 3 ]; do i=$((i+1)); done; echo $i",
            "3\n",
        ),
        ok(
            "i=0; until [ $i -ge 2 ]; do i=$((i+1)); echo $i; done",
            "1\n2\n",
        ),
        ok(
            "for i in 1 2 3 4; do [ $i = 2 ] && continue; [ $i = 4 ] && break; echo $i; done",
            "1\n3\n",
        ),
        ok(
            "case foo.js in *.py) echo py;; *.js) echo js;; esac",
            "js\n",
        ),
        ok(
            "x=abc; case $x in a*) echo yes;; *) echo no;; esac",
            "yes\n",
        ),
        ok(
            "f() { echo \"args:$#:$1\"; return 4; }; f a b; echo $?",
            "args:2:a\n4\n",
        ),
        ok(
            "echo one > f; echo two >> f; cat f; wc -l < f",
            "one\ntwo\n2\n",
        ),
        Case {
            stderr: "err\n",
            ..ok("echo err 1>&2", "")
        },
        ok("ls nonexistent 2>/dev/null; echo $?", "2\n"),
        ok("{ echo out; echo err >&2; } 2>&1 | wc -l", "2\n"),
        ok("echo a b c | wc -w", "3\n"),
        ok(
            "printf '%5s|%-3d|%x|%03d\\n' ab 7 255 9",
            "   ab|7  |ff|009\n",
        ),
        Case {
            code: 1,
            ..ok("set -e; false; echo notreached", "")
        },
        ok(
            "set -e; false || true; if false; then :; fi; echo reached",
            "reached\n",
        ),
        ok("(exit 5); echo $?", "5\n"),
        ok("a=\"x y\"; set -- $a; echo $# \"$2\"", "2 y\n"),
        ok(
            "set -- 'a b' c; for x in \"$@\"; do echo \"[$x]\"; done",
            "[a b]\n[c]\n",
        ),
        ok(
            "v=hello; echo ${v#h} ${v%lo} ${#v} ${u:-dflt} ${v:+alt}",
            "ello hel 5 dflt alt\n",
        ),
        ok(
            "p=/opt/app/src.tar.gz; echo ${p##*/} ${p%%.*}",
            "src.tar.gz /opt/app/src\n",
        ),
        ok("printf 'b\\na\\nc\\n' | sort | head -n 2", "a\nb\n"),
        ok("echo hello | sed 's/l/L/g'", "heLLo\n"),
        ok(
            "echo 'autostart=false' | sed -e 's/autostart=false/autostart=true/'",
            "autostart=true\n",
        ),
        ok("printf 'x1\\ny2\\nx3\\n' | grep x | tail -n 1", "x3\n"),
        ok(
            "printf 'x1\\ny2\\n' | grep -c y; printf 'a\\n' | grep -q z; echo $?",
            "1\n1\n",
        ),
        ok("cat <<EOF\nline $((1+1))\nEOF", "line 2\n"),
        ok("cat <<'EOF'\nraw $x\nEOF", "raw $x\n"),
        ok("mkdir -p d/e && touch d/e/f && ls d/e", "f\n"),
        Case {
            stderr: "sh: nosuchcmd: not found\n",
            same_stderr: false,
            ..ok("nosuchcmd; echo $?", "127\n")
        },
        ok("echo \"$(echo a; echo b)\"", "a\nb\n"),
        ok("echo *.none", "*.none\n"),
        ok("touch b.txt a.txt; echo *.txt", "a.txt b.txt\n"),
        ok("exec echo replaced; echo never", "replaced\n"),
        ok("echo foo | md5sum", "d3b07384d113edec49eaa6238ad5ff00  -\n"),
        ok(
            "printf abc | sha256sum",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  -\n",
        ),
        ok(
            "printf 'a\\nb\\n' | while read l; do echo \"[$l]\"; done",
            "[a]\n[b]\n",
        ),
        ok(
            "test -d / && echo dir; [ -f / ] || echo notfile",
            "dir\nnotfile\n",
        ),
        ok(
            "[ a = b ]; echo $?; [ -n \"\" ]; echo $?; [ ! -z x ] && echo nz",
            "1\n1\nnz\n",
        ),
        ok(
            "echo $((7 / 2)) $((7 % 3)) $((2 * (3 + 4))) $((1 < 2))",
            "3 1 14 1\n",
        ),
        ok("false | true; echo $?", "0\n"),
        ok("cd /; pwd", "/\n"),
        ok("v=1; (v=2); echo $v", "1\n"),
        ok(
            "mkdir t && echo hi > t/x && tar cf - t | (mkdir out && cd out && tar xf -) && cat out/t/x",
            "hi\n",
        ),
        ok("echo a:b:c | (IFS=:; read x y z; echo $y)", "b\n"),
        ok("echo zip | gzip | gzip -d", "zip\n"),
        ok("echo -n no-newline", "no-newline"),
        ok("env -i A=1 'B=two words' env", "A=1\nB=two words\n"),
        ok(
            "X=outer; env -i X=inner sh -c 'echo $X'; env -i printenv X; echo $?",
            "inner\n1\n",
        ),
        ok("x=$(false); echo $?", "1\n"),
        ok(
            "echo a > f1; cp f1 f2; mv f2 f3; ls; rm f1 f3; ls | wc -l",
            "f1\nf3\n0\n",
        ),
        ok("ln -s target lnk; [ -L lnk ] && echo link", "link\n"),
        ok(
            "printf '%s\\n' one two three | head -n 1; printf '%s\\n' 1 2 3 | tail -n +2",
            "one\n2\n3\n",
        ),
        ok("n=0; for f in a b c; do n=$((n+1)); done; echo $n", "3\n"),
        ok("! false && echo negated", "negated\n"),
        ok("echo $((0x10)) $((-3 + 1))", "16 -2\n"),
        ok("s=' lead  x '; echo \"[$s]\" $s.", "[ lead  x ] lead x .\n"),
        ok("echo 'a\"b' \"c'd\" \\$HOME", "a\"b c'd $HOME\n"),
        ok("printf 'k=v\\n' > e; . ./e; echo $k", "v\n"),
        ok("eval 'y=7'; echo $y", "7\n"),
        ok(
            "f() { local z=in; echo $z; }; z=out; f; echo $z",
            "in\nout\n",
        ),
        ok("trap 'echo bye' EXIT; echo hi", "hi\nbye\n"),
        // Assignments before a regular builtin hold for that command only.
        ok(
            "printf '  a  b  \\n' | { IFS= read -r line; echo \"[$line]\"; }",
            "[  a  b  ]\n",
        ),
        ok(
            "printf 'x:y\\n' | { IFS=: read a b; echo \"$b\" ${#IFS}; }",
            "y 3\n",
        ),
        ok(
            "printf 'one\\n two \\n' | while IFS= read -r l; do echo \"<$l>\"; done",
            "<one>\n< two >\n",
        ),
        // ... but persist before a special builtin, and not past a function call.
        ok("x=1 :; echo $x", "1\n"),
        ok(
            "f() { echo \"in:$v\"; }; v=2 f; echo \"out:$v\"",
            "in:2\nout:\n",
        ),
        // Descriptors above 2.
        ok(
            "exec 3>f; echo x >&3; echo y >&3; exec 3>&-; cat f",
            "x\ny\n",
        ),
        Case {
            stderr: "out\n",
            ..ok("{ echo out; echo err >&2; } 3>&1 1>&2 2>&3", "err\n")
        },
        ok(
            "printf 'l1\\nl2\\n' > g; exec 4<g; read a <&4; read b <&4; echo $a $b",
            "l1 l2\n",
        ),
        ok("(echo to3 >&3) 3>&1", "to3\n"),
        ok(
            "{ echo x > /nonexistent/f; } 2>/dev/null; echo $?; { cat < /nonexistent/g; } 2>/dev/null; echo $?",
            "2\n2\n",
        ),
        ok("exec 3>&1; echo x >&3 | wc -l", "x\n0\n"),
        ok("{ echo x >&5; } 2>/dev/null || echo bad-fd", "bad-fd\n"),
        ok(
            "exec 3>&1; exec 3>&-; { echo x >&3; } 2>/dev/null || echo closed",
            "closed\n",
        ),
    ]
}

fn real_sh(script: &str) -> Option<(String, String, i32)> {
    if !std::path::Path::new("/bin/sh").exists() {
        return None;
    }
    let dir = tempfile::tempdir().ok()?;
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir.path())
        .env("LC_ALL", "C")
        .output()
        .ok()?;
    Some((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    ))
}

#[tokio::test]
async fn conformance_table_matches_simulator_and_real_sh() {
    let sb = Sandbox::new().expect("catalogue");
    let mut failures = Vec::new();
    let mut real_checked = 0;
    for case in cases() {
        // Each script gets a fresh container whose working directory is an empty /work.
        let c = Container {
            name: "t".into(),
            image: Some("busybox".into()),
            working_dir: Some("/work".into()),
            ..Default::default()
        };
        let inst = sb
            .container(&c, &[], &PodVolumes::default())
            .expect("container");
        let sim = sb.exec(&inst, &["sh", "-c", case.script], b"").await;
        if sim.stdout != case.stdout || sim.code != case.code || sim.stderr != case.stderr {
            failures.push(format!(
                "sim: {:?}\n  want out={:?} err={:?} code={}\n  got  out={:?} err={:?} code={}",
                case.script, case.stdout, case.stderr, case.code, sim.stdout, sim.stderr, sim.code
            ));
        }
        if let Some((out, err, code)) = real_sh(case.script) {
            real_checked += 1;
            if out != case.stdout || code != case.code || (case.same_stderr && err != case.stderr) {
                failures.push(format!(
                    "real /bin/sh: {:?}\n  want out={:?} err={:?} code={}\n  got  out={:?} err={:?} code={}",
                    case.script, case.stdout, case.stderr, case.code, out, err, code
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("checked {} cases against the real /bin/sh", real_checked);
}

#[tokio::test]
async fn unknown_command_is_127_with_message() {
    let sb = Sandbox::new().expect("catalogue");
    let r = sb.sh("frobnicate --now").await;
    assert_eq!(r.code, 127);
    assert_eq!(r.stderr, "sh: frobnicate: not found\n");
}

#[tokio::test]
async fn sleep_uses_virtual_time() {
    let sb = Sandbox::new().expect("catalogue");
    let before = sb.host.clone();
    let t0 = odo_sim::runtime::Host::now(&before);
    let r = sb.sh("sleep 3600; date +%H:%M").await;
    assert_eq!(r.code, 0, "{r:?}");
    let t1 = odo_sim::runtime::Host::now(&before);
    assert_eq!(t1.as_second() - t0.as_second(), 3600);
    assert_eq!(r.stdout, "01:00\n");
}
