#include "stages/runtime_config.h"

#include <nlohmann/json.hpp>

namespace ocipipe {
namespace {

using json = nlohmann::ordered_json;

// runc 1.1 `runc spec` defaults, less what conversion.md fills from the image.
json runc_defaults() {
  const json caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  return json{
      {"ociVersion", "1.0.2-dev"},
      {"process",
       {{"terminal", false},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", json::array()},
        {"env", json::array()},
        {"cwd", "/"},
        {"capabilities",
         {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"ambient", caps}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "runc"},
      {"mounts",
       {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
        {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"},
         {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
        {{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"},
         {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
        {{"destination", "/dev/shm"}, {"type", "tmpfs"}, {"source", "shm"},
         {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
        {{"destination", "/dev/mqueue"}, {"type", "mqueue"}, {"source", "mqueue"},
         {"options", {"nosuid", "noexec", "nodev"}}},
        {{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"},
         {"options", {"nosuid", "noexec", "nodev", "ro"}}},
        {{"destination", "/sys/fs/cgroup"}, {"type", "cgroup"}, {"source", "cgroup"},
         {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}}}},
      {"linux",
       {{"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}},
        {"namespaces",
         {{{"type", "pid"}}, {{"type", "network"}}, {{"type", "ipc"}}, {{"type", "uts"}},
          {{"type", "mount"}}}},
        {"maskedPaths",
         {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
          "/proc/scsi"}},
        {"readonlyPaths",
         {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}}}};
}

}  // namespace

result<std::string> make_runtime_config(const image_config& image, const process_user& user,
                                        const runtime_config_options& opts) {
  json rc = runc_defaults();
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
  // runtime-spec process.env: each entry NAME=value (runc refuses others).
  for (std::size_t i = 0; i < image.config.env.size(); ++i)
    if (image.config.env[i].find('=') == std::string::npos ||
        image.config.env[i].front() == '=')
      return fail(errc::invalid_argument, "image config Env[" + std::to_string(i) + "] " +
                                              quote(image.config.env[i]) + " is not NAME=value");
  proc["env"] = image.config.env;
  const std::string cwd = image.config.working_dir.empty() ? "/" : image.config.working_dir;
  if (cwd.front() != '/')
    return fail(errc::invalid_argument, "image config WorkingDir " + quote(cwd) + " is not absolute");
  proc["cwd"] = cwd;
  proc["user"] = json{{"uid", user.uid}, {"gid", user.gid}};
  if (!user.additional_gids.empty()) proc["user"]["additionalGids"] = user.additional_gids;
  rc["root"]["path"] = opts.rootfs;

  // conversion.md "Annotation Fields": Labels first, then the image's own keys.
  json ann = json::object();
  for (const auto& [k, v] : image.config.labels) ann[k] = v;
  auto put = [&](const char* key, const std::string& v) {
    if (!v.empty()) ann[key] = v;
  };
  put("org.opencontainers.image.os", image.os);
  put("org.opencontainers.image.architecture", image.architecture);
  put("org.opencontainers.image.variant", image.variant);
  put("org.opencontainers.image.os.version", image.os_version);
  put("org.opencontainers.image.author", image.author);
  put("org.opencontainers.image.created", image.created);
  put("org.opencontainers.image.stopSignal", image.config.stop_signal);
  std::string ports;
  for (const auto& p : image.config.exposed_ports) ports += (ports.empty() ? "" : ",") + p;
  put("org.opencontainers.image.exposedPorts", ports);
  if (!ann.empty()) rc["annotations"] = std::move(ann);
  // JSON strings are UTF-8: an argument, env entry or label that is not has
  // no faithful encoding, so it is refused rather than altered.
  try {
    return rc.dump(2) + "\n";
  } catch (const nlohmann::json::exception&) {
    return fail(errc::invalid_argument,
                "runtime config: an argument, env entry, path or label is not valid UTF-8");
  }
}

}  // namespace ocipipe
