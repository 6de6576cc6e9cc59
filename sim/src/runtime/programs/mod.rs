//! The programs that images contain, as builtins: an image file marked `program: NAME` (or a
//! `/bin/busybox`-style applet) runs the function registered here under NAME.

pub mod apps;
pub mod archive;
pub mod args;
pub mod files;
pub mod init;
pub mod sed;
pub mod system;
pub mod text;

use futures::future::BoxFuture;

use super::process::Proc;

/// A builtin program: takes its process context, returns its exit code.
pub type ProgramFn = fn(Proc) -> BoxFuture<'static, i32>;

/// Marker at the start of a file that stands for a builtin program (`\x7fELF` keeps it binary).
pub const PROGRAM_MAGIC: &[u8] = b"\x7fELF odo-sim program ";

/// The file content that stands for builtin program `name`.
pub fn program_file(name: &str) -> Vec<u8> {
    let mut v = PROGRAM_MAGIC.to_vec();
    v.extend_from_slice(name.as_bytes());
    v.push(b'\n');
    v
}

/// The builtin program a file stands for, if it is one.
pub fn program_of(data: &[u8]) -> Option<&str> {
    let rest = data.strip_prefix(PROGRAM_MAGIC)?;
    std::str::from_utf8(rest).ok().map(str::trim)
}

macro_rules! registry {
    ($($name:literal => $f:path),* $(,)?) => {
        /// Names of every builtin program.
        pub const NAMES: &[&str] = &[$($name),*];

        /// The builtin program called `name`.
        pub fn lookup(name: &str) -> Option<ProgramFn> {
            match name {
                $($name => Some(|p| Box::pin($f(p))),)*
                _ => None,
            }
        }
    };
}

registry! {
    "sh" => super::shell::sh_main,
    "bash" => super::shell::sh_main,
    "ash" => super::shell::sh_main,
    "cat" => files::cat,
    "ls" => files::ls,
    "mkdir" => files::mkdir,
    "rmdir" => files::rmdir,
    "rm" => files::rm,
    "cp" => files::cp,
    "mv" => files::mv,
    "ln" => files::ln,
    "touch" => files::touch,
    "chmod" => files::chmod,
    "basename" => files::basename_cmd,
    "dirname" => files::dirname,
    "find" => files::find,
    "echo" => text::echo,
    "printf" => text::printf,
    "wc" => text::wc,
    "grep" => text::grep,
    "egrep" => text::grep,
    "head" => text::head,
    "tail" => text::tail,
    "sed" => sed::sed,
    "sort" => text::sort,
    "tr" => text::tr,
    "seq" => text::seq,
    "md5sum" => text::md5sum,
    "sha256sum" => text::sha256sum,
    "tar" => archive::tar,
    "gzip" => archive::gzip,
    "gunzip" => archive::gzip,
    "zcat" => archive::gzip,
    "true" => system::true_cmd,
    "false" => system::false_cmd,
    "sleep" => system::sleep,
    "pwd" => system::pwd,
    "env" => system::env,
    "printenv" => system::printenv,
    "date" => system::date,
    "hostname" => system::hostname,
    "id" => system::id,
    "whoami" => system::whoami,
    "uname" => system::uname,
    "nslookup" => system::nslookup,
    "getent" => system::getent,
    "kill" => system::kill,
    "ps" => system::ps,
    "test" => system::test,
    "[" => system::test,
    "go-init" => init::go_init,
    "supervisord" => init::supervisord,
    "serve" => apps::serve,
    "hello-openshift" => apps::hello_openshift,
    "node" => apps::node,
    "npm" => apps::npm,
    "java" => apps::java,
    "mvn" => apps::mvn,
    "python" => apps::python,
    "python3" => apps::python,
    "pip" => apps::pip,
    "pip3" => apps::pip,
}
