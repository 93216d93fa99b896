#include "stages/tar_header_check.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "stages/oci/error.h"

namespace ocipipe {
namespace {

constexpr std::size_t block_size = 512;
// The ustar size field holds 11 octal digits: sizes from here on need a PAX
// record (or GNU base-256), and the field is then meaningless (B24, B25).
constexpr std::uint64_t ustar_size_limit = std::uint64_t{1} << 33;

// Field offsets of the POSIX ustar header (old GNU for the sparse ones).
constexpr std::size_t off_name = 0, len_name = 100;
constexpr std::size_t off_size = 124, len_size = 12;
constexpr std::size_t off_chksum = 148, len_chksum = 8;
constexpr std::size_t off_typeflag = 156;
constexpr std::size_t off_magic = 257;
constexpr std::size_t off_prefix = 345, len_prefix = 155;
constexpr std::size_t off_gnu_isextended = 482;   // old GNU header, typeflag 'S'
constexpr std::size_t off_sparse_isextended = 504;  // extended sparse header

std::uint64_t padded(std::uint64_t n) {
  const auto rem = n % block_size;
  return rem == 0 ? n : n + (block_size - rem);
}

std::string_view field(const std::array<std::byte, 512>& b, std::size_t off, std::size_t len) {
  return {reinterpret_cast<const char*>(b.data()) + off, len};
}

// A NUL-terminated string field (not necessarily terminated when full).
std::string_view cstr(std::string_view f) { return f.substr(0, f.find('\0')); }

struct numeric {
  bool ok = false;
  std::uint64_t value = 0;
  const char* why = "";
};

// Octal, NUL/space terminated, leading spaces allowed (GNU tar's from_header;
// libarchive and Go accept the same); an empty field is 0. With the high bit of
// the first byte set, GNU base-256 (big-endian, bit 6 the sign).
numeric parse_numeric(std::string_view f, bool allow_base256) {
  const auto b0 = static_cast<unsigned char>(f.empty() ? 0 : f[0]);
  if (allow_base256 && (b0 & 0x80)) {
    if (b0 & 0x40) return {false, 0, "a negative base-256 number"};
    std::uint64_t v = b0 & 0x3f;
    for (std::size_t i = 1; i < f.size(); ++i) {
      if (v >> 55) return {false, 0, "a base-256 number beyond 2^63"};
      v = (v << 8) | static_cast<unsigned char>(f[i]);
    }
    return {true, v, ""};
  }
  std::size_t i = 0;
  while (i < f.size() && f[i] == ' ') ++i;
  std::uint64_t v = 0;
  for (; i < f.size() && f[i] >= '0' && f[i] <= '7'; ++i) {
    if (v >> 60) return {false, 0, "an octal number beyond 2^63"};
    v = v * 8 + static_cast<unsigned>(f[i] - '0');
  }
  if (i < f.size() && f[i] != ' ' && f[i] != '\0') return {false, 0, "not an octal number"};
  return {true, v, ""};
}

// Index of the first non-zero byte, or n. Eight bytes at a time: the loop
// over 32-byte groups compiles to vector ORs.
std::size_t first_nonzero(const std::byte* p, std::size_t n) {
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    std::uint64_t w[4];
    std::memcpy(w, p + i, sizeof w);
    if ((w[0] | w[1] | w[2] | w[3]) != 0) break;
  }
  for (; i < n; ++i)
    if (p[i] != std::byte{0}) return i;
  return n;
}

const char* header_only_kind(char typeflag) {
  switch (typeflag) {
    case '1': return "hard link";
    case '2': return "symlink";
    case '3': return "character device";
    case '4': return "block device";
    case '5': return "directory";
    case '6': return "fifo";
    default: return nullptr;
  }
}

const char* body_part(char kind) {
  switch (kind) {
    case 'x':
    case 'X': return "pax extended header body";
    case 'g': return "pax global header body";
    case 'L': return "gnu long name body";
    default: return "gnu long link body";
  }
}

}  // namespace

void tar_header_check::report(const char* rule, bool error, std::uint64_t offset,
                              std::string entry, std::string message) {
  std::size_t kept = 0;
  for (const auto& p : problems_) kept += p.rule == rule;
  if (kept < max_problems_per_rule) {
    problems_.push_back({rule, error, offset, std::move(entry), std::move(message)});
    return;
  }
  for (auto& o : overflow_)
    if (o.rule == rule) {
      o.error = o.error || error;
      ++o.count;
      return;
    }
  overflow_.push_back({rule, error, offset, 1});
}

