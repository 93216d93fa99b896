#include "tests/support/report_text.h"

namespace ocipipe::testing {

std::string describe(const image_validation& v) {
  std::string s;
  if (v.failure) s += "failure: " + v.failure->message() + "\n";
  for (const auto& f : v.findings)
    s += (f.error ? "error " : "warning ") + f.rule + " at " + f.location + ": " + f.message + "\n";
  return s.empty() ? "no findings" : s;
}

}  // namespace ocipipe::testing
