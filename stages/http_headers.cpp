#include "stages/http_headers.h"

#include <charconv>

#include <nlohmann/json.hpp>

namespace ocipipe {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 7230 tchar: the characters of a token (header names, auth schemes, parameter names).
bool is_tchar(char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

// RFC 7235 token68 additionally allows '/' (and '=' padding at its end).
bool is_token68_char(char c) { return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'; }

// Host names and IP literals as they may appear in a URL's authority; anything else
// (backslashes, quotes, control bytes) would let a URL mean one host to us and another
// to libcurl.
bool is_host_char(char c) { return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '%'; }

int default_port(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

std::string host_for_url(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

// The scheme of `s` when it starts with one ("HTTPS://" → "https"), per RFC 3986 §3.1.
std::optional<std::string> scheme_of(std::string_view s) {
  if (s.empty() || !is_alpha(s[0])) return std::nullopt;
  std::size_t i = 1;
  while (i < s.size() && (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')) ++i;
  if (i >= s.size() || s[i] != ':') return std::nullopt;
  return lowercase(s.substr(0, i));
}

// RFC 3986 §5.2.4: "/a/b/../c/./d" → "/a/c/d".
std::string remove_dot_segments(std::string_view path) {
  std::string out;
  std::string_view in = path;
  while (!in.empty()) {
    if (in.starts_with("../")) {
      in.remove_prefix(3);
    } else if (in.starts_with("./")) {
      in.remove_prefix(2);
    } else if (in.starts_with("/./")) {
      in.remove_prefix(2);
    } else if (in == "/.") {
      in = "/";
    } else if (in.starts_with("/../") || in == "/..") {
      in = in.size() == 3 ? std::string_view("/") : in.substr(3);
      const auto slash = out.rfind('/');
      out.erase(slash == std::string::npos ? 0 : slash);
    } else if (in == "." || in == "..") {
      in = {};
    } else {
      const auto next = in.find('/', in.front() == '/' ? 1 : 0);
      const auto seg = next == std::string_view::npos ? in : in.substr(0, next);
      out.append(seg);
      in.remove_prefix(seg.size());
    }
  }
  return out;
}

void skip_ws(std::string_view s, std::size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
}

std::string_view read_token(std::string_view s, std::size_t& i) {
  const auto start = i;
  while (i < s.size() && is_tchar(s[i])) ++i;
  return s.substr(start, i - start);
}

// A quoted-string starting at s[i] == '"', backslash escapes undone.
result<std::string> read_quoted(std::string_view s, std::size_t& i) {
  std::string out;
  ++i;
  while (i < s.size()) {
    const char c = s[i++];
    if (c == '"') return out;
    if (c == '\\') {
      if (i >= s.size()) break;
      out.push_back(s[i++]);
    } else {
      out.push_back(c);
    }
  }
  return fail(errc::malformed, "unterminated quoted string");
}

}  // namespace

std::string url_parts::origin() const { return scheme + "://" + host_for_url(host) + ":" + std::to_string(port); }

result<url_parts> parse_url(std::string_view url) {
  const auto bad = [&](const std::string& why) { return fail(errc::invalid_argument, "url " + quote(url) + ": " + why); };
  for (const char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("control byte or space");
  const auto scheme = scheme_of(url);
  if (!scheme) return bad("not an absolute url");
  if (*scheme != "http" && *scheme != "https") return bad("scheme is not http or https");
  std::string_view rest = url.substr(scheme->size() + 1);
  if (!rest.starts_with("//")) return bad("no host");
  rest.remove_prefix(2);
  const auto auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view tail = auth_end == std::string_view::npos ? std::string_view() : rest.substr(auth_end);

  url_parts u;
  u.scheme = *scheme;
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    u.userinfo = std::string(authority.substr(0, at));
    // RFC 3986 userinfo characters only: a backslash or '@' here is read differently by other
    // parsers, which is how one URL comes to name two hosts.
    for (const char c : u.userinfo)
      if (!(is_alpha(c) || is_digit(c) || std::string_view("-._~%!$&'()*+,;=:").find(c) != std::string_view::npos))
        return bad("bad userinfo");
    authority.remove_prefix(at + 1);
  }
  std::string_view port_text;
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 literal");
    const auto literal = authority.substr(1, close - 1);
    for (const char c : literal)
      if (!(is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'f') || c == ':' || c == '.' || c == '%'))
        return bad("bad IPv6 literal");
    if (literal.find(':') == std::string_view::npos) return bad("bad IPv6 literal");
    u.host = lowercase(literal);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("bad authority");
      port_text = after.substr(1);
      if (port_text.empty()) return bad("empty port");
    }
  } else {
    const auto colon = authority.find(':');
    const auto host = authority.substr(0, colon);
    for (const char c : host)
      if (!is_host_char(c)) return bad("bad host name");
    u.host = lowercase(host);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return bad("empty port");
    }
  }
  if (u.host.empty()) return bad("no host");
  u.port = default_port(u.scheme);
  if (!port_text.empty()) {
    int port = 0;
    const auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || port < 1 || port > 65535 ||
        !is_digit(port_text[0]))
      return bad("bad port");
    u.port = port;
  }
  if (const auto hash = tail.find('#'); hash != std::string_view::npos) tail = tail.substr(0, hash);
  if (tail.empty()) {
    u.path_and_query = "/";
  } else if (tail[0] == '?') {
    u.path_and_query = "/" + std::string(tail);
  } else {
    u.path_and_query = std::string(tail);
  }
  return u;
}

result<std::string> resolve_url(std::string_view base, std::string_view target) {
  if (scheme_of(target)) {
    OCIPIPE_TRY(parse_url(target));
    return std::string(target);
  }
  OCIPIPE_ASSIGN_OR_RETURN(auto b, parse_url(base));
  std::string out;
  if (target.starts_with("//")) {
    out = b.scheme + ":" + std::string(target);
  } else {
    std::string prefix = b.scheme + "://" + host_for_url(b.host);
    if (b.port != default_port(b.scheme)) prefix += ":" + std::to_string(b.port);
    std::string path_and_query;
    if (target.starts_with("/")) {
      path_and_query = std::string(target);
    } else {
      const std::string_view base_pq = b.path_and_query;
      const auto base_path = base_pq.substr(0, base_pq.find('?'));
      if (target.empty()) {
        path_and_query = std::string(base_pq);
      } else if (target[0] == '?') {
        path_and_query = std::string(base_path) + std::string(target);
      } else if (target[0] == '#') {
        path_and_query = std::string(base_pq);
      } else {
        path_and_query = std::string(base_path.substr(0, base_path.rfind('/') + 1)) + std::string(target);
      }
    }
    const auto q = path_and_query.find_first_of("?#");
    const std::string path = remove_dot_segments(std::string_view(path_and_query).substr(0, q));
    out = prefix + (path.empty() ? "/" : path) + (q == std::string::npos ? "" : path_and_query.substr(q));
  }
  OCIPIPE_TRY(parse_url(out));
  return out;
}

result<std::vector<auth_challenge>> parse_www_authenticate(std::string_view value) {
  const auto bad = [&](const std::string& why) {
    return fail(errc::malformed, "WWW-Authenticate " + quote(value) + ": " + why);
  };
  const auto at_end_or_comma = [&](std::size_t k) {
    skip_ws(value, k);
    return k >= value.size() || value[k] == ',';
  };
  std::vector<auth_challenge> out;
  std::size_t i = 0;
  for (;;) {
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t' || value[i] == ',')) ++i;
    if (i >= value.size()) break;
    const auto scheme = read_token(value, i);
    if (scheme.empty()) return bad("expected an auth scheme at offset " + std::to_string(i));
    auth_challenge ch;
    ch.scheme = lowercase(scheme);
    skip_ws(value, i);
    // A token68 ("Negotiate abc==") right after the scheme: tolerated, not kept.
    {
      std::size_t j = i;
      while (j < value.size() && is_token68_char(value[j])) ++j;
      std::size_t w = j;
      while (w < value.size() && value[w] == '=') ++w;
      if (j > i && at_end_or_comma(w)) {
        i = w;
        skip_ws(value, i);
      }
    }
    bool first = true;
    for (;;) {
      skip_ws(value, i);
      if (i >= value.size()) break;
      if (value[i] == ',') {
        // A comma separates parameters and challenges alike: "name =" means a parameter.
        std::size_t j = i;
        while (j < value.size() && (value[j] == ' ' || value[j] == '\t' || value[j] == ',')) ++j;
        std::size_t k = j;
        const auto name = read_token(value, k);
        skip_ws(value, k);
        if (name.empty() || k >= value.size() || value[k] != '=') break;
        i = j;
      } else if (!first) {
        return bad("expected ',' at offset " + std::to_string(i));
      }
      first = false;
      const auto name = read_token(value, i);
      if (name.empty()) return bad("unexpected character at offset " + std::to_string(i));
      skip_ws(value, i);
      if (i >= value.size() || value[i] != '=') return bad("expected '=' after " + quote(name));
      ++i;
      skip_ws(value, i);
      std::string param;
      if (i < value.size() && value[i] == '"') {
        auto q = read_quoted(value, i);
        if (!q) return bad(q.error().message());
        param = std::move(*q);
      } else {
        const auto tok = read_token(value, i);
        if (tok.empty() && !at_end_or_comma(i)) return bad("bad value of " + quote(name));
        param = std::string(tok);
      }
      ch.params[lowercase(name)] = std::move(param);
    }
    out.push_back(std::move(ch));
  }
  if (out.empty()) return bad("no challenge");
  return out;
}

std::optional<std::string> link_next(std::string_view value) {
  std::size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t' || value[i] == ',')) ++i;
    if (i >= value.size() || value[i] != '<') return std::nullopt;
    const auto close = value.find('>', i);
    if (close == std::string_view::npos) return std::nullopt;
    const std::string target(value.substr(i + 1, close - i - 1));
    i = close + 1;
    bool next = false;
    // ; name=value parameters up to the next link's ','.
    for (;;) {
      skip_ws(value, i);
      if (i >= value.size() || value[i] != ';') break;
      ++i;
      skip_ws(value, i);
      const auto name = read_token(value, i);
      skip_ws(value, i);
      std::string param;
      if (i < value.size() && value[i] == '=') {
        ++i;
        skip_ws(value, i);
        if (i < value.size() && value[i] == '"') {
          auto q = read_quoted(value, i);
          if (!q) return std::nullopt;
          param = std::move(*q);
        } else {
          param = std::string(read_token(value, i));
        }
      }
      if (iequals(name, "rel")) {
        // rel may list several space-separated relation types.
        std::string_view rels = param;
        while (!rels.empty()) {
          const auto sp = rels.find(' ');
          if (iequals(rels.substr(0, sp), "next")) next = true;
          if (sp == std::string_view::npos) break;
          rels.remove_prefix(sp + 1);
        }
      }
    }
    if (next) return target;
    // Skip anything unexpected up to the next link.
    while (i < value.size() && value[i] != ',') ++i;
  }
  return std::nullopt;
}

