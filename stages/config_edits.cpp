#include "stages/config_edits.h"

#include <algorithm>

namespace ocipipe {

std::optional<std::string_view> env_name(std::string_view entry) {
  const auto eq = entry.find('=');
  if (eq == std::string_view::npos || eq == 0) return std::nullopt;
  return entry.substr(0, eq);
}

result<image_config> apply_config_edits(image_config image, const config_edits& edits) {
  auto& env = image.config.env;
  for (const auto& entry : edits.env) {
    const auto name = env_name(entry);
    if (!name) return fail(errc::invalid_argument, "env " + quote(entry) + " is not NAME=value");
    auto same_name = [&](const std::string& e) { return env_name(e) == name; };
    auto first = std::find_if(env.begin(), env.end(), same_name);
    if (first == env.end()) {
      env.push_back(entry);
      continue;
    }
    // The first keeps its place; later repeats would shadow nothing for getenv
    // but still show in `env`, so they go.
    *first = entry;
    env.erase(std::remove_if(std::next(first), env.end(), same_name), env.end());
  }
  if (edits.working_dir) image.config.working_dir = *edits.working_dir;
  if (edits.user) image.config.user = *edits.user;
  return image;
}

}  // namespace ocipipe
