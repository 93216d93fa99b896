// One signature judged: the signature over its payload, then what the
// payload claims (containers-signature(5)): type, manifest digest, identity.
#include <cctype>

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

// io::gpg_verify names a keyring by its position ("keyring 2: holds no
// OpenPGP key"); the user knows it by its file.
error name_keyrings(const error& e, const std::vector<named_keyring>& keyrings) {
  constexpr std::string_view word = "keyring ";
  const std::string& m = e.message();
  std::string out;
  std::size_t pos = 0;
  for (std::size_t at = m.find(word); at != std::string::npos; at = m.find(word, pos)) {
    std::size_t end = at + word.size(), n = 0;
    while (end < m.size() && std::isdigit(static_cast<unsigned char>(m[end])) && n <= keyrings.size())
      n = n * 10 + static_cast<std::size_t>(m[end++] - '0');
    const bool word_start = at == 0 || !std::isalnum(static_cast<unsigned char>(m[at - 1]));
    if (!word_start || end == at + word.size() || n == 0 || n > keyrings.size()) {
      out.append(m, pos, end - pos);
      pos = end;
      continue;
    }
    out.append(m, pos, at - pos).append(keyrings[n - 1].name);
    pos = end;
  }
  out.append(m, pos);
  return error(e.code(), std::move(out), e.sys_errno());
}

// How useful a failed signature's message is: one a trusted key verified
// says most, one of another key or altered bytes less, a malformed one least.
int usefulness(signature_status s) {
  switch (s) {
    case signature_status::digest_differs:
    case signature_status::identity_differs: return 3;
    case signature_status::bad_signature:
    case signature_status::unknown_key: return 2;
    case signature_status::malformed: return 1;
    case signature_status::valid: return 0;
  }
  return 0;
}

}  // namespace

result<signature_check> check_simple_signature(const stored_simple_signature& sig,
                                               const std::vector<named_keyring>& keyrings, const digest& root,
                                               const identity_rule& identity) {
  signature_check c;
  c.format = "simple-signing";
  c.source = sig.source;
  std::vector<std::string> contents;
  contents.reserve(keyrings.size());
  for (const auto& k : keyrings) contents.push_back(k.bytes);
  auto checked = io::gpg_verify(sig.bytes, contents);
  if (!checked) return tl::unexpected(name_keyrings(checked.error(), keyrings));
  auto& verdict = *checked;
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
    case io::gpg_verdict::kind::unusable_key:
      // A given key that may not sign (revoked, expired): its signature
      // proves nothing; the message says which key and why.
      c.status = signature_status::bad_signature;
      c.message = verdict.message.empty() ? "signing key may not sign" : verdict.message;
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
  if (!sig.problem.empty()) {
    c.status = signature_status::malformed;
    c.message = sig.problem;
    return c;
  }
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

result<std::vector<public_key>> parse_public_keys(std::string_view pem, std::string_view what) {
  constexpr std::string_view begin = "-----BEGIN PUBLIC KEY-----", end = "-----END PUBLIC KEY-----";
  std::vector<std::string_view> blocks;
  for (std::size_t at = pem.find(begin); at != std::string_view::npos; at = pem.find(begin, at)) {
    const std::size_t stop = pem.find(end, at + begin.size());
    if (stop == std::string_view::npos || pem.find(begin, at + begin.size()) < stop)
      return fail(errc::malformed, std::string(what) + ": PUBLIC KEY block " + std::to_string(blocks.size() + 1) +
                                       " has no END line");
    blocks.push_back(pem.substr(at, stop + end.size() - at));
    at = stop + end.size();
  }
  if (blocks.empty())
    return fail(errc::malformed, std::string(what) + ": holds no \"PUBLIC KEY\" PEM block (an ECDSA P-256 public "
                                                     "key, as cosign generate-key-pair writes it)");
  std::vector<public_key> keys;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    auto k = parse_public_key(std::string(blocks[i]) + "\n");
    if (!k) {
      std::string where(what);
      if (blocks.size() > 1) where += ": PUBLIC KEY block " + std::to_string(i + 1);
      return tl::unexpected(std::move(k).error().context(where));
    }
    keys.push_back(std::move(*k));
  }
  return keys;
}

std::string failure_reason(std::span<const signature_check> checks) {
  const signature_check* best = nullptr;
  for (const auto& c : checks)
    if (!best || usefulness(c.status) > usefulness(best->status)) best = &c;
  if (!best) return "no signature";
  return best->message;
}

}  // namespace ocipipe::pipeline
