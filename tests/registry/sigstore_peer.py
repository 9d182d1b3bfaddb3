#!/usr/bin/python3
"""A second, separate implementation of sigstore (cosign) image signatures
in a registry, for tests: Python's standard library plus python3-cryptography
(OpenSSL through another binding), written from the containers/image and
cosign formats, not from cimg's code. Plain http registries only.

    sigstore_peer.py verify REG REPO TAG PUBKEY.pem
        exit 0 when the `sha256-<digest>.sig` manifest of the manifest
        REPO:TAG names holds a simple-signing layer whose signature PUBKEY
        verifies, for that digest and the identity REG/REPO:TAG; else exit 1
        with the reason on stderr.
    sigstore_peer.py sign REG REPO TAG KEYPREFIX
        makes an ECDSA P-256 key (KEYPREFIX.pub written, PEM), signs the
        manifest REPO:TAG names as REG/REPO:TAG (creator "sigstore_peer"),
        and stores the signature as containers/image does: payload blob,
        OCI config, OCI manifest under the `.sig` tag (a new one).
"""
import base64
import hashlib
import json
import sys
import time
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
ANNOTATION = "dev.cosignproject.cosign/signature"
ACCEPT = ", ".join([OCI_MANIFEST, "application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json"])


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read(), dict(r.headers)


def manifest_digest(reg, repo, tag):
    body, _ = http("GET", f"http://{reg}/v2/{repo}/manifests/{tag}", headers={"Accept": ACCEPT})
    return "sha256:" + hashlib.sha256(body).hexdigest()


def sig_tag(digest):
    return digest.replace(":", "-", 1) + ".sig"


def verify(reg, repo, tag, pubkey):
    key = serialization.load_pem_public_key(open(pubkey, "rb").read())
    digest = manifest_digest(reg, repo, tag)
    body, _ = http("GET", f"http://{reg}/v2/{repo}/manifests/{sig_tag(digest)}",
                   headers={"Accept": OCI_MANIFEST})
    m = json.loads(body)
    if m.get("mediaType") != OCI_MANIFEST:
        sys.exit(f"attachment manifest media type {m.get('mediaType')!r}")
    reasons = []
    for layer in m.get("layers", []):
        if layer.get("mediaType") != SIMPLE_SIGNING:
            continue
        payload, _ = http("GET", f"http://{reg}/v2/{repo}/blobs/{layer['digest']}")
        if "sha256:" + hashlib.sha256(payload).hexdigest() != layer["digest"]:
            sys.exit("payload blob does not hash to its digest")
        try:
            sig = base64.b64decode(layer["annotations"][ANNOTATION], validate=True)
            key.verify(sig, payload, ec.ECDSA(hashes.SHA256()))
        except (KeyError, InvalidSignature, ValueError) as e:
            reasons.append(f"signature: {type(e).__name__}")
            continue
        crit = json.loads(payload)["critical"]
        if crit["type"] != "cosign container image signature":
            reasons.append("type " + crit["type"])
        elif crit["image"]["docker-manifest-digest"] != digest:
            reasons.append("digest " + crit["image"]["docker-manifest-digest"])
        elif crit["identity"]["docker-reference"] != f"{reg}/{repo}:{tag}":
            reasons.append("identity " + crit["identity"]["docker-reference"])
        else:
            print(f"verified: {reg}/{repo}:{tag} {digest}")
            return
    sys.exit("no accepted signature: " + ("; ".join(reasons) or "no simple-signing layer"))


def put_blob(reg, repo, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _, h = http("POST", f"http://{reg}/v2/{repo}/blobs/uploads/", body=b"")
    loc = h["Location"]
    if loc.startswith("/"):
        loc = f"http://{reg}{loc}"
    sep = "&" if "?" in loc else "?"
    http("PUT", f"{loc}{sep}digest={digest}", body=data,
         headers={"Content-Type": "application/octet-stream"})
    return digest


def sign(reg, repo, tag, prefix):
    key = ec.generate_private_key(ec.SECP256R1())
    with open(prefix + ".pub", "wb") as f:
        f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo))
    digest = manifest_digest(reg, repo, tag)
    payload = json.dumps({"critical": {"identity": {"docker-reference": f"{reg}/{repo}:{tag}"},
                                       "image": {"docker-manifest-digest": digest},
                                       "type": "cosign container image signature"},
                          "optional": {"creator": "sigstore_peer", "timestamp": int(time.time())}},
                         sort_keys=True, separators=(",", ":")).encode()
    sig = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
    layer = {"mediaType": SIMPLE_SIGNING, "digest": put_blob(reg, repo, payload), "size": len(payload),
             "annotations": {ANNOTATION: sig}}
    config = json.dumps({"architecture": "", "os": "", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": OCI_CONFIG, "digest": put_blob(reg, repo, config),
                                      "size": len(config)},
                           "layers": [layer]}).encode()
    http("PUT", f"http://{reg}/v2/{repo}/manifests/{sig_tag(digest)}", body=manifest,
         headers={"Content-Type": OCI_MANIFEST})
    print(f"signed: {reg}/{repo}:{tag} {digest}")


if __name__ == "__main__":
    if len(sys.argv) != 6 or sys.argv[1] not in ("verify", "sign"):
        sys.exit(__doc__)
    (verify if sys.argv[1] == "verify" else sign)(*sys.argv[2:])
