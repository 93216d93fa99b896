#include "tests/support/report_text.h"

#include <sstream>

namespace ocipipe::testing {

std::string describe(const image_validation& v) {
  std::string s;
  if (v.failure) s += "failure: " + v.failure->message() + "\n";
  for (const auto& f : v.findings)
    s += (f.error ? "error " : "warning ") + f.rule + " at " + f.location + ": " + f.message + "\n";
  return s.empty() ? "no findings" : s;
}

std::string describe(const std::vector<diagnostic>& findings) {
  std::ostringstream os;
  for (const auto& d : findings)
    os << "  " << severity_name(d.level) << " " << d.rule << " at \"" << d.json_path
       << "\": " << d.message << "\n";
  return findings.empty() ? "  (no findings)\n" : os.str();
}

}  // namespace ocipipe::testing
