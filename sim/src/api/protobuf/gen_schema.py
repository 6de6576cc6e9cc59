#!/usr/bin/env python3
"""Generates schema.txt: the protobuf field tables of the Kubernetes API types that
odo-sim decodes, from the sources of the `k8s-pb` crate (prost attributes: tags and wire
types) and `k8s-openapi` (the JSON names of fields).

Usage: gen_schema.py <k8s-pb-src-dir> <k8s-openapi-src-dir> > schema.txt
(the crates' sources are in ~/.cargo/registry/src/*/ after `cargo info k8s-pb`).

Output: one message per line, `<name> <field>...`, each field `tag:jsonName:type`, where type
is a scalar (string bool int32 int64 double bytes), `M.<message>`, `*` + type for repeated
fields, or `map.<value type>` for string-keyed maps.
"""
import os
import re
import sys

PACKAGES = ["core", "apps", "batch", "networking", "policy", "autoscaling", "rbac",
            "coordination", "discovery", "storage", "scheduling", "events"]


INLINE = {"ephemeral_container_common", "local_object_reference", "ingress_rule_value",
          "volume_source", "persistent_volume_source"}


def json_names(openapi_src):
    names = {}
    pat = re.compile(r'"([A-Za-z0-9_$-]+)" => Field::Key_([a-z0-9_]+)')
    for root, _, files in os.walk(openapi_src):
        for f in files:
            if f.endswith(".rs"):
                for m in pat.finditer(open(os.path.join(root, f)).read()):
                    names.setdefault(m.group(2), set()).add(m.group(1))
    return names


def camel(snake):
    parts = snake.rstrip("_").split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def split_type(body, i):
    depth = 0
    start = i
    while i < len(body):
        c = body[i]
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
        elif c == "," and depth == 0:
            return body[start:i].strip(), i + 1
        elif c == "}" and depth == 0:
            return body[start:i].strip(), i
        i += 1
    return body[start:].strip(), i


def resolve(module, ty):
    """The message a Rust type path names, relative to `module` (a list of segments)."""
    ty = re.sub(r"\s+", "", ty).replace(",>", ">")
    for wrapper in ("::core::option::Option<", "::prost::alloc::vec::Vec<", "Option<", "Vec<"):
        if ty.startswith(wrapper):
            ty = ty[len(wrapper):-1]
    if ty.startswith("::prost::alloc::collections::BTreeMap<"):
        ty = ty[len("::prost::alloc::collections::BTreeMap<"):-1]
        ty = ty.split(",", 1)[1]
    segs = ty.split("::")
    mod = list(module)
    while segs and segs[0] == "super":
        segs.pop(0)
        mod.pop()
    return ".".join(mod + segs)


def parse_file(path, module, names, out):
    text = open(path).read()
    text = re.sub(r"^\s*///.*$", "", text, flags=re.M)
    for m in re.finditer(r"pub struct (\w+) \{(.*?)\n\}", text, flags=re.S):
        name, body = m.group(1), m.group(2)
        fields = []
        for fm in re.finditer(r"#\[prost\(([^\]]*)\)\]\s*pub (?:r#)?(\w+):", body):
            attr, rust = fm.group(1), fm.group(2)
            ty, _ = split_type(body, fm.end())
            tag = re.search(r'tag = "(\d+)"', attr).group(1)
            js = names.get(rust)
            if rust in INLINE:
                # The Go type embeds this struct: its fields appear in the parent's JSON.
                js = "~" + camel(rust)
            elif js is None:
                # prost and k8s-openapi split acronyms differently (a_pi_group, api_group).
                folded = {n.lower(): n for ns in names.values() for n in ns}
                js = folded.get(rust.replace("_", ""), camel(rust))
            else:
                js = sorted(js, key=lambda n: n != camel(rust))[0]
            kind = attr.split(",")[0].split("=")[0].strip()
            repeated = ", repeated" in attr
            if kind == "btree_map":
                value = re.search(r'btree_map = "string, (\w+)"', attr).group(1)
                t = "map." + ("M." + resolve(module, ty) if value == "message" else value)
            elif kind == "message":
                t = "M." + resolve(module, ty)
            else:
                t = kind
            fields.append(f"{tag}:{js}:{'*' if repeated else ''}{t}")
        out[".".join(module + [name])] = fields


def main():
    pb, openapi = sys.argv[1], sys.argv[2]
    names = json_names(openapi)
    msgs = {}
    for root, _, files in os.walk(pb):
        for f in files:
            if f == "mod.rs":
                rel = os.path.relpath(root, pb)
                parse_file(os.path.join(root, f), rel.split(os.sep), names, msgs)
    roots = [n for n in msgs if n.split(".")[0] == "api" and n.split(".")[1] in PACKAGES
             and re.match(r"v\d+$", n.split(".")[2])]
    seen, todo = set(), list(roots)
    while todo:
        n = todo.pop()
        if n in seen or n not in msgs:
            continue
        seen.add(n)
        for f in msgs[n]:
            t = f.split(":", 2)[2].lstrip("*")
            for ref in re.findall(r"M\.([\w.]+)", t):
                todo.append(ref)
    for special in ["apimachinery.pkg.runtime.Unknown", "apimachinery.pkg.runtime.TypeMeta"]:
        seen.add(special)
    for n in sorted(seen):
        print(" ".join([n] + msgs[n]))


main()
