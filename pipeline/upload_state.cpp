// A push's upload sessions on disk: one JSON file per blob being uploaded.
#include "pipeline/upload_state.h"

#include <fcntl.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include <nlohmann/json.hpp>

#include "io/small_file.h"
#include "io/target_dir.h"
#include "stages/digester.h"

namespace ocipipe::pipeline {
namespace {

constexpr int state_format = 1;

std::string file_name(const std::string& host, const std::string& repository, const descriptor& d) {
  const std::string key = host + "/" + repository + "@" + d.digest.str();
  const auto h = digester::of(std::as_bytes(std::span(key.data(), key.size())));
  return std::string(h.encoded()) + ".json";
}

}  // namespace

std::string default_upload_state_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/ocipipe/uploads";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.cache/ocipipe/uploads";
}

upload_state::upload_state(std::string dir) : dir_(dir.empty() ? default_upload_state_dir() : std::move(dir)) {}

std::string upload_state::path_of(const std::string& host, const std::string& repository,
                                  const descriptor& d) const {
  return dir_ + "/" + file_name(host, repository, d);
}

std::optional<io::upload_session> upload_state::load(const std::string& host, const std::string& repository,
                                                     const descriptor& d) const {
  auto text = io::read_small_file(AT_FDCWD, path_of(host, repository, d), 64 << 10);
  if (!text) return std::nullopt;
  const auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  // Every field must be there with its type and name this very blob: the
  // file name is only a hash, and a file from another version or another
  // blob must not steer an upload.
  const auto str = [&j](const char* k) -> std::optional<std::string> {
    auto it = j.find(k);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  const auto num = [&j](const char* k) -> std::optional<std::uint64_t> {
    auto it = j.find(k);
    if (it == j.end() || !it->is_number_unsigned()) return std::nullopt;
    return it->get<std::uint64_t>();
  };
  const auto format = num("format");
  const auto h = str("host"), repo = str("repository"), dig = str("digest"), location = str("location");
  const auto size = num("size"), offset = num("offset");
  if (!format || *format != state_format || !h || !repo || !dig || !location || !size || !offset) return std::nullopt;
  if (*h != host || *repo != repository || *dig != d.digest.str() || *size != static_cast<std::uint64_t>(d.size) ||
      *offset > *size || location->empty())
    return std::nullopt;
  return io::upload_session{*location, *offset};
}

result<void> upload_state::save(const std::string& host, const std::string& repository, const descriptor& d,
                                const io::upload_session& session) const {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir_, ec)) {
    std::filesystem::create_directories(dir_, ec);
    if (ec) return fail(errc::io, "create " + quote(dir_) + ": " + ec.message());
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all, ec);  // upload URLs may carry tokens
  }
  const nlohmann::ordered_json j = {{"format", state_format},
                                    {"host", host},
                                    {"repository", repository},
                                    {"digest", d.digest.str()},
                                    {"size", static_cast<std::uint64_t>(d.size)},
                                    {"location", session.location},
                                    {"offset", session.offset}};
  return io::write_file_atomic(dir_, file_name(host, repository, d), j.dump() + "\n", 0600);
}

void upload_state::remove(const std::string& host, const std::string& repository, const descriptor& d) const {
  std::error_code ec;
  std::filesystem::remove(path_of(host, repository, d), ec);
}

}  // namespace ocipipe::pipeline
