#pragma once
// The text of a system error as ocipipe's messages print it (DESIGN.md §5):
// strerror's, lowercased, "no space left on device"; a leading acronym
// ("RPC struct is bad") stays as it is. Thread-safe (strerror's text is
// copied before anything else runs on this thread).

#include <string>

namespace ocipipe {

/// strerror(sys_errno), its first letter lowercased unless it starts an acronym.
[[nodiscard]] std::string errno_text(int sys_errno);

}  // namespace ocipipe
