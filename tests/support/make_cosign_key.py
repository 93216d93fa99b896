#!/usr/bin/python3
"""Writes a private key in cosign's encrypted format, made independently of
ocipipe (python3-cryptography for the key, hashlib's scrypt from OpenSSL,
python3-nacl's secretbox), for tests of ocipipe's reader.

The format (sigstore/cosign pkg/cosign/keys.go, go-securesystemslib
encrypted): a PEM block "ENCRYPTED SIGSTORE PRIVATE KEY" (or "ENCRYPTED
COSIGN PRIVATE KEY") whose body is the JSON
  {"kdf": {"name": "scrypt", "params": {"N": .., "r": .., "p": ..}, "salt": b64},
   "cipher": {"name": "nacl/secretbox", "nonce": b64},
   "ciphertext": b64}
where ciphertext = secretbox(PKCS#8 DER, nonce, scrypt(passphrase, salt, N, r, p, 32)).

usage: make_cosign_key.py KEY_OUT PUB_OUT PASSPHRASE [--pem-type COSIGN|SIGSTORE]
                          [--n N] [--from-pem PKCS8_PEM]
"""

import argparse
import base64
import hashlib
import json
import os
import sys
import textwrap

import nacl.secret
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def pem(block_type: str, body: bytes) -> bytes:
    lines = textwrap.wrap(base64.b64encode(body).decode("ascii"), 64)
    return ("-----BEGIN %s-----\n%s\n-----END %s-----\n" % (block_type, "\n".join(lines), block_type)).encode()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("key_out")
    ap.add_argument("pub_out")
    ap.add_argument("passphrase")
    ap.add_argument("--pem-type", choices=["COSIGN", "SIGSTORE"], default="SIGSTORE")
    ap.add_argument("--n", type=int, default=32768)
    ap.add_argument("--from-pem", help="wrap this PKCS#8 PEM private key instead of a new P-256 one")
    args = ap.parse_args()

    if args.from_pem:
        with open(args.from_pem, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)

    r, p = 8, 1
    salt = os.urandom(32)
    secret = hashlib.scrypt(args.passphrase.encode(), salt=salt, n=args.n, r=r, p=p,
                            maxmem=256 * 1024 * 1024, dklen=32)
    nonce = os.urandom(nacl.secret.SecretBox.NONCE_SIZE)
    sealed = nacl.secret.SecretBox(secret).encrypt(der, nonce).ciphertext  # tag || ciphertext
    doc = {
        "kdf": {"name": "scrypt", "params": {"N": args.n, "r": r, "p": p},
                "salt": base64.b64encode(salt).decode()},
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(sealed).decode(),
    }
    body = json.dumps(doc, separators=(",", ":")).encode()
    with open(args.key_out, "wb") as f:
        f.write(pem("ENCRYPTED %s PRIVATE KEY" % args.pem_type, body))
    with open(args.pub_out, "wb") as f:
        f.write(pub)
    return 0


if __name__ == "__main__":
    sys.exit(main())
