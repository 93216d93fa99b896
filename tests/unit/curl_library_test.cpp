// io/curl_library: libcurl is loaded when an HTTP client needs it, not when
// ocipipe starts (it was 11 of the 27 ms every command spent loading
// libraries), and once loaded it is all there.
#include <gtest/gtest.h>

#include <string>

#include "io/curl_library.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::io {
namespace {

using namespace ocipipe::testing;

TEST(CurlLibrary, LocalVerbsNeverLoadLibcurl) {
  temp_dir tmp("ocipipe-lazy-curl");
  auto img = build_layout(tmp.sub("layout"), "t", {layer_spec{{file("etc/hostname", "box\n")}}});
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"version"}, {"validate", "--progress=never", img.ref_text()},
        {"unpack", "--progress=never", img.ref_text(), tmp.sub("rootfs")}}) {
    // ld.so names every object it loads, dlopen included, on stderr.
    std::vector<std::string> argv{"env", "LD_DEBUG=files", ocipipe_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_command(argv);
    ASSERT_TRUE(r.ok()) << format_command(args) << ": " << r.describe();
    EXPECT_EQ(r.err.find("libcurl"), std::string::npos) << format_command(args) << " loaded libcurl";
  }
}

TEST(CurlLibrary, LoadsOnceWithEveryEntryPoint) {
  auto lib = load_curl();
  ASSERT_TRUE(lib) << lib.error().message();
  auto again = load_curl();
  ASSERT_TRUE(again);
  EXPECT_EQ(*lib, *again);
  const auto& t = **lib;
  for (const void* f : {reinterpret_cast<const void*>(t.global_init), reinterpret_cast<const void*>(t.easy_init),
                        reinterpret_cast<const void*>(t.easy_setopt), reinterpret_cast<const void*>(t.easy_getinfo),
                        reinterpret_cast<const void*>(t.easy_pause), reinterpret_cast<const void*>(t.easy_strerror),
                        reinterpret_cast<const void*>(t.easy_cleanup), reinterpret_cast<const void*>(t.slist_append),
                        reinterpret_cast<const void*>(t.slist_free_all), reinterpret_cast<const void*>(t.share_init),
                        reinterpret_cast<const void*>(t.share_setopt), reinterpret_cast<const void*>(t.share_cleanup),
                        reinterpret_cast<const void*>(t.multi_init), reinterpret_cast<const void*>(t.multi_add_handle),
                        reinterpret_cast<const void*>(t.multi_remove_handle),
                        reinterpret_cast<const void*>(t.multi_perform), reinterpret_cast<const void*>(t.multi_poll),
                        reinterpret_cast<const void*>(t.multi_info_read),
                        reinterpret_cast<const void*>(t.multi_strerror),
                        reinterpret_cast<const void*>(t.multi_cleanup)})
    EXPECT_NE(f, nullptr);
  CURL* h = curl().easy_init();
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(curl().easy_setopt(h, CURLOPT_URL, "http://127.0.0.1:1/"), CURLE_OK);
  curl().easy_cleanup(h);
  EXPECT_STREQ(curl().easy_strerror(CURLE_OK), "No error");
}

}  // namespace
}  // namespace ocipipe::io
