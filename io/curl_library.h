#pragma once
// libcurl, loaded when the first HTTP client is made rather than when the
// program starts. With its two dozen dependencies (gnutls, krb5, ldap, ssh2,
// ...) it was 11 of the 27 ms that every ocipipe command, including those that
// never touch a network, spent in the dynamic loader (`ocipipe version`: 28 ms
// against 3 ms for /bin/true). Types and constants still come from
// <curl/curl.h>; only the calls go through this table.

#include <curl/curl.h>

#include "stages/oci/error.h"

namespace ocipipe::io {

/// The libcurl entry points ocipipe calls, typed from their declarations in
/// <curl/curl.h> (a signature that does not match does not compile).
struct curl_library {
  decltype(&::curl_global_init) global_init;
  decltype(&::curl_easy_init) easy_init;
  decltype(&::curl_easy_setopt) easy_setopt;
  decltype(&::curl_easy_getinfo) easy_getinfo;
  decltype(&::curl_easy_pause) easy_pause;
  decltype(&::curl_easy_strerror) easy_strerror;
  decltype(&::curl_easy_cleanup) easy_cleanup;
  decltype(&::curl_slist_append) slist_append;
  decltype(&::curl_slist_free_all) slist_free_all;
  decltype(&::curl_share_init) share_init;
  decltype(&::curl_share_setopt) share_setopt;
  decltype(&::curl_share_cleanup) share_cleanup;
  decltype(&::curl_multi_init) multi_init;
  decltype(&::curl_multi_add_handle) multi_add_handle;
  decltype(&::curl_multi_remove_handle) multi_remove_handle;
  decltype(&::curl_multi_perform) multi_perform;
  decltype(&::curl_multi_poll) multi_poll;
  decltype(&::curl_multi_info_read) multi_info_read;
  decltype(&::curl_multi_strerror) multi_strerror;
  decltype(&::curl_multi_cleanup) multi_cleanup;
};

/// The shared object loaded: libcurl's SONAME since 7.16 (Debian's libcurl4).
inline constexpr const char* curl_library_name = "libcurl.so.4";

/// Loads libcurl and runs curl_global_init once, on the first call; every
/// later call returns the same table or the same error. Thread-safe. The
/// table stays valid until the process exits (the library is never
/// unloaded). Errors: `unsupported` naming the library, what dlopen or dlsym
/// said, and the package that provides it.
[[nodiscard]] result<const curl_library*> load_curl();

/// The table; only after load_curl() succeeded (the HTTP client checks that
/// before any transfer).
[[nodiscard]] const curl_library& curl();

}  // namespace ocipipe::io
