#include "stages/runtime_config.h"

#include <algorithm>

#include "stages/config_edits.h"

namespace ocipipe {
namespace {

using json = nlohmann::ordered_json;

bool has_env(const std::vector<std::string>& env, std::string_view name) {
  return std::any_of(env.begin(), env.end(),
                     [&](const std::string& e) { return env_name(e) == name; });
}

// conversion.md "Config.Env" (note 1): entries are added only for names the
// image does not set.
result<std::vector<std::string>> process_env(const image_config& image, const resolved_user& user,
                                             bool terminal) {
  std::vector<std::string> env = image.config.env;
  for (std::size_t i = 0; i < env.size(); ++i)
    if (!env_name(env[i]))  // runc refuses such an entry at start
      return fail(errc::invalid_argument, "image config Env[" + std::to_string(i) + "] " +
                                              quote(env[i]) + " is not NAME=value");
  if (!has_env(env, "PATH")) env.emplace_back(default_path_env);
  // umoci overwrote an image's HOME with /etc/passwd's; the image's wins.
  if (!has_env(env, "HOME")) env.push_back("HOME=" + user.home);
  if (terminal && !has_env(env, "TERM")) env.emplace_back("TERM=xterm");
  return env;
}

// A Config.Volumes path as a mount destination: absolute, no "..", not "/".
// ".." is refused rather than clamped: the image author cannot have meant a
// path above the root, and a tool that joined it to the rootfs lexically
// reached the host (containerd CVE-2022-23648).
result<std::string> volume_destination(const std::string& path) {
  auto bad = [&](const char* why) {
    return fail(errc::invalid_argument, "image config Volumes " + quote(path) + ": " + why);
  };
  if (path.empty() || path.front() != '/') return bad("not an absolute path");
  std::string out;
  std::size_t i = 0;
  while (i < path.size()) {
    auto j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    const std::string_view comp(path.data() + i, j - i);
    i = j + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") return bad("has a \"..\" component");
    out.append("/").append(comp);
  }
  if (out.empty()) return bad("a volume cannot be the root");
  return out;
}

result<json> volume_mounts(const image_config& image) {
  std::vector<std::string> dests;
  for (const auto& v : image.config.volumes) {
    OCIPIPE_ASSIGN_OR_RETURN(auto d, volume_destination(v));
    dests.push_back(std::move(d));
  }
  // Sorted, a parent comes before what is below it, so the runtime mounts it first.
  std::sort(dests.begin(), dests.end());
  dests.erase(std::unique(dests.begin(), dests.end()), dests.end());
  json out = json::array();
  for (const auto& d : dests)
    out.push_back({{"destination", d},
                   {"type", "tmpfs"},
                   {"source", "tmpfs"},
                   {"options", {"rw", "nosuid", "nodev", "noexec", "relatime"}}});
  return out;
}

std::string comma_joined(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : ",") + v;
  return out;
}

// conversion.md "Annotation Fields" and "Annotations".
json annotations_of(const image_config& image, std::vector<std::pair<std::string, std::string>>& warnings) {
  json ann = json::object();
  for (const auto& [k, v] : image.config.labels) {
    if (k.empty()) {
      warnings.emplace_back("runtime.annotations.key",
                            "image config label with an empty key not converted: runtime-spec "
                            "annotation keys must not be empty");
      continue;
    }
    ann[k] = v;
  }
  // Note 1: a label of the same key takes precedence over the image field.
  auto put = [&](const char* key, const std::string& v) {
    if (!v.empty() && !ann.contains(key)) ann[key] = v;
  };
  put("org.opencontainers.image.os", image.os);
  put("org.opencontainers.image.architecture", image.architecture);
  put("org.opencontainers.image.variant", image.variant);
  put("org.opencontainers.image.os.version", image.os_version);
  put("org.opencontainers.image.os.features", comma_joined(image.os_features));
  put("org.opencontainers.image.author", image.author);
  put("org.opencontainers.image.created", image.created);
  put("org.opencontainers.image.stopSignal", image.config.stop_signal);
  put("org.opencontainers.image.exposedPorts", comma_joined(image.config.exposed_ports));
  return ann;
}

std::string user_text(const process_user& u) {
  return std::to_string(u.uid) + ":" + std::to_string(u.gid);
}

}  // namespace

result<runtime_config> make_runtime_config(const image_config& image, const resolved_user& user,
                                           const runtime_config_options& opts) {
  runtime_config out;
  json rc = runc_spec(opts.rootless);
  auto& proc = rc["process"];
  proc["terminal"] = opts.terminal;

  std::vector<std::string> args;
  if (opts.args) {
    args = *opts.args;
  } else {
    args = image.config.entrypoint;
    args.insert(args.end(), image.config.cmd.begin(), image.config.cmd.end());
  }
  if (args.empty())
    return fail(errc::invalid_argument,
                "image config has neither Entrypoint nor Cmd: give the command with --args");
  proc["args"] = args;
  OCIPIPE_ASSIGN_OR_RETURN(auto env, process_env(image, user, opts.terminal));
  proc["env"] = env;
  const std::string cwd = image.config.working_dir.empty() ? "/" : image.config.working_dir;
  if (cwd.front() != '/')
    return fail(errc::invalid_argument,
                "image config WorkingDir " + quote(cwd) + " is not absolute");
  proc["cwd"] = cwd;

  if (opts.rootless && (user.user.uid != 0 || user.user.gid != 0))
    return fail(errc::invalid_argument,
                "process user " + user_text(user.user) +
                    " cannot run rootless: the user namespace maps only 0:0 (the caller)");
  proc["user"] = json{{"uid", user.user.uid}, {"gid", user.user.gid}};
  if (!user.user.additional_gids.empty() && !opts.rootless)
    proc["user"]["additionalGids"] = user.user.additional_gids;
  rc["root"]["path"] = opts.rootfs;

  OCIPIPE_ASSIGN_OR_RETURN(auto volumes, volume_mounts(image));
  for (auto& m : volumes) rc["mounts"].push_back(std::move(m));
  if (auto ann = annotations_of(image, out.warnings); !ann.empty()) {
    // Where runtime-spec's Go types (and so runc) put it: before "linux".
    json linux_section = std::move(rc["linux"]);
    rc.erase("linux");
    rc["annotations"] = std::move(ann);
    rc["linux"] = std::move(linux_section);
  }
  // JSON strings are UTF-8: an argument, env entry or label that is not has
  // no faithful encoding, so it is refused rather than altered.
  try {
    out.json = rc.dump(2) + "\n";
    return out;
  } catch (const nlohmann::json::exception&) {
    return fail(errc::invalid_argument,
                "runtime config: an argument, env entry, path or label is not valid UTF-8");
  }
}

}  // namespace ocipipe
