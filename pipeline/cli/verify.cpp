// ocipipe verify [--key-file KEYRING]... [--key PUB]... [--policy FILE] REF...
#include "pipeline/cli/policy_flags.h"
#include "pipeline/cli/remote_flags.h"
#include "pipeline/cli/report.h"

namespace ocipipe::cli {

namespace {

// One signature, for -v: "valid (simple-signing, key ABCD…, identity "x")[: message]".
std::string signature_line(const signature_check& c) {
  std::string line = std::string(signature_status_name(c.status)) + " (" + c.format;
  if (!c.key.empty()) line += ", key " + c.key;
  if (!c.identity.empty()) line += ", identity " + quote(c.identity);
  line += ")";
  if (!c.message.empty()) line += ": " + c.message;
  return line;
}

}  // namespace

verb add_verify(CLI::App& root, global_flags& g) {
  struct state {
    std::vector<std::string> refs;
    verify_options opts;
    remote_flags remote;
  };
  static state s;
  auto* app = root.add_subcommand("verify", "Check an image's signatures: simple signing (GnuPG) and key signatures");
  app->add_option("REF", s.refs, image_ref_help)->required();
  auto* key_file = app->add_option("--key-file", s.opts.gpg_keyrings,
                                   "GnuPG public keyring or exported key (binary or armored) trusted for simple "
                                   "signatures; repeatable");
  auto* key = app->add_option("--key", s.opts.public_keys,
                              "PEM public key (ECDSA P-256) trusted for key signatures; repeatable");
  app->add_option("--identity", s.opts.identity,
                  "Docker reference a signature must claim, HOST/REPO[:TAG] (default: for docker:// REFs the same "
                  "repository; others are not checked)");
  app->add_option("--signature", s.opts.signature_files, "A simple signature in a file (as skopeo standalone-sign "
                                                         "writes it); repeatable");
  app->add_option("--policy", s.opts.policy_file,
                  "Judge by this containers-policy.json(5) instead of --key-file/--key")
      ->group("Signatures")
      ->excludes(key_file)
      ->excludes(key);
  add_signature_store_flags(*app, s.opts.store);
  add_remote_flags(*app, s.remote);
  add_global_flags(*app, g);
  app->footer(
      "Simple signatures come from --signature files, the --lookaside store and, for docker:// images,\n"
      "the lookaside registries.d names for the repository; key signatures from the sha256-<hex>.sig\n"
      "tag and the referrers of REF's layout or registry. Each is checked: the signature over its\n"
      "payload with the given keys, the payload's manifest digest against REF's manifest (or image\n"
      "index) as stored, and its identity. An image passes when one signature is valid (with --policy:\n"
      "when every requirement of its scope holds). Prints PASS: REF or FAIL: REF: reason (-v: each\n"
      "signature on stderr). Exit 0 all passed, 1 a signature missing or invalid, 2 a failure to run\n"
      "(unreadable key, image not found, network). Human output may change; --json is stable.\n\n"
      "Examples:\n"
      "  ocipipe verify --key-file pubring.gpg --identity registry.example.com/app:1 --signature app.sig oci:images:app\n"
      "  ocipipe verify --key cosign.pub docker://localhost:5000/app:1\n"
      "  ocipipe verify --policy /etc/containers/policy.json docker://registry.example.com/app:1");
  return {app, [&g] {
            verify_options opts = s.opts;
            opts.remote = remote_options_of(s.remote);
            int rc = exit_ok;
            for (const auto& text : s.refs) {
              const auto start = std::chrono::steady_clock::now();
              auto ref = parse_reference(text);
              auto r = ref ? verify_image(*ref, opts) : result<verify_report>(tl::unexpected(ref.error()));
              const double seconds = seconds_since(start);
              const std::string name = ref ? ref->str() : text;
              if (!r) {
                if (g.json)
                  out_json("end", {{"ref", name},
                                   {"status", "error"},
                                   {"error", {{"code", errc_name(r.error().code())}, {"message", r.error().message()}}},
                                   {"seconds", seconds}});
                err_line(r.error().message());
                rc = exit_failure;
                continue;
              }
              if (g.json) {
                for (const auto& c : r->signatures)
                  out_json("signature", {{"ref", name},
                                         {"format", c.format},
                                         {"source", c.source},
                                         {"status", signature_status_name(c.status)},
                                         {"key", c.key},
                                         {"identity", c.identity},
                                         {"message", c.message}});
                nlohmann::ordered_json end = {{"ref", name}, {"status", r->accepted ? "pass" : "fail"}};
                if (!r->manifest.digest.empty()) end["manifest_digest"] = r->manifest.digest.str();
                end["signatures"] = r->signatures.size();
                end["reason"] = r->reason;
                if (!opts.policy_file.empty()) end["policy_scope"] = r->policy_scope;
                end["seconds"] = seconds;
                out_json("end", std::move(end));
              } else {
                if (g.verbose > 0)
                  for (const auto& c : r->signatures) err_line(name + ": " + c.source + ": " + signature_line(c));
                if (r->accepted) {
                  if (!g.quiet) out_line("PASS: " + name);
                } else {
                  out_line("FAIL: " + name + ": " + r->reason);
                }
              }
              if (!r->accepted && rc == exit_ok) rc = exit_negative;
            }
            return rc;
          }};
}

}  // namespace ocipipe::cli
