#!/usr/bin/env python3
"""Write an OCI image layout from layer tars (test tool, not product code).

usage: mklayout.py OUT_DIR CONFIG_JSON LAYER[:gzip|:zstd|:tar]...

Each LAYER is an uncompressed tar file; it is stored compressed as asked
(gzip -n / zstd, deterministic) with the matching media type. CONFIG_JSON is
the image config's "config" object (Entrypoint, Cmd, Env, ...). The layout
gets index.json with one manifest for linux/amd64 and ref.name "test".
"""
import hashlib, json, os, subprocess, sys

MT = {
    "tar": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}


def put_blob(out, data):
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(out, "blobs", "sha256", digest)
    with open(path, "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}


def compress(data, how):
    if how == "tar":
        return data
    cmd = ["gzip", "-n", "-c"] if how == "gzip" else ["zstd", "-q", "-c"]
    return subprocess.run(cmd, input=data, stdout=subprocess.PIPE, check=True).stdout


def main():
    out, config_obj = sys.argv[1], json.loads(sys.argv[2])
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    layers, diff_ids = [], []
    for spec in sys.argv[3:]:
        path, _, how = spec.partition(":")
        how = how or "gzip"
        raw = open(path, "rb").read()
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        desc = put_blob(out, compress(raw, how))
        layers.append({"mediaType": MT[how], **desc})
    config = {
        "architecture": "amd64", "os": "linux", "config": config_obj,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    cdesc = put_blob(out, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cdesc},
        "layers": layers,
    }
    mdesc = put_blob(out, json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", **mdesc,
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"org.opencontainers.image.ref.name": "test"},
        }],
    }
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


main()
