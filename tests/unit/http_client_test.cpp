// io/http_client against a real server (tests/support/http_echo_server.py): headers,
// redirects that keep credentials on their origin (buglog B62, B64), streamed bodies in
// both directions, dropped and stalled connections, plain-http rules and TLS settings.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/http_client.h"
#include "tests/support/echo_server.h"
#include "tests/support/test_env.h"

namespace ocipipe::io {
namespace {

using nlohmann::json;
using ocipipe::testing::echo_server;

// The body /bytes serves: byte i is i*7 mod 251.
std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7) % 251);
  return s;
}

class HttpClient : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = echo_server::start().release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }

  static json echo_of(const http_response& r) { return json::parse(r.body, nullptr, false); }

  static echo_server* server_;
  http_client client_{tls_options{}, "ocipipe-test"};
};
echo_server* HttpClient::server_ = nullptr;

TEST_F(HttpClient, GetSendsHeadersAuthorizationAndUserAgent) {
  http_request req;
  req.url = server_->a("/echo");
  req.headers = {"Accept: application/vnd.oci.image.index.v1+json", "Range: bytes=0-9"};
  req.authorization = "Bearer abc";
  auto r = client_.send(req);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(header_value(r->headers, "content-type"), "application/json");
  const auto j = echo_of(*r);
  EXPECT_EQ(j["method"], "GET");
  EXPECT_EQ(j["headers"]["accept"], "application/vnd.oci.image.index.v1+json");
  EXPECT_EQ(j["headers"]["range"], "bytes=0-9");
  EXPECT_EQ(j["headers"]["authorization"], "Bearer abc");
  EXPECT_EQ(j["headers"]["user-agent"], "ocipipe-test");
  EXPECT_EQ(r->url, req.url);
}

TEST_F(HttpClient, SameOriginRedirectKeepsAuthorization) {
  http_request req;
  req.url = server_->a("/redirect?to=/echo&code=307");
  req.authorization = "Bearer same-origin";
  auto r = client_.send(req);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->url, server_->a("/echo"));
  EXPECT_EQ(echo_of(*r)["headers"]["authorization"], "Bearer same-origin");
}

// B64: a blob redirect to storage on another origin must not carry the registry's token.
TEST_F(HttpClient, CrossOriginRedirectDropsAuthorizationKeepsOtherHeaders) {
  http_request req;
  req.url = server_->a("/redirect?code=307&to=" + server_->b("/echo"));
  req.authorization = "Bearer secret-token";
  req.headers = {"Range: bytes=5-"};
  auto r = client_.send(req);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->url, server_->b("/echo"));
  const auto j = echo_of(*r);
  EXPECT_EQ(j["port"], server_->port_b());
  EXPECT_FALSE(j["headers"].contains("authorization")) << j.dump();
  EXPECT_EQ(j["headers"]["range"], "bytes=5-");
}

// Back to the original origin after a hop elsewhere: the credentials are its own again.
TEST_F(HttpClient, RedirectChainReturningToOriginSendsAuthorizationOnlyThere) {
  http_request req;
  const std::string back = server_->a("/echo");
  req.url = server_->a("/redirect?to=" + server_->b("/redirect?to=" + back));
  req.authorization = "Basic x";
  auto r = client_.send(req);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(echo_of(*r)["headers"]["authorization"], "Basic x");
  auto log = client_.send(http_request{.url = server_->a("/log")});
  ASSERT_TRUE(log);
  const auto entries = json::parse(log->body);
  bool saw_b = false;
  for (const auto& e : entries)
    if (e["port"] == server_->port_b() && e["path"] == "/redirect") {
      saw_b = true;
      EXPECT_EQ(e["authorization"], "") << "credentials reached the other origin";
    }
  EXPECT_TRUE(saw_b);
}

TEST_F(HttpClient, SeeOtherTurnsPostIntoGet) {
  http_request req;
  req.method = "POST";
  req.url = server_->a("/redirect?code=303&to=/echo");
  auto r = client_.send(req);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(echo_of(*r)["method"], "GET");
}

