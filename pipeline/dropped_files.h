#pragma once
// The regular files one layer does not write because a later layer removes
// them (write avoidance, pipeline/README.md), kept in memory while that layer
// is applied: a hardlink of the same layer to one of them must still be made,
// and is made as a copy (the file it links to is gone by the image's end).

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>

#include "stages/oci/byte_source.h"
#include "stages/oci/tar_entry.h"

namespace ocipipe::pipeline {

/// Per layer; the apply thread's alone (not thread-safe).
class dropped_files {
 public:
  /// Bigger files are written even when dead: their bytes would cost more
  /// memory than their write costs time, and hardlinks need them.
  static constexpr std::uint64_t max_file_bytes = std::uint64_t{1} << 20;
  static constexpr std::uint64_t max_total_bytes = std::uint64_t{64} << 20;

  struct dropped {
    tar_entry entry;
    std::string content;  ///< the file's bytes, holes as zeros
    std::string made_at;  ///< where a hardlink made it after all ("" = nowhere yet)
  };

  /// Whether a file of `size` bytes may be dropped within the budget.
  [[nodiscard]] bool room_for(std::uint64_t size) const {
    return size <= max_file_bytes && total_ + size <= max_total_bytes;
  }
  /// Entry `e` at `path` is dropped; content() fills it until end().
  void begin(const tar_entry& e, const std::string& path) {
    auto& d = files_[path];
    d = dropped{e, {}, {}};
    d.content.reserve(static_cast<std::size_t>(e.size));
    current_ = &d;
    total_ += e.size;
  }
  /// Whether content goes to a dropped file now.
  [[nodiscard]] bool receiving() const { return current_ != nullptr; }
  void content(std::uint64_t offset, byte_view bytes) {
    auto& c = current_->content;
    const std::size_t end = static_cast<std::size_t>(offset) + bytes.size();
    if (c.size() < end) c.resize(end);
    std::memcpy(c.data() + offset, bytes.data(), bytes.size());
  }
  void end() { current_ = nullptr; }
  /// The dropped file at `path`, or null.
  [[nodiscard]] dropped* find(const std::string& path) {
    const auto it = files_.find(path);
    return it == files_.end() ? nullptr : &it->second;
  }
 private:
  std::unordered_map<std::string, dropped> files_;
  dropped* current_ = nullptr;
  std::uint64_t total_ = 0;
};

}  // namespace ocipipe::pipeline
