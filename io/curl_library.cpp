#include "io/curl_library.h"

#include <dlfcn.h>

#include <optional>
#include <string>

namespace ocipipe::io {
namespace {

struct loaded {
  curl_library table{};
  std::optional<error> failure;
};

// dlsym's void* as the entry point's own pointer type: POSIX requires the
// conversion to work for function pointers.
template <class F>
void resolve(void* handle, const char* name, F& out, std::string& missing) {
  out = reinterpret_cast<F>(::dlsym(handle, name));
  if (!out && missing.empty()) missing = name;
}

loaded load() {
  loaded l;
  void* h = ::dlopen(curl_library_name, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* why = ::dlerror();
    l.failure = error(errc::unsupported, std::string("registry and web access need libcurl: cannot load ") +
                                             curl_library_name + " (" + (why ? why : "unknown error") +
                                             "); install Debian's libcurl4");
    return l;
  }
  auto& t = l.table;
  std::string missing;
  resolve(h, "curl_global_init", t.global_init, missing);
  resolve(h, "curl_easy_init", t.easy_init, missing);
  resolve(h, "curl_easy_setopt", t.easy_setopt, missing);
  resolve(h, "curl_easy_getinfo", t.easy_getinfo, missing);
  resolve(h, "curl_easy_pause", t.easy_pause, missing);
  resolve(h, "curl_easy_strerror", t.easy_strerror, missing);
  resolve(h, "curl_easy_cleanup", t.easy_cleanup, missing);
  resolve(h, "curl_slist_append", t.slist_append, missing);
  resolve(h, "curl_slist_free_all", t.slist_free_all, missing);
  resolve(h, "curl_share_init", t.share_init, missing);
  resolve(h, "curl_share_setopt", t.share_setopt, missing);
  resolve(h, "curl_share_cleanup", t.share_cleanup, missing);
  resolve(h, "curl_multi_init", t.multi_init, missing);
  resolve(h, "curl_multi_add_handle", t.multi_add_handle, missing);
  resolve(h, "curl_multi_remove_handle", t.multi_remove_handle, missing);
  resolve(h, "curl_multi_perform", t.multi_perform, missing);
  resolve(h, "curl_multi_poll", t.multi_poll, missing);
  resolve(h, "curl_multi_info_read", t.multi_info_read, missing);
  resolve(h, "curl_multi_strerror", t.multi_strerror, missing);
  resolve(h, "curl_multi_cleanup", t.multi_cleanup, missing);
  if (!missing.empty()) {
    l.failure = error(errc::unsupported, std::string(curl_library_name) + " has no " + missing +
                                             " (curl_multi_poll needs libcurl 7.66 or later)");
    return l;
  }
  if (const CURLcode rc = t.global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK)
    l.failure = error(errc::unsupported, std::string("libcurl: global init failed: ") + t.easy_strerror(rc));
  return l;
}

const loaded& once() {
  static const loaded l = load();  // thread-safe initialization (C++11 "magic statics")
  return l;
}

}  // namespace

result<const curl_library*> load_curl() {
  const auto& l = once();
  if (l.failure) return tl::unexpected(*l.failure);
  return &l.table;
}

const curl_library& curl() { return once().table; }

}  // namespace ocipipe::io