std::string tar_header_check::pending_name() const {
  if (pax_path_) return *pax_path_;
  if (long_name_) return *long_name_;
  return {};
}

void tar_header_check::feed(std::span<const std::byte> chunk) {
  while (!chunk.empty()) {
    std::size_t n = 0;
    switch (state_) {
      case state::header:
      case state::sparse_ext: {
        n = std::min(block_size - block_len_, chunk.size());
        std::memcpy(block_.data() + block_len_, chunk.data(), n);
        block_len_ += n;
        pos_ += n;
        chunk = chunk.subspan(n);
        if (block_len_ == block_size) {
          block_len_ = 0;
          if (state_ == state::header)
            on_header_block();
          else
            on_sparse_block();
        }
        continue;
      }
      case state::skip: {
        if (counting_map_) {
          // GNU sparse 1.0: the data starts with the region count, one decimal line.
          const auto c = static_cast<char>(chunk.front());
          if (c >= '0' && c <= '9' && map_digits_ < 20) {
            map_regions_ = map_regions_ * 10 + static_cast<unsigned>(c - '0');
            ++map_digits_;
          } else {
            counting_map_ = false;
            if (map_regions_ > max_sparse_regions) {
              sparse_over_limit(map_regions_, "gnu sparse 1.0 map");
              continue;
            }
          }
          if (--skip_left_ == 0) state_ = state::header;
          ++pos_;
          chunk = chunk.subspan(1);
          continue;
        }
        n = static_cast<std::size_t>(std::min<std::uint64_t>(skip_left_, chunk.size()));
        skip_left_ -= n;
        if (skip_left_ == 0) state_ = state::header;
        break;
      }
      case state::body: {
        n = static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, chunk.size()));
        if (body_keep_) body_.append(reinterpret_cast<const char*>(chunk.data()), n);
        body_left_ -= n;
        pos_ += n;
        chunk = chunk.subspan(n);
        if (body_left_ == 0) on_body_done();
        continue;
      }
      case state::zeros: {
        const auto i = first_nonzero(chunk.data(), chunk.size());
        if (i == chunk.size()) {
          zero_after_ += chunk.size();
          n = chunk.size();
          break;
        }
        const auto at = pos_ + i;
        if (zero_after_ + i < block_size)
          report("layer.tar.trailing_data", true, at, "",
                 "non-zero byte after a single zero block at offset " +
                     std::to_string(zero_offset_) +
                     ": gnu tar (without --ignore-zeros) and libarchive end the archive at "
                     "that block, so what follows is hidden from them; posix ends an archive "
                     "with two zero blocks and nothing but zero padding after them");
        else
          report("layer.tar.trailing_data", true, at, "",
                 "non-zero byte after the end-of-archive marker at offset " +
                     std::to_string(zero_offset_) +
                     ": readers stop at the marker, so these bytes are hidden from them; "
                     "only zero padding may follow it (posix pax)");
        state_ = state::stopped;
        n = chunk.size();
        break;
      }
      case state::stopped: n = chunk.size(); break;
    }
    pos_ += n;
    chunk = chunk.subspan(n);
  }
}

