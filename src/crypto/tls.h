// A TLS client handshake used to check what Apache serves.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "crypto/x509.h"

namespace ecert::crypto {

struct ServedChain {
  std::vector<Certificate> certificates;  // leaf first, as the server sent them
  std::string protocol;                   // e.g. "TLSv1.3"
};

// Connects to host:port (a name, IPv4 or [IPv6]), sends SNI `server_name`,
// completes a handshake without verifying, and returns the chain the server
// sent. Bounded by `timeout` for connect and handshake together.
Result<ServedChain> fetch_served_chain(const std::string& host, int port,
                                       const std::string& server_name,
                                       std::chrono::milliseconds timeout);

}  // namespace ecert::crypto
