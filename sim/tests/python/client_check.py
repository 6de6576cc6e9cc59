"""Python's `kubernetes` client against a served odo-sim: list, watch, exec.

Usage: client_check.py KUBECONFIG

Prints one JSON object with what the client observed; the Rust test
(sim/tests/python_client.rs) asserts on it. Any client error ends the script
with a non-zero status and its traceback on stderr.
"""

import faulthandler
import json
import sys
import threading

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream
from kubernetes.stream.ws_client import ERROR_CHANNEL

NS = "default"
CM = "py-watched"


def watch_configmap(v1, resource_version, seen, ready):
    """Collects (type, name, data) of events for CM until it is deleted."""
    w = watch.Watch()
    ready.set()
    for ev in w.stream(
        v1.list_namespaced_config_map,
        NS,
        resource_version=resource_version,
        timeout_seconds=60,
    ):
        obj = ev["object"]
        if obj.metadata.name != CM:
            continue
        seen.append([ev["type"], obj.metadata.name, obj.data])
        if ev["type"] == "DELETED":
            w.stop()


def main():
    # A hung client ends with every thread's traceback instead of hanging the test.
    faulthandler.dump_traceback_later(120, exit=True)
    config.load_kube_config(config_file=sys.argv[1])
    v1 = client.CoreV1Api()
    out = {}

    out["namespaces"] = sorted(n.metadata.name for n in v1.list_namespace().items)
    pods = v1.list_namespaced_pod(NS).items
    out["pods"] = sorted([p.metadata.name, p.status.phase] for p in pods)

    # Watch from the list's resourceVersion while this thread changes one ConfigMap.
    rv = v1.list_namespaced_config_map(NS).metadata.resource_version
    seen, ready = [], threading.Event()
    t = threading.Thread(target=watch_configmap, args=(v1, rv, seen, ready))
    t.start()
    ready.wait()
    v1.create_namespaced_config_map(
        NS,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name=CM), data={"k": "one"}),
    )
    v1.patch_namespaced_config_map(CM, NS, {"data": {"k": "two"}})
    v1.delete_namespaced_config_map(CM, NS)
    t.join(timeout=60)
    out["watch"] = seen
    out["watch_finished"] = not t.is_alive()

    # Exec: stdout captured as a string.
    out["exec_stdout"] = stream(
        v1.connect_get_namespaced_pod_exec,
        "solo",
        NS,
        command=["echo", "hello", "from", "python"],
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
    )

    # Exec with stdin, then a failing command: the exit code comes on the error channel.
    resp = stream(
        v1.connect_get_namespaced_pod_exec,
        "solo",
        NS,
        command=["cat"],
        stderr=True,
        stdin=True,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    resp.write_stdin("typed into cat\n")
    stdin_echo = ""
    while resp.is_open() and not stdin_echo.endswith("\n"):
        resp.update(timeout=5)
        stdin_echo += resp.read_stdout(timeout=1)
    out["stdin_echo"] = stdin_echo
    resp.close()

    resp = stream(
        v1.connect_get_namespaced_pod_exec,
        "p",
        NS,
        container="main",
        command=["exit", "3"],
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    resp.run_forever(timeout=30)
    out["failing_stderr"] = resp.read_stderr()
    out["failing_status"] = json.loads(resp.read_channel(ERROR_CHANNEL))

    resp = stream(
        v1.connect_get_namespaced_pod_exec,
        "p",
        NS,
        container="main",
        command=["exit", "5"],
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    resp.run_forever(timeout=30)
    out["returncode"] = resp.returncode

    # An API error reaches the client as an ApiException with the server's Status.
    try:
        v1.read_namespaced_pod("no-such-pod", NS)
        out["missing_pod"] = None
    except ApiException as e:
        out["missing_pod"] = [e.status, json.loads(e.body)["reason"]]

    print(json.dumps(out))


if __name__ == "__main__":
    main()