void tar_header_check::on_header_block() {
  const std::uint64_t at = pos_ - block_size;
  if (first_nonzero(block_.data(), block_size) == block_size) {
    if (pending_ext_) {
      report("layer.tar", false, pending_offset_, pending_name(),
             "extension header governs no entry: the end-of-archive marker follows it");
      pending_ext_ = false;
    }
    zero_offset_ = at;
    zero_after_ = 0;
    state_ = state::zeros;
    return;
  }
  ++headers_;

  std::string name(cstr(field(block_, off_name, len_name)));
  if (field(block_, off_magic, 6) == std::string_view("ustar\0", 6)) {
    const auto prefix = cstr(field(block_, off_prefix, len_prefix));
    if (!prefix.empty()) name = std::string(prefix) + "/" + name;
  }
  const char typeflag = static_cast<char>(block_[off_typeflag]);
  const bool extension =
      typeflag == 'x' || typeflag == 'X' || typeflag == 'g' || typeflag == 'L' || typeflag == 'K';
  const std::string entry = !extension && (pax_path_ || long_name_) ? pending_name() : name;

  // POSIX ustar: the chksum field holds the sum of the header's bytes taken as
  // unsigned, with the field itself counted as eight spaces. Historic tars
  // summed signed chars; GNU tar accepts both, so do we.
  const auto recorded = parse_numeric(field(block_, off_chksum, len_chksum), false);
  std::uint64_t unsigned_sum = 0;
  std::int64_t signed_sum = 0;
  for (std::size_t i = 0; i < block_size; ++i) {
    const auto b = (i >= off_chksum && i < off_chksum + len_chksum)
                       ? static_cast<unsigned char>(' ')
                       : static_cast<unsigned char>(block_[i]);
    unsigned_sum += b;
    signed_sum += static_cast<signed char>(b);
  }
  if (!recorded.ok ||
      (recorded.value != unsigned_sum && static_cast<std::int64_t>(recorded.value) != signed_sum)) {
    const std::string says =
        recorded.ok ? "records " + std::to_string(recorded.value) : std::string("is not octal");
    report("layer.tar.checksum", true, at, entry,
           "header checksum mismatch: the chksum field " + says + ", the header sums to " +
               std::to_string(unsigned_sum) +
               " (posix ustar: the sum of the 512 header bytes with the chksum field taken as "
               "spaces); the sizes in it cannot be trusted, so the headers after it are not "
               "checked");
    stop();
    return;
  }

  const auto size = parse_numeric(field(block_, off_size, len_size), true);
  if (!size.ok) {
    report("layer.tar", true, at, entry,
           std::string("unparseable size field: ") + size.why +
               " (posix ustar: octal digits; gnu: base-256 for large non-negative sizes); the "
               "headers after it are not checked");
    stop();
    return;
  }

  if (extension) {
    if (!pending_ext_) pending_offset_ = at;
    pending_ext_ = true;
    body_kind_ = typeflag;
    body_left_ = size.value;  // never resized by a pending PAX record (B26 b)
    body_pad_ = padded(size.value) - size.value;
    body_.clear();
    cur_offset_ = at;
    cur_name_ = name;
    cur_part_ = body_part(typeflag);
    part_start_ = pos_;
    part_size_ = size.value;
    part_len_ = padded(size.value);
    const bool kept_kind = typeflag == 'x' || typeflag == 'X' || typeflag == 'L';
    body_keep_ = false;
    if (size.value > max_extension_body_) {
      const bool pax = typeflag == 'x' || typeflag == 'X';
      const std::string what = std::string(body_part(typeflag)) + " of " + std::to_string(size.value) +
                               " bytes exceeds the cap of " + std::to_string(max_extension_body_) +
                               " bytes (unpack --max-pax-header-bytes; go rejects over 1 MiB; a reader "
                               "that allocates it can be exhausted, buglog b29)";
      if (pax) {
        // Its records govern what follows; unread, nothing after it can be trusted.
        report("layer.limits", true, at, name, what + "; the layer is not read further");
        limit_exceeded_ = true;
        limit_message_ = what;
        stop();
        return;
      }
      report("layer.tar", true, at, name, what + "; skipped");
    } else if (kept_kind) {
      body_keep_ = true;
      body_.reserve(static_cast<std::size_t>(size.value));
    }
    if (body_left_ == 0)
      on_body_done();
    else
      state_ = state::body;
    return;
  }
  on_entry_header(typeflag, size.value, entry);
}

