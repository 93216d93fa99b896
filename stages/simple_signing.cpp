#include "stages/simple_signing.h"

#include <cmath>
#include <initializer_list>

#include <nlohmann/json.hpp>

#include "stages/json_unique_keys.h"

namespace ocipipe {
namespace {

using json = nlohmann::json;

tl::unexpected<error> bad(std::string_view path, std::string cause) {
  return fail(errc::malformed, std::string(path) + ": " + std::move(cause));
}

// containers/image's ParanoidUnmarshalJSONObjectExactFields: `value` is an
// object holding exactly `keys`.
result<void> exact_fields(const json& value, std::string_view path, std::initializer_list<std::string_view> keys) {
  if (!value.is_object()) return bad(path, "not a JSON object");
  for (const auto& [key, member] : value.items()) {
    bool known = false;
    for (auto k : keys) known = known || k == key;
    if (!known) return bad(path, "unknown key " + quote(key));
  }
  for (auto k : keys)
    if (!value.contains(k)) return bad(path, "missing key " + quote(k));
  return {};
}

result<std::string> string_at(const json& object, std::string_view parent, const char* key) {
  const auto& v = object.at(key);
  if (!v.is_string()) return bad(std::string(parent) + "." + key, "not a string");
  return v.get<std::string>();
}

// optional.timestamp: Go reads a float64 and wants it integral.
result<std::int64_t> timestamp_of(const json& v) {
  constexpr std::string_view path = "optional.timestamp";
  if (v.is_number_integer() && !v.is_number_unsigned()) return v.get<std::int64_t>();
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(INT64_MAX)) return bad(path, "out of range");
    return static_cast<std::int64_t>(u);
  }
  if (!v.is_number_float()) return bad(path, "not a number");
  const double d = v.get<double>();
  // 2^63 is the first double past INT64_MAX.
  if (std::trunc(d) != d || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
    return bad(path, "not an integer");
  return static_cast<std::int64_t>(d);
}

}  // namespace

std::string_view payload_type_name(payload_type t) noexcept {
  switch (t) {
    case payload_type::simple_signing: return "atomic container signature";
    case payload_type::cosign: return "cosign container image signature";
  }
  return "atomic container signature";
}

std::string make_signature_payload(const signature_claims& claims) {
  // Go's encoding/json sorts map keys: the order containers/image and cosign
  // write, kept here by ordered_json.
  nlohmann::ordered_json critical = {
      {"identity", {{"docker-reference", claims.docker_reference}}},
      {"image", {{"docker-manifest-digest", claims.manifest_digest.str()}}},
      {"type", payload_type_name(claims.type)},
  };
  nlohmann::ordered_json optional = nlohmann::ordered_json::object();
  if (!claims.creator.empty()) optional["creator"] = claims.creator;
  if (claims.timestamp) optional["timestamp"] = *claims.timestamp;
  if (optional.empty() && claims.type == payload_type::cosign) optional = nullptr;
  nlohmann::ordered_json payload = {{"critical", std::move(critical)}, {"optional", std::move(optional)}};
  // Invalid UTF-8 in the creator becomes U+FFFD, as Go's encoder writes it.
  return payload.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

result<signature_claims> parse_signature_payload(std::string_view text, payload_type expected) {
  OCIPIPE_ASSIGN_OR_RETURN(const json doc, parse_json_unique_keys(text));
  if (!doc.is_object()) return fail(errc::malformed, "not a JSON object");
  OCIPIPE_TRY(exact_fields(doc, "payload", {"critical", "optional"}));
  signature_claims out;
  out.type = expected;

  // cosign writes "optional": null when it has no annotations.
  if (const auto& optional = doc.at("optional"); !optional.is_null()) {
    if (!optional.is_object()) return bad("optional", "not a JSON object");
    if (optional.contains("creator")) {
      OCIPIPE_ASSIGN_OR_RETURN(out.creator, string_at(optional, "optional", "creator"));
    }
    if (optional.contains("timestamp")) {
      OCIPIPE_ASSIGN_OR_RETURN(out.timestamp, timestamp_of(optional.at("timestamp")));
    }
  }

  const auto& critical = doc.at("critical");
  OCIPIPE_TRY(exact_fields(critical, "critical", {"type", "image", "identity"}));
  OCIPIPE_ASSIGN_OR_RETURN(const auto type, string_at(critical, "critical", "type"));
  if (type != payload_type_name(expected))
    return bad("critical.type", quote(type) + " is not " + quote(payload_type_name(expected)));

  const auto& image = critical.at("image");
  OCIPIPE_TRY(exact_fields(image, "critical.image", {"docker-manifest-digest"}));
  OCIPIPE_ASSIGN_OR_RETURN(const auto digest_text, string_at(image, "critical.image", "docker-manifest-digest"));
  auto d = digest::parse(digest_text);
  if (!d) return bad("critical.image.docker-manifest-digest", d.error().message());
  if (d->algorithm() == digest_algorithm::unregistered)
    return bad("critical.image.docker-manifest-digest",
               "digest algorithm " + quote(d->algorithm_name()) + " is not supported");
  out.manifest_digest = std::move(*d);

  const auto& identity = critical.at("identity");
  OCIPIPE_TRY(exact_fields(identity, "critical.identity", {"docker-reference"}));
  OCIPIPE_ASSIGN_OR_RETURN(out.docker_reference, string_at(identity, "critical.identity", "docker-reference"));
  return out;
}

}  // namespace ocipipe