TEST_F(HttpClient, RedirectOfRequestWithBodyIsUnsupported) {
  http_request req;
  req.method = "PUT";
  req.url = server_->a("/redirect?code=307&to=/echo");
  req.body = std::string("{}");
  auto r = client_.send(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unsupported) << r.error().message();
}

TEST_F(HttpClient, RedirectLoopStopsAfterFiveHops) {
  auto r = client_.send(http_request{.url = server_->a("/loop")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unsupported) << r.error().message();
}

TEST_F(HttpClient, RedirectNotFollowedWhenAsked) {
  http_request req;
  req.url = server_->a("/redirect?to=/echo");
  req.follow_redirects = false;
  auto r = client_.send(req);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(header_value(r->headers, "location"), "/echo");
}

TEST_F(HttpClient, ErrorStatusIsAResponseNotAnError) {
  auto r = client_.send(http_request{.url = server_->a("/status?code=503")});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "status body");
}

TEST_F(HttpClient, HeadGivesContentLengthAndNoBody) {
  http_request req;
  req.method = "HEAD";
  req.url = server_->a("/bytes?size=12345");
  auto s = client_.open(req);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ((*s)->status(), 200);
  EXPECT_EQ((*s)->content_length(), 12345u);
  auto chunk = (*s)->next();
  ASSERT_TRUE(chunk) << chunk.error().message();
  EXPECT_TRUE(chunk->empty());
}

TEST_F(HttpClient, StreamsALargeSlowBodyInBoundedChunks) {
  const std::size_t size = 6'000'000;
  auto s = client_.open(http_request{.url = server_->a("/bytes?size=6000000&chunk=200000&delay=0.002")});
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ((*s)->content_length(), size);
  std::string got;
  std::size_t chunks = 0;
  for (;;) {
    auto chunk = (*s)->next();
    ASSERT_TRUE(chunk) << chunk.error().message();
    if (chunk->empty()) break;
    EXPECT_LE(chunk->size(), std::size_t{4} << 20);
    got.append(reinterpret_cast<const char*>(chunk->data()), chunk->size());
    ++chunks;
  }
  EXPECT_GT(chunks, 1u);
  ASSERT_EQ(got.size(), size);
  EXPECT_TRUE(got == pattern(size));
  // End of stream stays the end.
  auto again = (*s)->next();
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
}

// A consumer slower than the network: the stream pauses instead of buffering everything.
TEST_F(HttpClient, SlowConsumerStillGetsEveryByte) {
  const std::size_t size = 12'000'000;
  auto s = client_.open(http_request{.url = server_->a("/bytes?size=12000000&chunk=1000000")});
  ASSERT_TRUE(s) << s.error().message();
  std::size_t total = 0;
  std::string expect = pattern(size);
  for (int i = 0;; ++i) {
    if (i == 1) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto chunk = (*s)->next();
    ASSERT_TRUE(chunk) << chunk.error().message();
    if (chunk->empty()) break;
    EXPECT_LE(chunk->size(), std::size_t{4} << 20);
    ASSERT_EQ(std::string_view(reinterpret_cast<const char*>(chunk->data()), chunk->size()),
              std::string_view(expect).substr(total, chunk->size()));
    total += chunk->size();
  }
  EXPECT_EQ(total, size);
}

TEST_F(HttpClient, ConnectionDroppedMidBodyIsUnavailable) {
  auto s = client_.open(http_request{.url = server_->a("/drop?size=100000&after=5000")});
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ((*s)->status(), 200);
  std::size_t total = 0;
  for (;;) {
    auto chunk = (*s)->next();
    if (!chunk) {
      EXPECT_EQ(chunk.error().code(), errc::unavailable) << chunk.error().message();
      break;
    }
    ASSERT_FALSE(chunk->empty()) << "a cut body must not look complete";
    total += chunk->size();
  }
  EXPECT_EQ(total, 5000u);
}

TEST_F(HttpClient, StalledBodyIsUnavailableAfterStallSeconds) {
  http_request req;
  req.url = server_->a("/stall?size=1000&after=10&sleep=4");
  req.stall_seconds = 1;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = client_.send(req);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unavailable) << r.error().message();
  EXPECT_LT(took, std::chrono::milliseconds(3500));
}

