// ocipipe sign (--sign-by FPR | --key PRIV) REF; ocipipe sign --generate-key [PREFIX]
#include <algorithm>
#include <cstdlib>

#include "io/small_file.h"
#include "pipeline/cli/policy_flags.h"
#include "pipeline/cli/remote_flags.h"
#include "pipeline/cli/report.h"

namespace ocipipe::cli {

namespace {

// A passphrase is one line: the file's first line, without its newline.
result<std::string> read_passphrase_file(const std::string& path) {
  auto text = io::read_linked_file(path, 64 << 10);
  if (!text) return tl::unexpected(std::move(text).error().context("--passphrase-file " + quote(path)));
  const auto nl = text->find('\n');
  if (nl != std::string::npos) text->resize(nl);
  if (!text->empty() && text->back() == '\r') text->pop_back();
  return text;
}

// --passphrase-file, else $COSIGN_PASSWORD (as cosign reads it), else none.
result<std::optional<std::string>> key_passphrase(const std::string& file) {
  if (!file.empty()) {
    OCIPIPE_ASSIGN_OR_RETURN(auto p, read_passphrase_file(file));
    return std::optional<std::string>(std::move(p));
  }
  if (const char* env = std::getenv("COSIGN_PASSWORD")) return std::optional<std::string>(env);
  return std::optional<std::string>{};
}

// The private key is written unencrypted without a passphrase, and an empty
// one is none: both are said so.
void warn_unencrypted(const std::optional<std::string>& pass, const std::string& file) {
  if (!pass)
    err_line("warning: no --passphrase-file and no $COSIGN_PASSWORD: the private key is not encrypted");
  else if (pass->empty())
    err_line(std::string("warning: the passphrase ") +
             (file.empty() ? "in $COSIGN_PASSWORD" : "in --passphrase-file " + quote(file)) +
             " is empty: the private key is not encrypted");
}

// --generate-key writes a key pair and nothing else: the flags of signing
// would be ignored, so they are refused. Allowed: the passphrase, --force,
// and the flags every verb takes.
result<void> check_generate_flags(const CLI::App& app) {
  CLI::App probe;
  global_flags unused;
  add_global_flags(probe, unused);
  std::vector<std::string> allowed = {"--generate-key", "--passphrase-file", "--force", "--help", "REF"};
  for (const CLI::Option* o : probe.get_options()) allowed.push_back(o->get_name());
  for (const CLI::Option* o : app.get_options()) {
    if (o->count() == 0 || std::find(allowed.begin(), allowed.end(), o->get_name()) != allowed.end()) continue;
    return fail(errc::invalid_argument, o->get_name() + " does not apply to --generate-key, which only writes a "
                                                        "key pair (sign with --key PREFIX.key afterwards)");
  }
  return {};
}

int report_failure(const global_flags& g, const std::string& type, nlohmann::ordered_json data, const error& e) {
  if (g.json) {
    data["status"] = "error";
    data["error"] = {{"code", errc_name(e.code())}, {"message", e.message()}};
    out_json(type, std::move(data));
  }
  err_line(e.message());
  return exit_failure;
}

}  // namespace

verb add_sign(CLI::App& root, global_flags& g) {
  struct state {
    std::string arg;
    std::string sign_by, gnupg_home, key, identity, passphrase_file, output;
    bool generate = false, referrer = false, force = false;
    signature_store_options store;
    remote_flags remote;
  };
  static state s;
  auto* app = root.add_subcommand("sign", "Sign an image: simple signing (GnuPG) or a cosign-style key signature");
  app->add_option("REF", s.arg,
                  std::string(image_ref_help) + ". With --generate-key: PREFIX of the key files (default \"cosign\")");
  auto* by = app->add_option("--sign-by", s.sign_by,
                             "Simple signing (containers-signature(5)) with this GnuPG key fingerprint")
                 ->group("Simple signing");
  app->add_option("--gnupg-home", s.gnupg_home, "GnuPG home holding the secret key (default $GNUPGHOME, ~/.gnupg)")
      ->group("Simple signing");
  app->add_option("-o,--output", s.output,
                  "Write the signature to FILE (refused when it exists, unless --force) instead of a lookaside store")
      ->group("Simple signing");
  auto* key = app->add_option("--key", s.key,
                              "Key signature (cosign's format) with this private key: PKCS#8 PEM, encrypted or not, "
                              "SEC1, or cosign's encrypted key; stored in REF's layout or registry under the "
                              "sha256-<hex>.sig tag")
                  ->group("Key signatures")
                  ->excludes(by);
  app->add_flag("--referrer", s.referrer,
                "Store the key signature as an OCI 1.1 referrer (subject) instead of the .sig tag")
      ->group("Key signatures");
  app->add_flag("--generate-key", s.generate,
                            "Write a new ECDSA P-256 key pair PREFIX.key (PKCS#8, encrypted with the passphrase) "
                            "and PREFIX.pub")
                  ->group("Key signatures")
                  ->excludes(by)
                  ->excludes(key);
  app->add_option("--passphrase-file", s.passphrase_file,
                  "File whose first line is the passphrase of the key (else $COSIGN_PASSWORD for --key and "
                  "--generate-key; GnuPG asks its agent for --sign-by)");
  app->add_option("--identity", s.identity,
                  "Docker reference the signature claims, HOST/REPO:TAG (default: REF's own, for docker://; "
                  "required otherwise)");
  app->add_flag("--force", s.force, "Replace an existing -o FILE, or existing key files with --generate-key");
  add_signature_store_flags(*app, s.store);
  add_remote_flags(*app, s.remote);
  add_global_flags(*app, g);
  app->footer(
      "The manifest (or image index) REF names is signed as stored: its digest over its bytes.\n"
      "Simple signing writes the \"atomic container signature\" payload signed by GnuPG (an OpenPGP\n"
      "signed message, as skopeo standalone-sign writes it) to -o FILE, or into the lookaside store of\n"
      "--lookaside or registries.d (lookaside-staging, else lookaside) as\n"
      "<store>/<repo>@sha256=<hex>/signature-<n>. Key signatures sign the \"cosign container image\n"
      "signature\" payload with ECDSA-SHA256 and store it as cosign does, beside the image in an oci:\n"
      "layout or a registry. Exit 2 when signing fails. Human output may change; --json is stable.\n\n"
      "Examples:\n"
      "  ocipipe sign --sign-by 0123…CDEF --identity registry.example.com/app:1 -o app.sig oci:images:app\n"
      "  ocipipe sign --sign-by 0123…CDEF --lookaside /srv/sigstore docker://registry.example.com/app:1\n"
      "  ocipipe sign --generate-key mykey\n"
      "  COSIGN_PASSWORD=… ocipipe sign --key mykey.key docker://localhost:5000/app:1");
  return {app, [&g, app] {
            if (s.generate) {
              const std::string prefix = s.arg.empty() ? "cosign" : s.arg;
              nlohmann::ordered_json data = {{"private_key", prefix + ".key"}, {"public_key", prefix + ".pub"}};
              if (auto ok = check_generate_flags(*app); !ok)
                return report_failure(g, "key", std::move(data), ok.error());
              auto pass = key_passphrase(s.passphrase_file);
              if (!pass) return report_failure(g, "key", std::move(data), pass.error());
              if (!g.quiet) warn_unencrypted(*pass, s.passphrase_file);
              auto id = generate_key_files(prefix, pass->value_or(""), s.force);
              if (!id) return report_failure(g, "key", std::move(data), id.error());
              if (g.json) {
                data["status"] = "ok";
                data["key_id"] = *id;
                data["encrypted"] = pass->has_value() && !(*pass)->empty();
                out_json("key", std::move(data));
              } else if (!g.quiet) {
                out_line("wrote " + prefix + ".key and " + prefix + ".pub: key " + *id);
              }
              return exit_ok;
            }
            nlohmann::ordered_json data = {{"ref", s.arg}};
            if (s.arg.empty())
              return report_failure(g, "sign", std::move(data),
                                    error(errc::invalid_argument, "sign: REF is required (or --generate-key)"));
            auto ref = parse_reference(s.arg);
            if (!ref) return report_failure(g, "sign", std::move(data), ref.error());
            sign_options opts;
            opts.gpg_key = s.sign_by;
            opts.gnupg_home = s.gnupg_home;
            opts.private_key_file = s.key;
            opts.identity = s.identity;
            opts.output_file = s.output;
            opts.force = s.force;
            opts.store = s.store;
            opts.referrer = s.referrer;
            opts.remote = remote_options_of(s.remote);
            if (!s.key.empty()) {
              auto pass = key_passphrase(s.passphrase_file);
              if (!pass) return report_failure(g, "sign", std::move(data), pass.error());
              opts.passphrase = pass->value_or("");
            } else if (!s.passphrase_file.empty()) {
              auto pass = read_passphrase_file(s.passphrase_file);
              if (!pass) return report_failure(g, "sign", std::move(data), pass.error());
              opts.passphrase = *pass;
            }
            data["ref"] = ref->str();
            auto r = sign_image(*ref, opts);
            if (!r) return report_failure(g, "sign", std::move(data), r.error());
            if (g.json) {
              data["status"] = "ok";
              data["format"] = r->format;
              data["manifest_digest"] = r->manifest.digest.str();
              data["media_type"] = r->manifest.media_type;
              data["identity"] = r->identity;
              data["key"] = r->key;
              data["stored_at"] = r->stored_at;
              if (r->signature_manifest) data["signature_manifest_digest"] = r->signature_manifest->digest.str();
              out_json("sign", std::move(data));
            } else if (!g.quiet) {
              out_line("signed " + ref->str() + " (" + r->manifest.digest.str() + ") as " + r->identity + " with " +
                       r->format + " key " + r->key + ": " + r->stored_at);
            }
            return exit_ok;
          }};
}

}  // namespace ocipipe::cli
