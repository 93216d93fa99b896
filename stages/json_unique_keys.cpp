#include "stages/json_unique_keys.h"

#include <set>
#include <string>
#include <vector>

namespace ocipipe {

result<nlohmann::json> parse_json_unique_keys(std::string_view text) {
  using json = nlohmann::json;
  // The key sets of the objects being parsed, innermost last.
  std::vector<std::set<std::string>> open;
  std::string duplicate;
  bool found = false;
  const json::parser_callback_t on_event = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: open.emplace_back(); break;
      case json::parse_event_t::object_end:
        if (!open.empty()) open.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open.empty() && !open.back().insert(parsed.get<std::string>()).second && !found) {
          found = true;
          duplicate = parsed.get<std::string>();
        }
        break;
      default: break;
    }
    return true;
  };
  json value;
  try {
    value = json::parse(text.begin(), text.end(), on_event);
  } catch (const json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 2: …"
    std::string_view what = e.what();
    if (const auto close = what.find("] "); close != std::string_view::npos) what.remove_prefix(close + 2);
    return fail(errc::malformed, "not JSON: " + std::string(what));
  }
  if (found) return fail(errc::malformed, "duplicate key " + quote(duplicate));
  return value;
}

}  // namespace ocipipe
