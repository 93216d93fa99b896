// One signature judged: the signature over its payload, then what the
// payload claims (containers-signature(5)): type, manifest digest, identity.
#include "io/gpg_signing.h"
#include "pipeline/signature_check.h"
#include "stages/base64.h"
#include "stages/simple_signing.h"

namespace ocipipe::pipeline {

namespace {

// What the payload claims, checked against the image: the first claim that
// fails sets the verdict.
void check_claims(signature_check& c, std::string_view payload, payload_type type, const digest& root,
                  const identity_rule& identity) {
  auto claims = parse_signature_payload(payload, type);
  if (!claims) {
    c.status = signature_status::malformed;
    c.message = "payload: " + claims.error().message();
    return;
  }
  c.identity = claims->docker_reference;
  if (!(claims->manifest_digest == root)) {
    c.status = signature_status::digest_differs;
    c.message = "manifest digest differs: signed " + claims->manifest_digest.str() + ", image " + root.str();
    return;
  }
  if (auto ok = identity(claims->docker_reference); !ok) {
    c.status = ok.error().code() == errc::malformed ? signature_status::malformed : signature_status::identity_differs;
    c.message = ok.error().message();
    return;
  }
  c.status = signature_status::valid;
}

}  // namespace

result<signature_check> check_simple_signature(const stored_simple_signature& sig,
                                               const std::vector<std::string>& keyrings, const digest& root,
                                               const identity_rule& identity) {
  signature_check c;
  c.format = "simple-signing";
  c.source = sig.source;
  OCIPIPE_ASSIGN_OR_RETURN(auto verdict, io::gpg_verify(sig.bytes, keyrings));
  c.key = verdict.key_fingerprint;
  switch (verdict.status) {
    case io::gpg_verdict::kind::valid: break;
    case io::gpg_verdict::kind::unknown_key:
      c.status = signature_status::unknown_key;
      c.message = "signature by unknown key" + (c.key.empty() ? std::string() : " " + c.key);
      return c;
    case io::gpg_verdict::kind::bad:
      c.status = signature_status::bad_signature;
      c.message = "signature does not match its payload" + (c.key.empty() ? std::string() : " (key " + c.key + ")");
      return c;
    case io::gpg_verdict::kind::malformed:
      c.status = signature_status::malformed;
      c.message = "not an OpenPGP signed message" + (verdict.message.empty() ? std::string() : ": " + verdict.message);
      return c;
  }
  check_claims(c, verdict.payload, payload_type::simple_signing, root, identity);
  return c;
}

signature_check check_key_signature(const stored_key_signature& sig, const std::vector<public_key>& keys,
                                    const digest& root, const identity_rule& identity) {
  signature_check c;
  c.format = "sigstore";
  c.source = sig.source;
  auto der = base64_decode(sig.signature_base64);
  if (!der) {
    c.status = signature_status::malformed;
    c.message = "signature annotation is not base64";
    return c;
  }
  bool malformed = false;
  const public_key* signer = nullptr;
  for (const auto& k : keys) {
    const auto v = verify_payload(k, sig.payload, *der);
    if (v == key_verdict::valid) {
      signer = &k;
      break;
    }
    if (v == key_verdict::malformed) malformed = true;
  }
  if (!signer) {
    if (malformed) {
      c.status = signature_status::malformed;
      c.message = "signature bytes are not a DER ECDSA signature";
      return c;
    }
    // ECDSA cannot tell an altered payload from another key's signature.
    c.status = signature_status::bad_signature;
    std::string ids;
    for (const auto& k : keys) ids += (ids.empty() ? "" : ", ") + k.id();
    c.message = "signature does not match its payload with " + std::string(keys.size() == 1 ? "key " : "keys ") + ids +
                " (payload or signature altered, or signed by another key)";
    return c;
  }
  c.key = signer->id();
  check_claims(c, sig.payload, payload_type::cosign, root, identity);
  return c;
}

}  // namespace ocipipe::pipeline
