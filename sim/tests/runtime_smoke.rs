//! Smoke test while developing.
use odo_sim::runtime::sandbox::Sandbox;

#[tokio::test]
async fn smoke() {
    let sb = Sandbox::new().unwrap();
    let r = sb.sh("echo hello; x=1; echo $((x+2)) | cat; for i in a b; do echo $i; done; nope").await;
    println!("{r:?}");
    assert_eq!(r.stdout, "hello\n3\na\nb\n");
}