void tar_header_check::on_entry_header(char typeflag, std::uint64_t ustar_size,
                                       const std::string& name) {
  const std::uint64_t at = pos_ - block_size;
  std::uint64_t size = ustar_size;
  if (pax_size_) {
    if (*pax_size_ < ustar_size_limit && *pax_size_ != ustar_size)
      report("layer.tar.pax_size", true, at, name,
             "pax size record (" + std::to_string(*pax_size_) +
                 ", extended header at offset " + std::to_string(pending_offset_) +
                 ") differs from the ustar size field (" + std::to_string(ustar_size) +
                 "): readers that trust the field walk the archive differently and see other "
                 "entries (buglog b26); posix pax: the record overrides the field, so below "
                 "8 GiB, where the size fits the field, both must agree");
    size = *pax_size_;  // what libarchive, GNU tar and Go skip
  }
  if (const char* kind = header_only_kind(typeflag); kind && size != 0) {
    const std::string who = typeflag == '1'
                                ? "gnu tar and go read none, libarchive reads them in a pax archive"
                                : "go and libarchive read none, readers that follow the size "
                                  "field skip them";
    report("layer.tar", true, at, name,
           std::string("a ") + kind + " header with size " + std::to_string(size) +
               ": posix stores no data after it, and readers disagree whether " +
               std::to_string(size) + " bytes follow (" + who + "); checked as if none followed");
    size = 0;
  }
  pax_size_.reset();
  pax_path_.reset();
  long_name_.reset();
  pending_ext_ = false;
  last_entry_ = name;
  cur_offset_ = at;
  cur_name_ = name;

  const bool sparse10 = sparse10_pending_;
  sparse10_pending_ = false;
  if (sparse10 || sparse0_pending_ || typeflag == 'S')
    report("layer.tar.sparse", false, at, name,
           "sparse entry: layer.md says sparse files SHOULD NOT be used, and readers differ on them "
           "(buglog b28)");
  sparse0_pending_ = false;
  if (typeflag == 'S' && block_[off_gnu_isextended] != std::byte{0}) {
    sparse_ext_blocks_ = 0;
    // Old GNU sparse: extended sparse headers follow, each with its own
    // isextended flag; then the stored data (the size field counts only that).
    sparse_data_ = size;
    cur_part_ = "gnu extended sparse headers";
    part_start_ = pos_;
    part_len_ = 0;
    state_ = state::sparse_ext;
    return;
  }
  skip_data(size);
  if (sparse10 && (typeflag == '0' || typeflag == '\0') && state_ == state::skip) {
    counting_map_ = true;
    map_regions_ = 0;
    map_digits_ = 0;
  }
}

void tar_header_check::sparse_over_limit(std::uint64_t regions, const char* form) {
  report("layer.limits", true, cur_offset_, cur_name_,
         std::string(form) + " lists " + std::to_string(regions) + " regions, over the limit of " +
             std::to_string(max_sparse_regions) +
             " (a reader allocates per region: buglog b29); the layer is not read further");
  limit_exceeded_ = true;
  limit_message_ = std::string(form) + " lists " + std::to_string(regions) + " regions, over the limit of " +
                   std::to_string(max_sparse_regions);
  stop();
}

void tar_header_check::on_sparse_block() {
  // The header holds 4 regions, each extension header 21 more.
  if (4 + 21 * ++sparse_ext_blocks_ > max_sparse_regions)
    return sparse_over_limit(4 + 21 * sparse_ext_blocks_, "gnu sparse map");
  if (block_[off_sparse_isextended] != std::byte{0}) return;  // another one follows
  skip_data(sparse_data_);
}

void tar_header_check::skip_data(std::uint64_t size) {
  cur_part_ = "data";
  part_start_ = pos_;
  part_size_ = size;
  part_len_ = padded(size);
  skip_left_ = part_len_;
  state_ = skip_left_ == 0 ? state::header : state::skip;
}

void tar_header_check::on_body_done() {
  if (body_keep_) {
    if (body_kind_ == 'L') {
      long_name_ = std::string(cstr(body_));
    } else {
      parse_pax(body_);
      if (state_ == state::stopped) return;
    }
  }
  body_.clear();
  body_.shrink_to_fit();
  skip_left_ = body_pad_;
  state_ = skip_left_ == 0 ? state::header : state::skip;
}

