#pragma once
// The /etc/passwd and /etc/group of the create tests: buglog B54's users,
// plus a group "staff" that app is in (supplementary groups, HOME lookups).

#include <string>

namespace ocipipe::testing {

inline const std::string passwd_text =
    "root:x:0:0::/root:/bin/sh\n"
    "app:x:1000:1000::/home/app:/bin/sh\n";
inline const std::string group_text =
    "wheel:x:10:root,app\n"
    "staff:x:50:app\n"
    "app:x:1000:\n";

}  // namespace ocipipe::testing