TEST_F(HttpClient, SendRefusesBodyOverLimit) {
  auto r = client_.send(http_request{.url = server_->a("/bytes?size=5000")}, 1000);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::resource_exhausted) << r.error().message();
}

TEST_F(HttpClient, UploadsStreamedBodyWithEachMethod) {
  const std::string data = pattern(3'000'000);
  for (const char* method : {"PUT", "PATCH", "POST"}) {
    SCOPED_TRACE(method);
    memory_source src(byte_view(reinterpret_cast<const std::byte*>(data.data()), data.size()), 65536);
    http_request req;
    req.method = method;
    req.url = server_->a("/echo");
    req.headers = {"Content-Type: application/octet-stream"};
    req.body_source = &src;
    req.body_length = data.size();
    auto r = client_.send(req);
    ASSERT_TRUE(r) << r.error().message();
    const auto j = echo_of(*r);
    EXPECT_EQ(j["method"], method);
    EXPECT_EQ(j["body_length"], data.size());
    EXPECT_EQ(j["headers"]["content-length"], std::to_string(data.size()));
    EXPECT_EQ(j["headers"]["content-type"], "application/octet-stream");
    EXPECT_FALSE(j["headers"].contains("expect"));
  }
}

TEST_F(HttpClient, InMemoryBodyAndEmptyBodies) {
  http_request put;
  put.method = "PUT";
  put.url = server_->a("/echo");
  put.body = std::string("{\"a\":1}");
  auto r = client_.send(put);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(echo_of(*r)["body_length"], 7);
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    SCOPED_TRACE(method);
    http_request req;
    req.method = method;
    req.url = server_->a("/echo");
    auto e = client_.send(req);
    ASSERT_TRUE(e) << e.error().message();
    EXPECT_EQ(echo_of(*e)["method"], method);
    EXPECT_EQ(echo_of(*e)["body_length"], 0);
  }
}

TEST_F(HttpClient, StreamedBodyShorterThanItsLengthIsASizeMismatch) {
  const std::string data(1000, 'x');
  memory_source src(byte_view(reinterpret_cast<const std::byte*>(data.data()), data.size()));
  http_request req;
  req.method = "PUT";
  req.url = server_->a("/echo");
  req.body_source = &src;
  req.body_length = 2000;
  auto r = client_.send(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::size_mismatch) << r.error().message();
}

TEST_F(HttpClient, StreamedBodyLongerThanItsLengthIsASizeMismatch) {
  const std::string data(3000, 'x');
  memory_source src(byte_view(reinterpret_cast<const std::byte*>(data.data()), data.size()), 1000);
  http_request req;
  req.method = "PUT";
  req.url = server_->a("/echo");
  req.body_source = &src;
  req.body_length = 2000;
  auto r = client_.send(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::size_mismatch) << r.error().message();
}

TEST_F(HttpClient, ManyThreadsAtOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto r = client_.send(http_request{.url = server_->a("/bytes?size=100000")});
        if (r && r->status == 200 && r->body.size() == 100000) ++ok;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 80);
}

TEST_F(HttpClient, RefusedConnectionIsUnavailable) {
  // A port nobody listens on: bind one, then close it.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  auto r = client_.send(http_request{.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unavailable) << r.error().message();
}

TEST_F(HttpClient, StreamOutlivesItsClient) {
  std::unique_ptr<http_stream> s;
  {
    http_client c(tls_options{});
    auto o = c.open(http_request{.url = server_->a("/bytes?size=300000")});
    ASSERT_TRUE(o) << o.error().message();
    s = std::move(*o);
  }
  std::size_t total = 0;
  for (;;) {
    auto chunk = s->next();
    ASSERT_TRUE(chunk) << chunk.error().message();
    if (chunk->empty()) break;
    total += chunk->size();
  }
  EXPECT_EQ(total, 300000u);
}

TEST(HttpClientRules, PlainHttpOnlyToLoopbackUnlessVerifyIsOff) {
  const tls_options verify{};
  tls_options no_verify;
  no_verify.verify = false;
  for (const char* host : {"localhost", "LocalHost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"})
    EXPECT_TRUE(plain_http_allowed(host, verify)) << host;
  for (const char* host : {"example.com", "10.0.0.1", "128.0.0.1", "localhost.example.com", "::2", "169.254.169.254"})
    EXPECT_FALSE(plain_http_allowed(host, verify)) << host;
  EXPECT_TRUE(plain_http_allowed("example.com", no_verify));
}