result<std::uint64_t> parse_upload_range(std::string_view value) {
  const auto bad = [&] { return fail(errc::malformed, "upload Range " + quote(value) + ": expected \"0-END\""); };
  std::string_view v = value;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.size() >= 6 && iequals(v.substr(0, 6), "bytes=")) v.remove_prefix(6);
  const auto dash = v.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 >= v.size()) return bad();
  std::uint64_t first = 0, last = 0;
  const auto parse = [](std::string_view s, std::uint64_t& n) {
    if (s.empty() || !is_digit(s[0])) return false;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    return ec == std::errc() && p == s.data() + s.size();
  };
  // The client resumes at last + 1 of an upload that starts at 0: a range
  // from elsewhere, or an end whose successor is no blob offset (descriptor
  // sizes are int64), would resume at a wrong offset (UINT64_MAX + 1 is 0).
  if (!parse(v.substr(0, dash), first) || !parse(v.substr(dash + 1), last) || first != 0 ||
      last >= static_cast<std::uint64_t>(INT64_MAX))
    return bad();
  return last;
}

std::string content_media_type(std::string_view value) {
  auto v = value.substr(0, value.find(';'));
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return lowercase(v);
}

std::string url_encode(std::string_view value) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      const auto b = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(hex[b >> 4]);
      out.push_back(hex[b & 15]);
    }
  }
  return out;
}

std::vector<registry_error> parse_registry_errors(std::string_view body) {
  std::vector<registry_error> out;
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return out;
  auto it = doc.find("errors");
  if (it == doc.end() || !it->is_array()) return out;
  for (const auto& e : *it) {
    if (!e.is_object()) continue;
    registry_error one;
    if (auto c = e.find("code"); c != e.end() && c->is_string()) one.code = c->get<std::string>();
    if (auto m = e.find("message"); m != e.end() && m->is_string()) one.message = m->get<std::string>();
    if (one.code.empty() && one.message.empty()) continue;
    out.push_back(std::move(one));
  }
  return out;
}

std::string registry_error_text(std::string_view body) {
  std::string out;
  for (const auto& e : parse_registry_errors(body)) {
    if (!out.empty()) out += "; ";
    out += e.code;
    if (!e.message.empty()) out += (e.code.empty() ? "" : ": ") + e.message;
  }
  return out;
}

}  // namespace ocipipe