// POSIX pax records: "%d %s=%s\n", the length counting the whole record.
void tar_header_check::parse_pax(const std::string& body) {
  const std::string_view s(body);
  auto malformed = [&](std::size_t at, const std::string& why) {
    report("layer.tar", true, cur_offset_, cur_name_,
           "malformed pax extended header: record at body offset " + std::to_string(at) + ": " +
               why +
               " (posix pax: \"%d %s=%s\\n\", the length counting the whole record); the "
               "headers after it are not checked");
    stop();
  };
  std::size_t p = 0;
  while (p < s.size()) {
    if (s[p] == '\0' && s.find_first_not_of('\0', p) == std::string_view::npos) break;
    std::size_t q = p;
    std::uint64_t len = 0;
    while (q < s.size() && s[q] >= '0' && s[q] <= '9' && q - p < 20)
      len = len * 10 + static_cast<unsigned>(s[q++] - '0');
    if (q == p || q >= s.size() || s[q] != ' ')
      return malformed(p, "the length is not a decimal number followed by a space");
    if (len > s.size() - p || len < q - p + 3)
      return malformed(p, "the length " + std::to_string(len) + " does not fit the body");
    const auto rec = s.substr(p, static_cast<std::size_t>(len));
    if (rec.back() != '\n') return malformed(p, "the record does not end in a newline");
    const auto kv = rec.substr(q - p + 1, rec.size() - (q - p + 1) - 1);
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return malformed(p, "no \"keyword=value\" in the record");
    const auto key = kv.substr(0, eq);
    const auto value = kv.substr(eq + 1);
    if (key == "size") {
      // An empty value deletes the keyword (posix pax): the header field rules.
      if (value.empty()) {
        pax_size_.reset();
      } else {
        std::uint64_t v = 0;
        bool ok = value.size() <= 18;  // below 10^18 < 2^63: no overflow
        for (std::size_t i = 0; ok && i < value.size(); ++i) {
          ok = value[i] >= '0' && value[i] <= '9';
          v = v * 10 + static_cast<unsigned>(value[i] - '0');
        }
        if (!ok)
          return malformed(p, "size " + quote(value) + " is not a non-negative decimal number");
        pax_size_ = v;
      }
    } else if (key == "GNU.sparse.major") {
      sparse10_pending_ = value == "1";
    } else if (key == "GNU.sparse.numblocks") {
      sparse0_pending_ = true;
      std::uint64_t v = 0;
      for (std::size_t i = 0; i < value.size() && i < 20 && value[i] >= '0' && value[i] <= '9'; ++i)
        v = v * 10 + static_cast<unsigned>(value[i] - '0');
      if (v > max_sparse_regions) return sparse_over_limit(v, "gnu sparse 0.x map");
    } else if (key == "path") {
      if (value.empty())
        pax_path_.reset();
      else
        pax_path_ = std::string(value);
    }
    p += static_cast<std::size_t>(len);
  }
}

std::vector<tar_header_problem> tar_header_check::finish() {
  if (finished_) return {};
  finished_ = true;
  const auto into = [&] { return std::to_string(pos_ - part_start_); };
  switch (state_) {
    case state::header:
      if (block_len_ > 0) {
        report("layer.tar", true, pos_ - block_len_, pending_name(),
               "truncated: the stream ends " + std::to_string(block_len_) +
                   " bytes into a 512-byte header block");
      } else if (pending_ext_) {
        report("layer.tar", true, pending_offset_, pending_name(),
               "truncated: the stream ends after an extension header, before the entry it "
               "governs");
      } else if (pos_ == 0) {
        report("layer.tar.eoa", false, 0, "",
               "empty stream: no end-of-archive marker (posix: two 512-byte zero blocks; "
               "an empty stream is read as an empty layer)");
      } else {
        report("layer.tar.eoa", true, pos_, last_entry_,
               "end-of-archive marker missing: the stream ends after entry " +
                   quote(last_entry_) +
                   " (posix: two 512-byte zero blocks end an archive; without them a cut "
                   "stream cannot be told from a whole one)");
      }
      break;
    case state::skip:
    case state::body:
      report("layer.tar", true, cur_offset_, cur_name_,
             std::string("truncated: the stream ends ") + into() + " bytes into the " +
                 cur_part_ + " of the header at offset " + std::to_string(cur_offset_) + " (" +
                 std::to_string(part_size_) + " bytes, " + std::to_string(part_len_) +
                 " with padding to 512)");
      break;
    case state::sparse_ext:
      report("layer.tar", true, cur_offset_, cur_name_,
             std::string("truncated: the stream ends ") + into() + " bytes into the " +
                 cur_part_ + " of the header at offset " + std::to_string(cur_offset_));
      break;
    case state::zeros:
      if (zero_after_ < block_size)
        report("layer.tar.eoa", false, zero_offset_, last_entry_,
               "end-of-archive marker is a single zero block" +
                   (zero_after_ ? " and " + std::to_string(zero_after_) + " zero bytes"
                                : std::string()) +
                   " (posix: two 512-byte zero blocks)");
      break;
    case state::stopped: break;
  }
  auto out = std::move(problems_);
  for (const auto& o : overflow_)
    out.push_back({o.rule, o.error, o.offset, "",
                   "and " + std::to_string(o.count) + " more " + o.rule + " problems"});
  overflow_.clear();
  return out;
}

}  // namespace ocipipe
