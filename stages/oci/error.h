#pragma once
// Error vocabulary shared by every module: an error category, an errno, and a
// context chain. Messages follow the Go "%w" convention (lowercase, context
// first, cause last, joined by ": "); DESIGN.md §5.

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace ocipipe {

/// Error categories. They follow abseil's retry semantics: `unavailable` is the
/// only retryable one. The CLI maps them to exit codes (DESIGN.md §4).
enum class errc : std::uint8_t {
  invalid_argument,    ///< bad CLI/API input
  not_found,           ///< blob, reference or path missing
  malformed,           ///< JSON, tar or compressed stream violates its format
  digest_mismatch,     ///< content does not hash to the digest that names it
  size_mismatch,       ///< content length differs from descriptor.size
  unsupported,         ///< media type or feature not implemented
  unsafe_path,         ///< entry escapes the rootfs or names a bad whiteout
  permission_denied,
  io,                  ///< syscall failure; errno kept in error::sys_errno
  unavailable,         ///< network, 5xx, 429: retryable
  unauthenticated,
  resource_exhausted,  ///< ENOSPC, ENOMEM, a size limit or byte budget
  cancelled,
  internal,            ///< an invariant of ours broke: a bug
};

/// Stable lowercase name of a category, as printed in `--json` diagnostics.
constexpr std::string_view errc_name(errc c) noexcept {
  switch (c) {
    case errc::invalid_argument: return "invalid_argument";
    case errc::not_found: return "not_found";
    case errc::malformed: return "malformed";
    case errc::digest_mismatch: return "digest_mismatch";
    case errc::size_mismatch: return "size_mismatch";
    case errc::unsupported: return "unsupported";
    case errc::unsafe_path: return "unsafe_path";
    case errc::permission_denied: return "permission_denied";
    case errc::io: return "io";
    case errc::unavailable: return "unavailable";
    case errc::unauthenticated: return "unauthenticated";
    case errc::resource_exhausted: return "resource_exhausted";
    case errc::cancelled: return "cancelled";
    case errc::internal: return "internal";
  }
  return "internal";
}

/// A failure value. Cheap to move; `message()` is the full chain
/// "context: context: cause". Not thread-safe to mutate; values are moved
/// between threads, never shared.
class error {
 public:
  error(errc code, std::string cause, int sys_errno = 0)
      : code_(code), sys_errno_(sys_errno), message_(std::move(cause)) {}

  /// The category.
  [[nodiscard]] errc code() const noexcept { return code_; }
  /// errno of the failing syscall, 0 when none.
  [[nodiscard]] int sys_errno() const noexcept { return sys_errno_; }
  /// The whole chain, context first.
  [[nodiscard]] const std::string& message() const noexcept { return message_; }

  /// Prepends one level of context ("layer 2 (sha256:…)") and returns *this,
  /// so `return std::move(e).context("…")` reads naturally.
  error&& context(std::string_view what) && {
    std::string m;
    m.reserve(what.size() + 2 + message_.size());
    m.append(what).append(": ").append(message_);
    message_ = std::move(m);
    return std::move(*this);
  }
  error& context(std::string_view what) & {
    message_ = std::string(what) + ": " + message_;
    return *this;
  }

 private:
  errc code_;
  int sys_errno_;
  std::string message_;
};

/// Every fallible function returns `result<T>`; our code throws nothing
/// (DESIGN.md §5). Use only the subset std::expected also has.
template <typename T>
using result = tl::expected<T, error>;

/// Builds the unexpected value: `return fail(errc::malformed, "…");`.
inline tl::unexpected<error> fail(errc code, std::string cause, int sys_errno = 0) {
  return tl::unexpected<error>(error(code, std::move(cause), sys_errno));
}

/// An `io` failure from the current errno: "what: strerror".
tl::unexpected<error> fail_errno(std::string what, int sys_errno);

/// Quotes a path or name for messages: "etc/passwd" with C-style escapes for
/// control bytes, so hostile names cannot forge output lines.
std::string quote(std::string_view s);

/// " (--max-layer-bytes)" for a limit the caller named, "" for an unnamed one:
/// the tail of a `resource_exhausted` message, telling the user what to raise.
inline std::string limit_name(std::string_view name) {
  return name.empty() ? std::string() : " (" + std::string(name) + ")";
}

}  // namespace ocipipe

/// Returns the error of a `result<void>` expression, adding no context.
#define OCIPIPE_TRY(expr)                                   \
  do {                                                      \
    if (auto ocipipe_try_r_ = (expr); !ocipipe_try_r_)      \
      return ::tl::unexpected(std::move(ocipipe_try_r_).error()); \
  } while (0)

#define OCIPIPE_CONCAT_INNER_(a, b) a##b
#define OCIPIPE_CONCAT_(a, b) OCIPIPE_CONCAT_INNER_(a, b)
/// `OCIPIPE_ASSIGN_OR_RETURN(auto x, f());` unwraps or returns the error.
#define OCIPIPE_ASSIGN_OR_RETURN(lhs, expr) \
  OCIPIPE_ASSIGN_OR_RETURN_IMPL_(OCIPIPE_CONCAT_(ocipipe_r_, __LINE__), lhs, expr)
#define OCIPIPE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)          \
  auto tmp = (expr);                                            \
  if (!tmp) return ::tl::unexpected(std::move(tmp).error());    \
  lhs = std::move(*tmp)
