"""Checking tenderd's transparency log from the outside (docs/trust.md): RFC 9162 proofs in
Python with hashlib alone, signatures and the certificate chain with the openssl CLI."""
import base64
import hashlib
import os
import subprocess
import tempfile
import time


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(index, size, leaf, path, root):
    """RFC 9162 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(size1, size2, root1, root2, proof):
    """RFC 9162 2.1.4.2."""
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0 or size1 > size2 or not proof:
        return False
    if size1 & (size1 - 1) == 0:
        proof = [root1] + list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2


def head_bytes(head):
    """The exact bytes a head signs."""
    return ("tenderd tree head v1\nsize %d\nroot %s\ntime %d\n" % (
        head["tree_size"], head["root"], head["timestamp"])).encode()


def openssl_verify_head(head, ca):
    """True when the head's signature checks against its certificate and the certificate
    chains to `ca`, with nothing but the openssl CLI."""
    with tempfile.TemporaryDirectory() as d:
        paths = {n: os.path.join(d, n) for n in ("log.crt", "log.pub", "head.txt", "head.sig")}
        with open(paths["log.crt"], "w") as f:
            f.write(head["certificate"])
        with open(paths["head.txt"], "wb") as f:
            f.write(head_bytes(head))
        with open(paths["head.sig"], "wb") as f:
            f.write(base64.b64decode(head["signature"]))
        if subprocess.run(["openssl", "verify", "-CAfile", ca, paths["log.crt"]],
                          capture_output=True).returncode != 0:
            return False
        subprocess.run(["openssl", "x509", "-in", paths["log.crt"], "-pubkey", "-noout",
                        "-out", paths["log.pub"]], check=True, capture_output=True)
        return subprocess.run(["openssl", "dgst", "-sha256", "-verify", paths["log.pub"],
                               "-signature", paths["head.sig"], paths["head.txt"]],
                              capture_output=True).returncode == 0


def wait_head(client, size, timeout=10.0):
    """The latest signed head once it covers `size` changes."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.request("log.head")
        if r.get("ok") and r["head"]["tree_size"] >= size:
            return r["head"]
        assert time.monotonic() < deadline, ("no head of size %d" % size, r)
        time.sleep(0.1)
