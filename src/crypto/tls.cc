#include "crypto/tls.h"

#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ecert::crypto {
namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// OpenSSL writes to the socket with write(2); a peer that hangs up would
// kill the whole run with SIGPIPE. Block it on this thread for the duration
// and swallow any SIGPIPE raised meanwhile.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    blocked_ = pthread_sigmask(SIG_BLOCK, &pipe_set, &old_) == 0;
  }
  ~SigpipeGuard() {
    if (!blocked_) return;
    if (!was_pending_) {
      sigset_t pipe_set;
      sigemptyset(&pipe_set);
      sigaddset(&pipe_set, SIGPIPE);
      const struct timespec zero {};
      while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t old_{};
  bool blocked_ = false;
  bool was_pending_ = false;
};

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<long long>(left.count(), 1 << 30));
}

// Waits for `events` on fd; false when the deadline passed first.
Result<bool> wait_for(int fd, short events, Clock::time_point deadline, const std::string& peer) {
  for (;;) {
    int left = ms_left(deadline);
    if (left == 0) return false;
    struct pollfd pfd {fd, events, 0};
    int rc = ::poll(&pfd, 1, left);
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return Status::from_errno(errno, "cannot wait for", peer);
  }
}

Result<Fd> connect_any(const std::string& host, int port, Clock::time_point deadline,
                       const std::string& peer) {
  struct addrinfo hints {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  struct addrinfo* found = nullptr;
  // getaddrinfo cannot be bounded; for the addresses ecertctl is normally
  // given (an IP literal or localhost) it does not touch the network.
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) {
    return Status::not_found("cannot resolve " + peer + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<struct addrinfo, void (*)(struct addrinfo*)> addrs(found, ::freeaddrinfo);
  Status last = Status::io_error("cannot connect to " + peer + ": no address");
  for (const struct addrinfo* ai = addrs.get(); ai != nullptr; ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (fd.get() < 0) {
      last = Status::from_errno(errno, "cannot open a socket for", peer);
      continue;
    }
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) return fd;
    if (errno != EINPROGRESS) {
      last = Status::from_errno(errno, "cannot connect to", peer);
      continue;
    }
    auto ready = wait_for(fd.get(), POLLOUT, deadline, peer);
    if (!ready) return ready.status();
    if (!*ready) {
      return Status::timeout("cannot connect to " + peer + ": no answer within the timeout");
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) so_error = errno;
    if (so_error == 0) return fd;
    last = Status::from_errno(so_error, "cannot connect to", peer);
  }
  return last;
}

// SNI carries a host name; RFC 6066 forbids IP literals in it.
bool is_ip_literal(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

}  // namespace

Result<ServedChain> fetch_served_chain(const std::string& host_in, int port,
                                       const std::string& server_name,
                                       std::chrono::milliseconds timeout) {
  std::string host = host_in;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string peer =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  if (port <= 0 || port > 65535) return Status::invalid("cannot connect to " + peer + ": bad port");
  const auto deadline = Clock::now() + timeout;
  SigpipeGuard no_sigpipe;

  auto fd = connect_any(host, port, deadline, peer);
  if (!fd) return fd.status();

  ERR_clear_error();
  const std::string what = "TLS handshake with " + peer + " failed";
  ossl::SslCtx ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return ossl::error(what);
  // We compare the served certificates with the ones on disk ourselves; a
  // verification failure here would hide exactly what we want to see.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  ossl::Ssl ssl(SSL_new(ctx.get()));
  if (!ssl || SSL_set_fd(ssl.get(), fd->get()) != 1) return ossl::error(what);
  if (!server_name.empty() && !is_ip_literal(server_name) &&
      SSL_set_tlsext_host_name(ssl.get(), server_name.c_str()) != 1) {
    return ossl::error(what + " (server name '" + server_name + "')");
  }

  for (;;) {
    ERR_clear_error();
    int rc = SSL_connect(ssl.get());
    if (rc == 1) break;
    int err = SSL_get_error(ssl.get(), rc);
    short events = 0;
    if (err == SSL_ERROR_WANT_READ) {
      events = POLLIN;
    } else if (err == SSL_ERROR_WANT_WRITE) {
      events = POLLOUT;
    } else if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
      int saved = errno;
      if (saved == 0 || rc == 0) {
        return Status::io_error(what + ": the server closed the connection");
      }
      return Status::from_errno(saved, "TLS handshake failed with", peer);
    } else if (err == SSL_ERROR_ZERO_RETURN) {
      return Status::io_error(what + ": the server closed the connection");
    } else {
      return ossl::error(what);
    }
    auto ready = wait_for(fd->get(), events, deadline, peer);
    if (!ready) return ready.status();
    if (!*ready) {
      return Status::timeout(what + ": no handshake within " + std::to_string(timeout.count()) +
                             " ms");
    }
  }

  ServedChain served;
  served.protocol = SSL_get_version(ssl.get());
  // On the client side the peer chain starts with the leaf.
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl.get());
  for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
    X509* x = sk_X509_value(chain, i);
    X509_up_ref(x);
    served.certificates.push_back(Certificate::adopt(ossl::X509Ptr(x)));
  }
  // One close_notify, without waiting for the server's: we are done with it.
  SSL_shutdown(ssl.get());
  ERR_clear_error();
  if (served.certificates.empty()) {
    return Status::invalid(what + ": the server sent no certificate");
  }
  return served;
}

}  // namespace ecert::crypto