TEST(HttpClientRules, PlainHttpToRemoteHostIsRefusedBeforeConnecting) {
  http_client c(tls_options{});
  auto r = c.send(http_request{.url = "http://registry.example/v2/"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument) << r.error().message();
  auto ftp = c.send(http_request{.url = "ftp://127.0.0.1/x"});
  ASSERT_FALSE(ftp);
  EXPECT_EQ(ftp.error().code(), errc::invalid_argument);
}

TEST(HttpClientRules, HeaderValueIsTheFirstOfRepeatedValues) {
  http_headers h{{"www-authenticate", "Bearer a"}, {"www-authenticate", "Basic b"}};
  EXPECT_EQ(header_value(h, "www-authenticate"), "Bearer a");
  EXPECT_EQ(header_value(h, "location"), "");
}

// ---- TLS: a self-signed certificate made by openssl in the test ----

class HttpClientTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ocipipe::testing::temp_dir("ocipipe-tls");
    certs_ = dir_->sub("certs.d");
    ::mkdir(certs_.c_str(), 0755);
    const auto gen = ocipipe::testing::run_command(
        {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", dir_->sub("key.pem"), "-out", dir_->sub("cert.pem"), "-days", "2", "-subj",
         "/CN=ocipipe-test", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"});
    if (!gen.ok()) {
      ADD_FAILURE() << "openssl: " << gen.describe();
      return;
    }
    server_ = echo_server::start({"--tls", dir_->sub("cert.pem"), dir_->sub("key.pem"), "--client-ca",
                                  dir_->sub("cert.pem")})
                  .release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }

  static ocipipe::testing::temp_dir* dir_;
  static std::string certs_;
  static echo_server* server_;
};
ocipipe::testing::temp_dir* HttpClientTls::dir_ = nullptr;
std::string HttpClientTls::certs_;
echo_server* HttpClientTls::server_ = nullptr;

TEST_F(HttpClientTls, UntrustedCertificateIsRefusedAndNotRetryable) {
  http_client c(tls_options{});
  auto r = c.send(http_request{.url = server_->a("/echo")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unauthenticated) << r.error().message();
}

TEST_F(HttpClientTls, CertDirAddsCaRoots) {
  const std::string dir = dir_->sub("ca-only");
  ::mkdir(dir.c_str(), 0755);
  ocipipe::testing::write_bytes(dir + "/ca.crt", ocipipe::testing::read_bytes(dir_->sub("cert.pem")));
  http_client c(tls_options{.verify = true, .cert_dir = dir});
  auto r = c.send(http_request{.url = server_->a("/echo")});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["client_cn"], "");
}

TEST_F(HttpClientTls, CertDirClientCertificateIsPresented) {
  const std::string dir = dir_->sub("with-client");
  ::mkdir(dir.c_str(), 0755);
  const auto cert = ocipipe::testing::read_bytes(dir_->sub("cert.pem"));
  ocipipe::testing::write_bytes(dir + "/ca.crt", cert);
  ocipipe::testing::write_bytes(dir + "/client.cert", cert);
  ocipipe::testing::write_bytes(dir + "/client.key", ocipipe::testing::read_bytes(dir_->sub("key.pem")));
  http_client c(tls_options{.verify = true, .cert_dir = dir});
  auto r = c.send(http_request{.url = server_->a("/echo")});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(json::parse(r->body)["client_cn"], "ocipipe-test");
}

TEST_F(HttpClientTls, VerifyFalseAcceptsAnyCertificate) {
  http_client c(tls_options{.verify = false});
  auto r = c.send(http_request{.url = server_->a("/echo")});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpClientTls, MissingCertDirIsReported) {
  http_client c(tls_options{.verify = true, .cert_dir = dir_->sub("no-such-dir")});
  auto r = c.send(http_request{.url = server_->a("/echo")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::not_found) << r.error().message();
}

}  // namespace
}  // namespace ocipipe::io
