#include "crypto/tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <thread>

#include "crypto/test_pki.h"

namespace ecert::crypto {
namespace {

using namespace std::chrono_literals;

// A listening socket on 127.0.0.1 with an ephemeral port.
struct Listener {
  int fd = -1;
  int port = 0;
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 4) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
  }
  ~Listener() {
    if (fd >= 0) ::close(fd);
  }
};

const Certificate& served_leaf() {
  static const Certificate cert = [] {
    auto c = testpki::hkpost_pki().issue_leaf(testpki::cached_key(1), "www.myserver.com");
    REQUIRE(c);
    return std::move(c).value();
  }();
  return cert;
}

// The test servers run on their own threads, outside the guard the client
// keeps; a client that hangs up first must not kill the test binary.
void block_sigpipe_on_this_thread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// Serves one TLS handshake with leaf + sub + cross, remembering the SNI.
std::string serve_once(int listen_fd) {
  block_sigpipe_on_this_thread();
  const auto& pki = testpki::hkpost_pki();
  ossl::SslCtx ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx || SSL_CTX_use_certificate(ctx.get(), served_leaf().get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx.get(), testpki::cached_key(1).get()) != 1 ||
      SSL_CTX_add1_chain_cert(ctx.get(), pki.sub.get()) != 1 ||
      SSL_CTX_add1_chain_cert(ctx.get(), pki.cross.get()) != 1) {
    return "server setup failed";
  }
  int conn = ::accept(listen_fd, nullptr, nullptr);
  if (conn < 0) return "accept failed";
  std::string sni = "(none)";
  ossl::Ssl ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), conn);
  if (SSL_accept(ssl.get()) == 1) {
    if (const char* name = SSL_get_servername(ssl.get(), TLSEXT_NAMETYPE_host_name)) sni = name;
    SSL_shutdown(ssl.get());
  } else {
    sni = "handshake failed";
  }
  ssl.reset();
  ::close(conn);
  return sni;
}

}  // namespace

TEST_CASE("fetch_served_chain returns what the server sent, leaf first") {
  Listener listener;
  std::string sni;
  std::thread server([&] { sni = serve_once(listener.fd); });
  auto served = fetch_served_chain("127.0.0.1", listener.port, "www.myserver.com", 5000ms);
  server.join();
  INFO(served.status().message());
  REQUIRE(served);
  CHECK(sni == "www.myserver.com");
  const auto& pki = testpki::hkpost_pki();
  REQUIRE(served->certificates.size() == 3);
  CHECK(served->certificates[0].der() == served_leaf().der());
  CHECK(served->certificates[1].der() == pki.sub.der());
  CHECK(served->certificates[2].der() == pki.cross.der());
  CHECK(served->protocol.rfind("TLSv1.", 0) == 0);
}

TEST_CASE("an IP literal as server name is not sent as SNI") {
  Listener listener;
  std::string sni;
  std::thread server([&] { sni = serve_once(listener.fd); });
  auto served = fetch_served_chain("localhost", listener.port, "127.0.0.1", 5000ms);
  server.join();
  // localhost may resolve to ::1 first; the listener is IPv4 only, so the
  // fallback to the next address is exercised too.
  INFO(served.status().message());
  REQUIRE(served);
  CHECK(sni == "(none)");
}

TEST_CASE("a bracketed IPv6 literal is accepted") {
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd, 4) != 0) {
    if (fd >= 0) ::close(fd);
    MESSAGE("no IPv6 loopback here; skipped");
    return;
  }
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const int port = ntohs(addr.sin6_port);
  std::string sni;
  std::thread server([&] { sni = serve_once(fd); });
  auto served = fetch_served_chain("[::1]", port, "www.myserver.com", 5000ms);
  server.join();
  ::close(fd);
  INFO(served.status().message());
  REQUIRE(served);
  CHECK(sni == "www.myserver.com");
  CHECK(served->certificates.size() == 3);
}

TEST_CASE("a closed port is an error naming host:port") {
  int port = 0;
  {
    Listener gone;
    port = gone.port;
  }
  auto served = fetch_served_chain("127.0.0.1", port, "www.myserver.com", 2000ms);
  REQUIRE_FALSE(served);
  CHECK(served.status().message() ==
        "cannot connect to 127.0.0.1:" + std::to_string(port) + ": Connection refused");
}

TEST_CASE("a server that never answers times out") {
  Listener silent;  // the kernel completes the connect; nobody speaks TLS
  auto start = std::chrono::steady_clock::now();
  auto served = fetch_served_chain("127.0.0.1", silent.port, "www.myserver.com", 300ms);
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(served);
  CHECK(served.status().code() == Status::Code::kTimeout);
  CHECK(served.status().message().find("127.0.0.1:" + std::to_string(silent.port)) !=
        std::string::npos);
  CHECK(took < 2s);
}

TEST_CASE("a server that is not TLS fails with OpenSSL's reason") {
  Listener listener;
  std::thread server([&] {
    block_sigpipe_on_this_thread();
    int conn = ::accept(listener.fd, nullptr, nullptr);
    if (conn < 0) return;
    char buf[512];
    (void)!::read(conn, buf, sizeof buf);
    const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    (void)!::write(conn, reply, sizeof reply - 1);
    ::close(conn);
  });
  auto served = fetch_served_chain("127.0.0.1", listener.port, "www.myserver.com", 5000ms);
  server.join();
  REQUIRE_FALSE(served);
  const std::string& msg = served.status().message();
  CHECK(msg.rfind("TLS handshake with 127.0.0.1:" + std::to_string(listener.port) + " failed: ",
                  0) == 0);
  CHECK(msg.find("wrong version number") != std::string::npos);
}

TEST_CASE("an unknown host is an error naming it") {
  auto served = fetch_served_chain("no-such-host.invalid", 443, "x.example.com", 2000ms);
  REQUIRE_FALSE(served);
  CHECK(served.status().message().rfind("cannot resolve no-such-host.invalid:443: ", 0) == 0);
}

}  // namespace ecert::crypto
