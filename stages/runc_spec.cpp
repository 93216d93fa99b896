#include "stages/runc_spec.h"

#include <string>

namespace ocipipe {
namespace {

using json = nlohmann::ordered_json;

json mounts() {
  return {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
          {{"destination", "/dev"},
           {"type", "tmpfs"},
           {"source", "tmpfs"},
           {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
          {{"destination", "/dev/pts"},
           {"type", "devpts"},
           {"source", "devpts"},
           {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
          {{"destination", "/dev/shm"},
           {"type", "tmpfs"},
           {"source", "shm"},
           {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
          {{"destination", "/dev/mqueue"},
           {"type", "mqueue"},
           {"source", "mqueue"},
           {"options", {"nosuid", "noexec", "nodev"}}},
          {{"destination", "/sys"},
           {"type", "sysfs"},
           {"source", "sysfs"},
           {"options", {"nosuid", "noexec", "nodev", "ro"}}},
          {{"destination", "/sys/fs/cgroup"},
           {"type", "cgroup"},
           {"source", "cgroup"},
           {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}}};
}

const json masked_paths = {"/proc/acpi",        "/proc/asound",        "/proc/kcore",
                           "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
                           "/proc/timer_stats", "/proc/sched_debug",   "/sys/firmware",
                           "/proc/scsi"};
const json readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                             "/proc/sysrq-trigger"};

// specconv.ToRootless's mount changes.
json rootless_mounts(const json& in) {
  json out = json::array();
  for (const auto& m : in) {
    if (m["destination"] == "/sys") {
      out.push_back({{"destination", "/sys"},
                     {"type", "none"},
                     {"source", "/sys"},
                     {"options", {"rbind", "nosuid", "noexec", "nodev", "ro"}}});
      continue;
    }
    json mount = m;
    if (mount.contains("options")) {
      json options = json::array();
      for (const auto& o : mount["options"]) {
        const auto s = o.get<std::string>();
        if (s.rfind("uid=", 0) != 0 && s.rfind("gid=", 0) != 0) options.push_back(o);
      }
      mount["options"] = std::move(options);
    }
    out.push_back(std::move(mount));
  }
  return out;
}

}  // namespace

json runc_spec(const std::optional<rootless_ids>& rootless) {
  const json caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  json spec = {
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
      {"mounts", mounts()}};
  if (!rootless) {
    spec["linux"] = {{"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}},
                     {"namespaces",
                      {{{"type", "pid"}},
                       {{"type", "network"}},
                       {{"type", "ipc"}},
                       {{"type", "uts"}},
                       {{"type", "mount"}}}},
                     {"maskedPaths", masked_paths},
                     {"readonlyPaths", readonly_paths}};
    return spec;
  }
  spec["mounts"] = rootless_mounts(spec["mounts"]);
  spec["linux"] = {
      {"uidMappings", {{{"containerID", 0}, {"hostID", rootless->host_uid}, {"size", 1}}}},
      {"gidMappings", {{{"containerID", 0}, {"hostID", rootless->host_gid}, {"size", 1}}}},
      {"namespaces",
       {{{"type", "pid"}},
        {{"type", "ipc"}},
        {{"type", "uts"}},
        {{"type", "mount"}},
        {{"type", "user"}}}},
      {"maskedPaths", masked_paths},
      {"readonlyPaths", readonly_paths}};
  return spec;
}

}  // namespace ocipipe
