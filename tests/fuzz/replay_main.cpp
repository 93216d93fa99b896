// Replays fuzz inputs without libFuzzer: calls LLVMFuzzerTestOneInput once per
// file named on the command line, or per file in each directory named (not
// recursive), so the seed corpora and past crashes run as ordinary ctest tests
// in a gcc build. A target signals a finding by aborting, which fails the test.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

// The input being run, named when a target aborts: which corpus file to look at.
const char* current_input = "";

extern "C" void name_input_on_abort(int sig) {
  static const char prefix[] = "replay: finding on input ";
  (void)!::write(2, prefix, sizeof prefix - 1);
  (void)!::write(2, current_input, std::strlen(current_input));
  (void)!::write(2, "\n", 1);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

std::vector<std::uint8_t> read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg(argv[i]);
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      for (const auto& e : fs::directory_iterator(arg))
        if (e.is_regular_file()) files.push_back(e.path());
    } else if (fs::is_regular_file(arg, ec)) {
      files.push_back(arg);
    } else {
      std::fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
      return 2;
    }
  }
  // A corpus that went missing must not pass as "nothing crashed".
  if (files.empty()) {
    std::fprintf(stderr, "replay: no inputs\n");
    return 2;
  }
  std::sort(files.begin(), files.end());
  std::signal(SIGABRT, name_input_on_abort);
  std::signal(SIGSEGV, name_input_on_abort);
  for (const auto& f : files) {
    const auto bytes = read_all(f);
    const std::string name = f.string();
    current_input = name.c_str();
    // Like libFuzzer, never hand out a null pointer, even for an empty input.
    static const std::uint8_t empty = 0;
    LLVMFuzzerTestOneInput(bytes.empty() ? &empty : bytes.data(), bytes.size());
  }
  std::printf("replay: %zu inputs, no finding\n", files.size());
  return 0;
}
